// Segment retrieval over IPFS: a fetcher's Helia store pulls a segment from a
// provider's Helia store on loopback, as a client fetches a segment from the
// provider that rendered it (BLOCKS_PROTOCOL, each block checked against its
// CID), against raw loopback TCP moving the same bytes. The two peers are
// connected first (the dial is its own stage), as a client is to its job's
// providers. The provider runs in its own process (as it does on the
// network), so the two sides do not share one event loop. Each run fetches a
// fresh CID with a fresh fetcher (nothing comes from its own blockstore), and
// the same bytes are also timed over a plain libp2p stream on the same
// connection (the encrypted transport's own speed) and over TCP, so each
// ratio's samples are measured under the same load. Beside them, the
// fetcher's floor: the per-byte work no fetch over this transport can skip,
// timed in this process on the same bytes (decrypting Noise's
// ChaCha20-Poly1305 frames, and SHA-256 of every block to check it against
// its CID). Raw TCP's time over that floor is the highest IPFS / raw TCP
// a fetcher whose one thread did only that could reach. The payload stands for a
// multi-megabyte segment of a real model at 720p; both model families'
// segments travel this same path.
import { fork } from "node:child_process";
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { multiaddr } from "@multiformats/multiaddr";
import { CID } from "multiformats/cid";
import { createMeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore, SEGMENT_CHUNK_SIZE } from "@rendermesh/shared/ipfs";
import { measured, type BenchContext, type BenchResult } from "./types.ts";
import { RAW_STREAM_PROTOCOL } from "./lib/ipfs-bench.ts";

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

/** A Noise transport message carries at most 65,535 bytes, 16 of them the ChaCha20-Poly1305 tag (the Noise spec; @chainsafe/libp2p-noise). */
const NOISE_MAX_PLAINTEXT = 65_535 - 16;

/**
 * The fetcher's unavoidable per-byte work on `bytes`, in ms: decrypting them
 * as Noise transport messages (one ChaCha20-Poly1305 decipher per message,
 * as libp2p's Noise does in Node), then SHA-256 of each block of the
 * segment's DAG (1 MiB raw leaves) as a fetch checks it. Ciphertext and tags
 * are made beforehand, untimed.
 */
function fetcherFloor(bytes: Uint8Array): () => number {
  const key = randomBytes(32);
  const frames: Array<{ nonce: Buffer; text: Buffer; tag: Buffer }> = [];
  for (let i = 0, n = 0; i < bytes.byteLength; i += NOISE_MAX_PLAINTEXT, n++) {
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32LE(n, 4);
    const c = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
    const text = Buffer.concat([c.update(bytes.subarray(i, i + NOISE_MAX_PLAINTEXT)), c.final()]);
    frames.push({ nonce, text, tag: c.getAuthTag() });
  }
  return () => {
    const t = performance.now();
    for (const f of frames) {
      const d = createDecipheriv("chacha20-poly1305", key, f.nonce, { authTagLength: 16 });
      d.setAuthTag(f.tag);
      d.update(f.text);
      d.final();
    }
    for (let i = 0; i < bytes.byteLength; i += SEGMENT_CHUNK_SIZE) createHash("sha256").update(bytes.subarray(i, i + SEGMENT_CHUNK_SIZE)).digest();
    return performance.now() - t;
  };
}

/** Reads the segment's bytes from the providing child over a plain libp2p stream (RAW_STREAM_PROTOCOL). */
async function rawStreamMiBps(node: Awaited<ReturnType<typeof createMeshNode>>, provider: ReturnType<typeof multiaddr>): Promise<number> {
  const t = performance.now();
  const stream = await node.dialProtocol(provider, RAW_STREAM_PROTOCOL);
  let got = 0;
  for await (const chunk of stream) got += chunk.byteLength;
  if (got !== SIZE) throw new Error("short read over the plain libp2p stream");
  return SIZE / 2 ** 20 / ((performance.now() - t) / 1000);
}

export async function run(ctx?: BenchContext): Promise<BenchResult[]> {
  const runs = ctx?.runs ?? 3;
  const bytes = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) bytes[i] = (i * 2654435761) >>> 24;
  const tcp = await tcpServer(bytes);
  const floor = fetcherFloor(bytes);
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
  const streamSamples: number[] = [];
  const ratios: number[] = [];
  const overStream: number[] = [];
  const floorMs: number[] = [];
  const ceilings: number[] = [];
  const stages = { dial: [] as number[], root: [] as number[], leaves: [] as number[] };
  try {
    await tcp.mibps(); // warm-up
    for (let i = 0; i < runs + 1; i++) {
      child.send({ type: "add", size: SIZE, round: i });
      const { cid } = await next<{ cid: string }>("added");
      const dir = mkdtempSync(join(tmpdir(), "rm-bench-fetch-"));
      const node = await createMeshNode();
      // Where a fetch's time goes: the root block (the request's round trip and the first block), the leaves.
      const marks: { root?: number } = {};
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
        const d = performance.now();
        await node.dial(providers[0]!);
        const dialled = performance.now();
        const streamMiBps = await rawStreamMiBps(node, providers[0]!);
        const t = performance.now();
        const got = await store.get(CID.parse(cid), { providers });
        const end = performance.now();
        const s = (end - t) / 1000;
        if (got.length !== SIZE) throw new Error("short read");
        const rooted = marks.root ?? t;
        const tcpMiBps = await tcp.mibps();
        const floored = floor();
        if (i === 0) continue; // the first fetch warms the providing side (page cache, JIT)
        const ipfsMiBps = SIZE / 2 ** 20 / s;
        tcpSamples.push(tcpMiBps);
        ipfsSamples.push(ipfsMiBps);
        streamSamples.push(streamMiBps);
        ratios.push(ipfsMiBps / tcpMiBps);
        overStream.push(ipfsMiBps / streamMiBps);
        floorMs.push(floored);
        // TCP's time for the bytes over the floor's: the ratio a fetcher doing only the floor's work would reach.
        const ceiling = SIZE / 2 ** 20 / tcpMiBps / (floored / 1000);
        ceilings.push(ceiling);
        stages.dial.push(dialled - d);
        stages.root.push(rooted - t);
        stages.leaves.push(end - rooted);
        ctx?.log(
          `run ${i}/${runs}: IPFS ${ipfsMiBps.toFixed(1)} MiB/s (root block ${(rooted - t).toFixed(0)} ms, leaves ${(end - rooted).toFixed(0)} ms; dial before it ${(dialled - d).toFixed(0)} ms), libp2p stream ${streamMiBps.toFixed(0)} MiB/s, TCP ${tcpMiBps.toFixed(0)} MiB/s; the fetcher's floor (decrypt + hash) ${floored.toFixed(0)} ms, so at most ${ceiling.toFixed(2)} of TCP`,
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
  const note = `${SIZE / 2 ** 20} MiB, fetcher and provider in separate processes, connected, loopback`;
  return [
    measured({ name: `segment retrieval over IPFS (from its provider, loopback, ${SIZE / 2 ** 20} MiB)`, unit: "MiB/s", note }, ipfsSamples),
    measured({ name: "plain libp2p stream (Noise + Yamux), same bytes, same connection", unit: "MiB/s", note }, streamSamples),
    measured({ name: "raw loopback TCP, same bytes", unit: "MiB/s", note }, tcpSamples),
    measured({ name: "IPFS / raw TCP", unit: "ratio", target: 0.5, note }, ratios),
    measured({ name: "IPFS / plain libp2p stream (what the fetch adds to the transport)", unit: "ratio", note }, overStream),
    measured(
      { name: "IPFS / raw TCP ceiling: a fetcher that only decrypts and hashes (raw TCP's time / the floor's)", unit: "ratio", note },
      ceilings,
    ),
    measured(
      { name: "stage: the fetcher's floor, decrypting Noise's frames + SHA-256 of the blocks", unit: "ms", better: "lower", stage: true },
      floorMs,
    ),
    measured({ name: "stage: dial the provider (before the fetch)", unit: "ms", better: "lower", stage: true }, stages.dial),
    measured({ name: "stage: root block (the request's round trip)", unit: "ms", better: "lower", stage: true }, stages.root),
    measured({ name: "stage: leaves (the segment's bytes)", unit: "ms", better: "lower", stage: true }, stages.leaves),
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await run({ runs: 3, log: console.log }));
}
