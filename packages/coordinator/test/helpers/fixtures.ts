import { join } from "node:path";
import { tempDir as makeTempDir, type TempDir } from "@rendermesh/testing";
import type { JobSpec, SignedAssignment, SignedDelivery } from "@rendermesh/shared";
import { CoordinatorStore, type NewJob, type StoreInit } from "../../src/store/index.js";

export const MODEL = `0x${"ab".repeat(32)}` as const;
export const JOB_ID = `0x${"11".repeat(32)}` as const;
const SIG = `0x${"00".repeat(65)}` as `0x${string}`;
export const P1 = `0x${"01".repeat(20)}`;
export const P2 = `0x${"02".repeat(20)}`;
export const P3 = `0x${"03".repeat(20)}`;

export function spec(over: Partial<JobSpec> = {}): JobSpec {
  return { v: 1, model: MODEL, prompt: "a red sunrise over the sea", seed: 42, seconds: 4, fps: 4, width: 32, height: 32, ...over };
}

export function newJob(over: Partial<NewJob> = {}): NewJob {
  const s = over.spec ?? spec();
  return {
    jobId: JOB_ID,
    chainId: 31337,
    escrow: `0x${"ee".repeat(20)}`,
    client: `0x${"cc".repeat(20)}`,
    clientPeer: "12D3KooWclient",
    spec: s,
    specHash: `0x${"99".repeat(32)}`,
    pricePerSecond: 1000n,
    deadline: 2_000_000_000,
    policyVersion: 1n,
    openedBlock: 1,
    ...over,
  };
}

export function assignment(jobId: string, segment: number, provider: string): SignedAssignment {
  return {
    assignment: {
      jobId: jobId as `0x${string}`,
      segment,
      firstFrame: segment * 4,
      frameCount: 4,
      provider: provider as `0x${string}`,
      deadline: 2_000_000_000,
    },
    signature: SIG,
  };
}

export function delivery(jobId: string, segment: number, cidSuffix = "a"): SignedDelivery {
  return {
    delivery: {
      jobId: jobId as `0x${string}`,
      segment,
      cid: `bafkreigh2akiscaildc${cidSuffix.repeat(20)}`,
      sha256: `0x${"5a".repeat(32)}` as `0x${string}`,
      frameCount: 4,
    },
    signature: SIG,
  };
}

export function tempDir(prefix = "rm-coord-"): TempDir {
  return makeTempDir(prefix);
}

export function openStore(init: StoreInit = {}): { store: CoordinatorStore; path: string; cleanup: () => void } {
  const t = tempDir();
  const path = join(t.dir, "coordinator.db");
  const store = CoordinatorStore.open(path, init);
  return {
    store,
    path,
    cleanup: () => {
      store.close();
      t.cleanup();
    },
  };
}

export function addProvider(store: CoordinatorStore, address: string, peerId = `peer-${address.slice(2, 6)}`): void {
  store.upsertProvider({
    address,
    peerId,
    ask: 100n,
    models: [MODEL],
    capacity: 2,
    benchmarkFps: 100,
    device: "cpu",
    agent: "test",
    multiaddrs: [],
    lastSeen: Date.now(),
  });
}
