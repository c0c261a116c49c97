// Helpers for the hostile-peer suite: a coordinator with a real Hardhat chain
// and real libp2p on loopback, honest test providers, and attackers that are
// just more libp2p nodes.
import { Wallet } from "ethers";
import { Writable } from "node:stream";
import { createLogger, PROTOCOLS, QuoteResponse, type JobSpec, type Logger } from "@rendermesh/shared";
import { createMeshNode, request, type MeshNode } from "@rendermesh/shared/net";
import { Coordinator } from "../../packages/coordinator/src/coordinator.ts";
import { CoordinatorConfig } from "../../packages/coordinator/src/config.ts";
import { EthersChain } from "../../packages/coordinator/src/chain/ethers-chain.ts";
import { account, registerProvider, type TestChain } from "../../packages/coordinator/test/helpers/chain.ts";
import { tempDir } from "../../packages/coordinator/test/helpers/fixtures.ts";
import { TestProvider } from "@rendermesh/testing";

export const MODEL = `0x${"ab".repeat(32)}`;
const MESH = 10n ** 18n;
const ASK = MESH / 1000n;
export const PRICE = (2n * MESH) / 1000n;

export function spec(over: Partial<JobSpec> = {}): JobSpec {
  return {
    v: 1,
    model: MODEL as `0x${string}`,
    prompt: "a red sunrise over the sea",
    seed: 7,
    seconds: 4,
    fps: 4,
    width: 32,
    height: 32,
    ...over,
  };
}

const QUOTE = { type: "quote", spec: { model: MODEL, seconds: 1, fps: 4, width: 32, height: 32 } } as const;

/** Everything a test started, stopped in reverse order. */
export class Stack {
  private readonly stops: Array<() => Promise<unknown> | unknown> = [];
  private nextProvider = 2;
  constructor(readonly chain: TestChain) {}

  push(stop: () => Promise<unknown> | unknown): void {
    this.stops.push(stop);
  }

  async stopAll(): Promise<void> {
    for (const stop of this.stops.splice(0).reverse()) await stop();
  }

  async coordinator(over: Record<string, unknown> = {}, livenessMs?: number, log?: Logger): Promise<Coordinator> {
    const dir = tempDir("rm-hostile-");
    const config = CoordinatorConfig.parse({
      dataDir: dir.dir,
      httpPort: 0,
      heartbeatIntervalMs: 1000,
      referenceWidth: 32,
      referenceHeight: 32,
      referenceFps: 4,
      logLevel: "silent",
      segmentGraceSeconds: 3,
      ...over,
    });
    const chain = new EthersChain({
      rpcUrl: this.chain.rpcUrl,
      deployment: this.chain.deployment,
      signer: new Wallet(account(1).privateKey),
      pollingIntervalMs: 200,
    });
    const c = new Coordinator(config, {
      chain,
      supervisor: { tickMs: 100, graceMs: 3000, resumeGraceMs: 3000 },
      ...(livenessMs ? { livenessMs } : {}),
      ...(log ? { log } : {}),
    });
    await c.start();
    this.push(() => dir.cleanup());
    this.push(() => c.stop());
    return c;
  }

  async provider(coordinatorAddr: string, over: Partial<ConstructorParameters<typeof TestProvider>[0]> = {}): Promise<TestProvider> {
    const wallet = new Wallet(account(this.nextProvider++).privateKey);
    const p = new TestProvider({
      wallet,
      chainId: this.chain.deployment.chainId,
      escrow: this.chain.deployment.escrow,
      model: MODEL,
      askPerSecond: ASK,
      render: "stub",
      msPerFrame: 20,
      ...over,
    });
    await p.start();
    this.push(() => p.stop());
    await registerProvider(this.chain, wallet, p.node.peerId, ASK);
    await p.announceTo(coordinatorAddr, 1000);
    return p;
  }

  /** A bare libp2p node: an attacker, or a client's transport. */
  async node(): Promise<MeshNode> {
    const node = await createMeshNode();
    this.push(() => node.stop());
    return node;
  }
}

/** Asks for a quote and returns the answer (a quote or a typed error). */
export function quote(node: MeshNode, addr: string) {
  return request(node, addr, PROTOCOLS.quote, QUOTE, QuoteResponse, { timeout: 30_000 });
}

/** Runs `count` tasks, at most `concurrency` at once. */
export async function pool(count: number, concurrency: number, task: (i: number, worker: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < count) await task(next++, worker);
    }),
  );
}

/** A debug-level logger that keeps every line, to check what a node logged (and at which level). */
export function capturingLogger(): { log: Logger; lines: Array<{ level: number; msg?: string; [k: string]: unknown }> } {
  const lines: Array<{ level: number; msg?: string }> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line) as { level: number });
      done();
    },
  });
  return { log: createLogger({ name: "coordinator", level: "debug", destination }), lines };
}
