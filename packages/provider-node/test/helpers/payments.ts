// The setup the payment tests share: one chain and one fake coordinator per
// file, and for each test a chain put back to how it was before the first
// test and a fresh provider (own data dir, own journal, registered and
// staked anew). So every test starts from the same state and earns only what
// it earns itself: any one runs alone or in any order.
import type { JobSpec } from "@rendermesh/shared";
import { afterAll, afterEach, beforeAll, beforeEach, expect } from "vitest";
import { FakeCoordinator, MESH, type TestChain } from "@rendermesh/testing";
import { runCli } from "../../src/cli.js";
import type { Provider } from "../../src/provider.js";
import { MODEL_ID, startChain, startTestProvider, tempDir } from "./provider.js";

/** What the provider is paid for one second at 1 MESH: less the 5 % coordinator and 1 % treasury fees. */
export const NET = MESH - MESH / 20n - MESH / 100n;

/** A two-second job at 4 fps; `seed` tells the jobs of one test apart. */
export function paymentSpec(seed: number): JobSpec {
  return { v: 1, model: MODEL_ID, prompt: "rain on a tin roof", seed, seconds: 2, fps: 4, width: 64, height: 64 };
}

export interface PaymentRig {
  readonly chain: TestChain;
  readonly coordinator: FakeCoordinator;
  /** This test's provider: payment passes run only when the test calls `provider.payments.tick()`. */
  readonly provider: Provider;
  /** The provider's dialable address with its peer id. */
  readonly target: string;
  readonly dataDir: string;
  /**
   * Renders every segment of the job on the provider through the coordinator; each must be delivered. The
   * assignments' deadline is `assignmentDeadline` (chain time), else the fake coordinator's wall clock + 600 s.
   */
  renderAll(jobId: `0x${string}`, spec: JobSpec, assignmentDeadline?: number): Promise<void>;
  /** The client's voucher for `seconds` of the job, sent to the provider; resolves to its reply. */
  sendVoucher(jobId: `0x${string}`, seconds: number): ReturnType<FakeCoordinator["sendVoucher"]>;
  /** Runs the provider CLI against this test's chain and data dir as the provider. */
  cli(...argv: string[]): Promise<{ code: number; out: string; err: string }>;
}

/** Provider payment settings the rigs use: vouchers are redeemed 10 min before the deadline, never for quiet. */
const PAYMENT_CONFIG = { redeemBeforeDeadlineSeconds: 600, redeemAfterQuietSeconds: 86_400 };

/**
 * Registers the hooks that give each test of the calling file a fresh `PaymentRig`; read its fields inside a test.
 */
export function usePaymentRig(): PaymentRig {
  let chain: TestChain | undefined;
  let coordinator: FakeCoordinator | undefined;
  let restore: (() => Promise<void>) | undefined;
  let current: { provider: Provider; target: string; dataDir: string; cleanup: () => void } | undefined;
  const fileCleanups: Array<() => void> = [];

  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is only there inside a test of a file that calls usePaymentRig()`);
    return v;
  };

  beforeAll(async () => {
    chain = await startChain({ disputeWindow: 60n, claimWindow: 600n });
    const c = tempDir("rm-coord-");
    fileCleanups.push(c.cleanup);
    coordinator = await new FakeCoordinator(chain, { dataDir: c.dir }).start();
    restore = await chain.snapshot();
  }, 240_000);

  beforeEach(async () => {
    const ch = need(chain, "the chain");
    await need(restore, "the chain snapshot")();
    restore = await ch.snapshot();
    const data = tempDir();
    const provider = await startTestProvider(ch, ch.providers[2]!, data.dir, PAYMENT_CONFIG);
    current = {
      provider,
      target: `${provider.multiaddrs()[0]!}/p2p/${provider.peerId}`.replace(/\/p2p\/[^/]+\/p2p\//, "/p2p/"),
      dataDir: data.dir,
      cleanup: data.cleanup,
    };
    // The test runs each payment pass itself (tick), so none runs on the schedule meanwhile.
    await provider.payments.stop();
  }, 120_000);

  afterEach(async () => {
    const c = current;
    current = undefined;
    await c?.provider.stop();
    c?.cleanup();
  }, 60_000);

  afterAll(async () => {
    await coordinator?.stop();
    await chain?.stop();
    for (const c of fileCleanups) c();
  }, 60_000);

  const rig: PaymentRig = {
    get chain() {
      return need(chain, "the chain");
    },
    get coordinator() {
      return need(coordinator, "the coordinator");
    },
    get provider() {
      return need(current, "the provider").provider;
    },
    get target() {
      return need(current, "the provider").target;
    },
    get dataDir() {
      return need(current, "the provider").dataDir;
    },
    async renderAll(jobId, spec, assignmentDeadline) {
      for (let segment = 0; segment < spec.seconds; segment++) {
        const over = assignmentDeadline === undefined ? {} : { deadline: assignmentDeadline };
        const request = await rig.coordinator.signedRequest(jobId, spec, segment, rig.provider.address, over);
        const replies = await rig.coordinator.render(rig.target, request);
        expect(replies[replies.length - 1]!.type).toBe("delivered");
      }
    },
    async sendVoucher(jobId, seconds) {
      const voucher = { jobId, provider: rig.provider.address, seconds };
      return rig.coordinator.sendVoucher(rig.target, {
        type: "voucher",
        chainId: rig.chain.chainId,
        escrow: rig.chain.deployment.escrow,
        voucher,
        signature: await rig.chain.signVoucher(voucher),
      });
    },
    async cli(...argv) {
      const out: string[] = [];
      const err: string[] = [];
      const ch = rig.chain;
      const code = await runCli([...argv, "--rpc-url", ch.rpcUrl, "--deployment", ch.deploymentFile, "--data-dir", rig.dataDir], {
        out: (t) => out.push(t),
        err: (t) => err.push(t),
        env: { RENDERMESH_PRIVATE_KEY: ch.providers[2]!.privateKey, RENDERMESH_LOG_LEVEL: "warn" },
      });
      return { code, out: out.join("\n"), err: err.join("\n") };
    },
  };
  return rig;
}
