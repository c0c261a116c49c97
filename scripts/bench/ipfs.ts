// Segment retrieval over IPFS: a fetcher's Helia pulls a segment over bitswap
// from a provider's Helia on loopback, against raw loopback TCP moving the
// same bytes. The provider runs in its own process (as it does on the
// network), so the two sides do not share one event loop. Each run fetches
// a fresh CID with a fresh fetcher (nothing comes from its own blockstore),
// and one TCP transfer is timed beside each fetch, so the ratio's samples
// are pairs measured under the same load. The payload stands for a
// multi-megabyte segment of a real model at 720p; both model families'
// segments travel this same path.
import { fork } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { multiaddr } from "@multiformats/multiaddr";
import { CID } from "multiformats/cid";
import { createMeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { measured, type BenchContext, type BenchResult } from "./types.ts";

const SIZE = Number(process.env.BENCH_IPFS_MIB ?? 16) * 1024 * 1024;
/** BENCH_BITSWAP='{"sendBlocksConcurrency":2}': bitswap options for both sides (the providing child reads it too), for A/B runs. */
const BITSWAP = process.env.BENCH_BITSWAP ? (JSON.parse(process.env.BENCH_BITSWAP) as Record<string, unknown>) : undefined;

async function tcpServer(bytes: Uint8Array) {
  const server = createServer((sock) => sock.end(bytes));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  return {
    async mibps(): Promise<number> {
      const t = performance.now();
      const sock = connect(port, "127.0.0.1");
      let got = 0;
      sock.on("data", (d: Buffer) => (got += d.length));
      await once(sock, "end");
      if (got !== bytes.length) throw new Error("short read");
      return bytes.length / 2 ** 20 / ((performance.now() - t) / 1000);
    },
    close: () => server.close(),
  };
}

export async function run(ctx?: BenchContext): Promise<BenchResult[]> {
  const runs = ctx?.runs ?? 3;
  const bytes = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) bytes[i] = (i * 2654435761) >>> 24;
  const tcp = await tcpServer(bytes);
  const child = fork(join(dirname(fileURLToPath(import.meta.url)), "_ipfs-provider.ts"), [], { stdio: ["ignore", "ignore", "inherit", "ipc"] });
  const next = <T>(type: string) =>
    new Promise<T>((resolve, reject) => {
      const onMessage = (m: { type: string }) => {
        if (m.type !== type) return;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(m as T);
      };
      const onExit = (code: number | null) => reject(new Error(`the providing process exited (${code})`));
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
  const { addrs } = await next<{ addrs: string[] }>("ready");
  const providers = addrs.map((a) => multiaddr(a));
  const tcpSamples: number[] = [];
  const ipfsSamples: number[] = [];
  const ratios: number[] = [];
  const stages = { dial: [] as number[], root: [] as number[], leaves: [] as number[] };
  try {
    await tcp.mibps(); // warm-up
    for (let i = 0; i < runs + 1; i++) {
      child.send({ type: "add", size: SIZE, round: i });
      const { cid } = await next<{ cid: string }>("added");
      const dir = mkdtempSync(join(tmpdir(), "rm-bench-fetch-"));
      const node = await createMeshNode();
      // Where a fetch's time goes: the dial, the root block (the want-list round trip for one tiny block), the leaves.
      const marks: { dialled?: number; root?: number } = {};
      node.addEventListener("connection:open", () => (marks.dialled ??= performance.now()), { once: true });
      const store = await createHeliaSegmentStore({
        libp2p: node,
        dataDir: dir,
        ...(BITSWAP ? { bitswap: BITSWAP } : {}),
        wrapBlockstore: (blockstore) =>
          new Proxy(blockstore, {
            get(target, prop) {
              if (prop === "put")
                return (cid: CID, bytes: Uint8Array, o?: unknown) => {
                  marks.root ??= performance.now(); // the first block a fetch stores is the root
                  return target.put(cid, bytes, o as never);
                };
              const value = Reflect.get(target, prop, target) as unknown;
              return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
            },
          }),
      });
      try {
        const t = performance.now();
        const got = await store.get(CID.parse(cid), { providers });
        const end = performance.now();
        const s = (end - t) / 1000;
        if (got.length !== SIZE) throw new Error("short read");
        const dialled = marks.dialled ?? t;
        const rooted = marks.root ?? dialled;
        const tcpMiBps = await tcp.mibps();
        if (i === 0) continue; // the first fetch warms the providing side (page cache, JIT)
        const ipfsMiBps = SIZE / 2 ** 20 / s;
        tcpSamples.push(tcpMiBps);
        ipfsSamples.push(ipfsMiBps);
        ratios.push(ipfsMiBps / tcpMiBps);
        stages.dial.push(dialled - t);
        stages.root.push(rooted - dialled);
        stages.leaves.push(end - rooted);
        ctx?.log(
          `run ${i}/${runs}: IPFS ${ipfsMiBps.toFixed(1)} MiB/s (dial ${(dialled - t).toFixed(0)} ms, root block ${(rooted - dialled).toFixed(0)} ms, leaves ${(end - rooted).toFixed(0)} ms), TCP ${tcpMiBps.toFixed(0)} MiB/s`,
        );
      } finally {
        await store.stop();
        await node.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    child.send({ type: "stop" });
    await once(child, "exit");
    tcp.close();
  }
  const note = `${SIZE / 2 ** 20} MiB, fetcher and provider in separate processes, loopback`;
  return [
    measured({ name: `segment retrieval over IPFS (bitswap, loopback, ${SIZE / 2 ** 20} MiB)`, unit: "MiB/s", note }, ipfsSamples),
    measured({ name: "raw loopback TCP, same bytes", unit: "MiB/s", note }, tcpSamples),
    measured({ name: "IPFS / raw TCP", unit: "ratio", target: 0.5, note }, ratios),
    measured({ name: "stage: dial the provider", unit: "ms", better: "lower", stage: true }, stages.dial),
    measured({ name: "stage: root block (one want-list round trip)", unit: "ms", better: "lower", stage: true }, stages.root),
    measured({ name: "stage: leaves (the segment's bytes)", unit: "ms", better: "lower", stage: true }, stages.leaves),
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await run({ runs: 3, log: console.log }));
}
