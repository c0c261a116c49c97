// Coordinator scheduling benchmark (part of `pnpm bench`; needs `pnpm build`):
// - scheduling decisions per second with 1,000 simulated providers and 10,000
//   segments (target ≥ 50,000/s);
// - memory per connected provider held by the coordinator's directory and
//   database row (the libp2p connection itself is not included).
// Run alone: node scripts/bench/scheduler.ts
import { fileURLToPath } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Wallet } from "ethers";
import { announceMessage, createLogger } from "@rendermesh/shared";
import { CoordinatorStore, ProviderDirectory, schedule, segmentWork, type ChainView, type SchedulerJob, type SchedulerProvider } from "@rendermesh/coordinator";
import type { BenchResult } from "./types.ts";

const PROVIDERS = 1_000;
const SEGMENTS = 10_000;
const MODEL = `0x${"ab".repeat(32)}`;
const reference = { width: 256, height: 256, fps: 24 };

function providers(): SchedulerProvider[] {
  const out: SchedulerProvider[] = [];
  for (let i = 0; i < PROVIDERS; i++) {
    // A spread of sizes: a few big GPUs, many small CPUs.
    const speed = i % 50 === 0 ? 500 : 10 + (i % 17) * 3;
    out.push({ key: `p${i}`, models: new Set([MODEL]), ask: BigInt(100 + (i % 7)), capacity: 1 + (i % 4), window: 64, inFlight: 0, speedFps: speed, reliability: 0.8 + (i % 5) * 0.05 });
  }
  return out;
}

function job(): SchedulerJob {
  const spec = { width: 256, height: 256, fps: 24 };
  return { jobId: "bench", model: MODEL, pricePerSecond: 200n, spec, segmentWork: segmentWork(spec, reference), pending: Array.from({ length: SEGMENTS }, (_, i) => i) };
}

function decisionsPerSecond(): { rate: number; decisions: number } {
  const ps = providers();
  const j = job();
  schedule([j], ps, { reference, minShare: 0.2 }); // warm-up
  let decisions = 0;
  const started = performance.now();
  let runs = 0;
  while (performance.now() - started < 2_000 || runs < 3) {
    decisions += schedule([j], ps, { reference, minShare: 0.2 }).length;
    runs++;
  }
  return { rate: decisions / ((performance.now() - started) / 1000), decisions: decisions / runs };
}

/** A full GC between measurements, without needing --expose-gc on the command line. */
function gc(): void {
  setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
}

async function memoryPerProvider(): Promise<number> {
  const n = 1_000;
  const wallets = Array.from({ length: n }, () => Wallet.createRandom());
  const peers = wallets.map((_, i) => `12D3KooWBench${String(i).padStart(40, "0")}`);
  const byPeer = new Map(peers.map((p, i) => [p, wallets[i]!.address.toLowerCase()]));
  const chain = {
    providerOfPeer: async (bytes: Uint8Array) => byPeer.get(new TextDecoder().decode(bytes))!,
    isActive: async () => true,
    getProvider: async () => ({ registered: true, peerId: "0x", stake: 1n, askPerSecond: 100n, models: [MODEL] }),
  } as unknown as ChainView;
  const store = CoordinatorStore.open(":memory:");
  const directory = new ProviderDirectory({ store, chain, log: createLogger({ name: "bench", level: "silent" }) });
  const announcements = await Promise.all(
    wallets.map(async (w, i) => {
      const timestamp = Date.now();
      return { peer: peers[i]!, msg: { type: "announce" as const, address: w.address as `0x${string}`, models: [MODEL as `0x${string}`], askPerSecond: 100n, capacity: 2, benchmarkFps: 50, device: "cpu" as const, active: 0, agent: "bench", timestamp, signature: (await w.signMessage(announceMessage(peers[i]!, w.address, timestamp))) as `0x${string}` } };
    }),
  );
  gc();
  const before = process.memoryUsage().heapUsed;
  for (const a of announcements) await directory.admit(a.msg, a.peer, new TextEncoder().encode(a.peer), ["/ip4/127.0.0.1/tcp/4001"]);
  gc();
  const after = process.memoryUsage().heapUsed;
  store.close();
  return Math.max(0, after - before) / n;
}

export async function run(): Promise<BenchResult[]> {
  const { rate, decisions } = decisionsPerSecond();
  const perProvider = await memoryPerProvider();
  const results: BenchResult[] = [
    { name: `scheduling decisions/s (${PROVIDERS} providers, ${SEGMENTS} segments)`, value: Math.round(rate), unit: "decisions/s", target: 50_000, note: `${Math.round(decisions)} decisions per run` },
    { name: "coordinator heap per connected provider (directory + row)", value: Math.round(perProvider), unit: "bytes", better: "lower" },
  ];
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await run();
  for (const r of results) console.log(`${r.name}: ${r.value.toLocaleString("en-US")} ${r.unit}${r.target ? ` (target ${r.target.toLocaleString("en-US")})` : ""}`);
  console.log(JSON.stringify(results));
}
