// Event-loop delay of a coordinator under a stream flood (part of `pnpm
// bench`; needs `pnpm build`). A real Coordinator (libp2p, SQLite, HTTP API)
// on loopback with one heartbeating provider; the chain is an in-memory stub
// because only the node's own work is measured. First a baseline with no
// flood, then 16,000 short quote and watch streams from 8 identities in a
// child process. Targets under the flood: p99 ≤ 50 ms, max ≤ 250 ms.
// Run alone: node scripts/bench/flood.ts
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Wallet } from "ethers";
import { announceMessage, AnnounceResponse, PROTOCOLS } from "@rendermesh/shared";
import { createMeshNode, request } from "@rendermesh/shared/net";
import { Coordinator, CoordinatorConfig } from "@rendermesh/coordinator";
import { STUB_MODEL as MODEL, stubChain } from "../lib/stub-chain.ts";
import type { BenchResult } from "./types.ts";

const STREAMS = Number(process.env.FLOOD_STREAMS ?? 16_000);
const BASELINE_MS = 5_000;
const here = dirname(fileURLToPath(import.meta.url));

function percentileMs(h: ReturnType<typeof monitorEventLoopDelay>, p: number): number {
  return h.percentile(p) / 1e6;
}

async function measure(ms: number | Promise<unknown>): Promise<{ p99: number; max: number }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  await (typeof ms === "number" ? new Promise((r) => setTimeout(r, ms)) : ms);
  h.disable();
  return { p99: percentileMs(h, 99), max: h.max / 1e6 };
}

function flood(addr: string): Promise<{ streams: number; typed: number; failed: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, "_flooder.ts"), addr, String(STREAMS), "8"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").at(-1)!)) : reject(new Error(`flooder exited ${code}`))));
  });
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "rm-bench-flood-"));
  const providers = new Map<string, string>();
  const config = CoordinatorConfig.parse({ dataDir: dir, httpPort: 0, heartbeatIntervalMs: 1000, logLevel: "silent" });
  const coordinator = new Coordinator(config, { chain: stubChain(providers), livenessMs: 3_000 });
  await coordinator.start();
  const addr = coordinator.multiaddrs[0]!;
  const wallet = Wallet.createRandom();
  const node = await createMeshNode();
  providers.set(Buffer.from(node.peerId.toMultihash().bytes).toString("hex"), wallet.address.toLowerCase());
  const announce = async () => {
    const timestamp = Date.now();
    const signature = await wallet.signMessage(announceMessage(node.peerId.toString(), wallet.address, timestamp));
    return request(node, addr, PROTOCOLS.announce, {
      type: "announce", address: wallet.address, models: [MODEL], askPerSecond: "1", capacity: 2, benchmarkFps: 50, device: "cpu", active: 0, agent: "bench", timestamp, signature,
    }, AnnounceResponse, { timeout: 10_000 });
  };
  const first = await announce();
  if (first.type !== "announce-ack") throw new Error(`provider not admitted: ${JSON.stringify(first)}`);
  let lostHeartbeats = 0;
  const heartbeat = setInterval(() => void announce().then((r) => { if (r.type !== "announce-ack") lostHeartbeats++; }, () => lostHeartbeats++), 1000);
  try {
    const baseline = await measure(BASELINE_MS);
    let result: Awaited<ReturnType<typeof flood>> | undefined;
    const under = await measure(flood(addr).then((r) => (result = r)));
    const status = (await (await fetch(`${coordinator.httpUrl}/api/status`)).json()) as { providersLive: number };
    const note = `${result!.streams} streams in ${result!.seconds.toFixed(1)} s, ${result!.typed} typed answers, ${result!.failed} failed; providers live after: ${status.providersLive}; heartbeats lost: ${lostHeartbeats}`;
    return [
      { name: "coordinator event-loop delay p99, no flood", value: Number(baseline.p99.toFixed(1)), unit: "ms", better: "lower" },
      { name: "coordinator event-loop delay max, no flood", value: Number(baseline.max.toFixed(1)), unit: "ms", better: "lower" },
      { name: `coordinator event-loop delay p99, ${STREAMS} flood streams`, value: Number(under.p99.toFixed(1)), unit: "ms", better: "lower", target: 50, note },
      { name: `coordinator event-loop delay max, ${STREAMS} flood streams`, value: Number(under.max.toFixed(1)), unit: "ms", better: "lower", target: 250 },
      { name: "providers live after the flood", value: status.providersLive, unit: "providers", target: 1 },
    ];
  } finally {
    clearInterval(heartbeat);
    await node.stop();
    await coordinator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const results = await run();
  for (const r of results) console.log(`${r.name}: ${r.value} ${r.unit}${r.target !== undefined ? ` (target ${r.target})` : ""}${r.note ? ` — ${r.note}` : ""}`);
}
