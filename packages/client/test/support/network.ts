import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Wallet } from "ethers";
import { Coordinator, CoordinatorConfig, EthersChain } from "@rendermesh/coordinator";
import type { DevNetwork } from "@rendermesh/shared";
import { createRendermeshClient, type RendermeshClient, type RendermeshClientConfig } from "../../src/client.js";
import { account, registerProvider, type TestChain } from "./chain.js";
import { tempDir as makeTempDir, TestProvider, type PipelineHold, type ProviderMode, type TempDir } from "@rendermesh/testing";

/** Reference work of the test network: asks are per second of 32x32 at 4 fps. */
export const REFERENCE = { width: 32, height: 32, fps: 4 };

export function tempDir(prefix = "rm-client-test-"): TempDir {
  return makeTempDir(prefix);
}

/** Stop functions, run in reverse order by `stopAll`. */
export class Stack {
  private readonly stops: Array<() => unknown> = [];
  push(stop: () => unknown): void {
    this.stops.push(stop);
  }
  async stopAll(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await Promise.resolve(stop()).catch(() => undefined);
  }
}

/** The real coordinator, in-process, signing with Hardhat account 1. */
export async function startCoordinator(chain: TestChain, stack: Stack): Promise<Coordinator> {
  const dir = tempDir("rm-coordinator-");
  const config = CoordinatorConfig.parse({
    dataDir: dir.dir,
    httpPort: 0,
    heartbeatIntervalMs: 1000,
    referenceWidth: REFERENCE.width,
    referenceHeight: REFERENCE.height,
    referenceFps: REFERENCE.fps,
    logLevel: "silent",
    segmentGraceSeconds: 10,
  });
  const ethersChain = new EthersChain({
    rpcUrl: chain.rpcUrl,
    deployment: chain.deployment,
    signer: new Wallet(account(1).privateKey),
    pollingIntervalMs: 200,
  });
  const c = new Coordinator(config, { chain: ethersChain, supervisor: { tickMs: 100, graceMs: 10_000, resumeGraceMs: 5_000 } });
  await c.start();
  stack.push(() => dir.cleanup());
  stack.push(() => c.stop());
  return c;
}

/** Providers use accounts from 100 up (funded with ETH on registration), clients Hardhat's funded 9–19. */
let nextAccount = 100;

/** A registered, staked test provider announcing to `coordinator` (unless `announce` is false). */
export async function startProvider(
  chain: TestChain,
  stack: Stack,
  opts: { mode?: ProviderMode; ask: bigint; coordinator?: Coordinator; capacity?: number; hold?: PipelineHold; dropVoucherAcks?: number },
): Promise<TestProvider> {
  const wallet = account(nextAccount++);
  const p = new TestProvider({
    wallet,
    chainId: chain.chainId,
    escrow: chain.deployment.escrow,
    model: chain.model,
    askPerSecond: opts.ask,
    mode: opts.mode,
    capacity: opts.capacity,
    hold: opts.hold,
    dropVoucherAcks: opts.dropVoucherAcks,
  });
  await p.start();
  stack.push(() => p.stop());
  await registerProvider(chain, wallet, p.node.peerId, opts.ask);
  if (opts.coordinator) {
    const answer = await p.announceTo(opts.coordinator.multiaddrs[0]!);
    if (answer.type === "error") throw new Error(`announce refused: ${answer.code} ${answer.message}`);
  }
  return p;
}

/** An SDK client for `wallet` with its own data dir, talking to `coordinator`. */
export async function startClient(
  chain: TestChain,
  stack: Stack,
  wallet: Wallet,
  coordinator: Coordinator,
  over: Partial<RendermeshClientConfig> = {},
): Promise<RendermeshClient> {
  const dir = tempDir("rm-client-");
  const client = await createRendermeshClient({
    wallet: wallet.connect(chain.provider),
    deployment: chain.deployment,
    dataDir: join(dir.dir, "data"),
    outDir: join(dir.dir, "out"),
    coordinator: coordinator.multiaddrs,
    // Generous: an honest provider's segment must never miss it on a loaded
    // machine. A test of a CID nobody serves shortens it (nothing can arrive).
    verifier: { fetchTimeoutMs: 60_000, fetchAttempts: 2, fetchBackoffMs: 100 },
    ...over,
  });
  stack.push(() => dir.cleanup());
  stack.push(() => client.close());
  return client;
}

/** A `.rendermesh/dev.json` for the test network, so the CLI needs no flags. */
export function writeDevFile(
  chain: Pick<TestChain, "rpcUrl" | "chainId" | "deploymentFile">,
  coordinator: Coordinator,
  client: Wallet,
  dir: string,
): string {
  const key = (w: Wallet) => ({ address: w.address, privateKey: w.privateKey });
  const dev: DevNetwork = {
    rpcUrl: chain.rpcUrl,
    chainId: chain.chainId,
    deploymentFile: chain.deploymentFile,
    coordinator: {
      address: coordinator.address,
      peerId: coordinator.peerId,
      multiaddrs: coordinator.multiaddrs,
      httpUrl: coordinator.httpUrl ?? "",
      dataDir: dir,
    },
    providers: [],
    accounts: { deployer: key(account(0)), client: key(client), coordinator: key(account(1)), providers: [], dao: [] },
    startedAt: new Date().toISOString(),
  };
  const path = join(dir, "dev.json");
  writeFileSync(path, JSON.stringify(dev, null, 2));
  return path;
}
