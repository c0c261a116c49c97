// Child process of scripts/bench/ipfs.ts: the providing side of a segment
// transfer (its own libp2p node, Helia store and event loop, as a provider
// is on the network). It adds a payload of the size asked for over IPC and
// answers with its CID; the parent fetches it as a client fetches a segment
// from its provider, and reads the same bytes from a plain libp2p stream.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMeshNode } from "@rendermesh/shared/net";
import { BLOCKS_PROTOCOL, createHeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { RAW_STREAM_PROTOCOL } from "./lib/ipfs-bench.ts";

const dir = mkdtempSync(join(tmpdir(), "rm-bench-ipfs-provider-"));
const node = await createMeshNode();
// BENCH_BITSWAP: the same A/B options as the fetching side (scripts/bench/ipfs.ts).
const bitswap = process.env.BENCH_BITSWAP ? (JSON.parse(process.env.BENCH_BITSWAP) as Record<string, unknown>) : undefined;
const store = await createHeliaSegmentStore({ libp2p: node, dataDir: dir, ...(bitswap ? { bitswap } : {}) });
// BENCH_IPFS_VIA=bitswap: this side stops serving the blocks protocol, so the fetch falls back to bitswap (the A/B of the two paths).
if (process.env.BENCH_IPFS_VIA === "bitswap") await node.unhandle(BLOCKS_PROTOCOL);
const send = (m: unknown) => process.send!(m);
// The transport's own speed on the same connection: the segment's bytes written straight onto a libp2p stream.
let payload = new Uint8Array(0);
await node.handle(RAW_STREAM_PROTOCOL, async (stream) => {
  const CHUNK = 1 << 20;
  for (let i = 0; i < payload.byteLength; i += CHUNK) {
    if (!stream.send(payload.subarray(i, i + CHUNK))) await stream.onDrain();
  }
  await stream.close();
});
process.on("message", (m: { type: "add"; size: number; round: number } | { type: "stop" }) => {
  void (async () => {
    if (m.type === "stop") {
      await store.stop();
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    }
    const bytes = new Uint8Array(m.size);
    for (let i = 0; i < m.size; i++) bytes[i] = (i * 2654435761) >>> 24;
    bytes[0] = m.round; // a new CID per round
    payload = bytes;
    send({ type: "added", cid: (await store.add(bytes)).toString() });
  })();
});
send({ type: "ready", addrs: node.getMultiaddrs().map(String) });
