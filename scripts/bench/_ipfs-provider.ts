// Child process of scripts/bench/ipfs.ts: the providing side of a segment
// transfer (its own libp2p node, Helia store and event loop, as a provider
// is on the network). It adds a payload of the size asked for over IPC and
// answers with its CID; the parent fetches it over bitswap.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore } from "@rendermesh/shared/ipfs";

const dir = mkdtempSync(join(tmpdir(), "rm-bench-ipfs-provider-"));
const node = await createMeshNode();
// BENCH_BITSWAP: the same A/B options as the fetching side (scripts/bench/ipfs.ts).
const bitswap = process.env.BENCH_BITSWAP ? (JSON.parse(process.env.BENCH_BITSWAP) as Record<string, unknown>) : undefined;
const store = await createHeliaSegmentStore({ libp2p: node, dataDir: dir, ...(bitswap ? { bitswap } : {}) });
const send = (m: unknown) => process.send!(m);
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
    send({ type: "added", cid: (await store.add(bytes)).toString() });
  })();
});
send({ type: "ready", addrs: node.getMultiaddrs().map(String) });
