// Segment retrieval over IPFS (Helia + bitswap between two libp2p nodes on
// loopback) against raw loopback TCP moving the same bytes.
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createMeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore } from "@rendermesh/shared/ipfs";
import type { BenchResult } from "./types.ts";

const SIZE = 16 * 1024 * 1024;
const ROUNDS = 3;

async function rawTcpMiBps(bytes: Uint8Array): Promise<number> {
  const server = createServer((sock) => sock.end(bytes));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as { port: number };
  let best = 0;
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now();
    const sock = connect(port, "127.0.0.1");
    let got = 0;
    sock.on("data", (d: Buffer) => (got += d.length));
    await once(sock, "end");
    if (got !== bytes.length) throw new Error("short read");
    best = Math.max(best, bytes.length / 2 ** 20 / ((performance.now() - t) / 1000));
  }
  server.close();
  return best;
}

async function ipfsMiBps(bytes: Uint8Array): Promise<number> {
  const dirs = [mkdtempSync(join(tmpdir(), "rm-bench-a-")), mkdtempSync(join(tmpdir(), "rm-bench-b-"))];
  const a = await createMeshNode();
  const b = await createMeshNode();
  const sa = await createHeliaSegmentStore({ libp2p: a, dataDir: dirs[0]! });
  let best = 0;
  try {
    for (let i = 0; i < ROUNDS; i++) {
      // A fresh fetcher each round, so nothing is served from its own blockstore.
      const dir = mkdtempSync(join(tmpdir(), "rm-bench-c-"));
      const c = await createMeshNode();
      const sc = await createHeliaSegmentStore({ libp2p: c, dataDir: dir });
      const payload = bytes.slice();
      payload[0] = i; // a new CID per round
      const cid = await sa.add(payload);
      const t = performance.now();
      const got = await sc.get(cid, { providers: a.getMultiaddrs() });
      const s = (performance.now() - t) / 1000;
      if (got.length !== payload.length) throw new Error("short read");
      best = Math.max(best, payload.length / 2 ** 20 / s);
      await sc.stop();
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    await sa.stop();
    await a.stop();
    await b.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  return best;
}

export async function run(): Promise<BenchResult[]> {
  const bytes = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) bytes[i] = (i * 2654435761) >>> 24;
  const tcp = await rawTcpMiBps(bytes);
  const ipfs = await ipfsMiBps(bytes);
  return [
    { name: "segment retrieval over IPFS (bitswap, loopback, 16 MiB)", value: ipfs, unit: "MiB/s" },
    { name: "raw loopback TCP, same bytes", value: tcp, unit: "MiB/s" },
    { name: "IPFS / raw TCP", value: ipfs / tcp, unit: "ratio" },
  ];
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await run());
}
