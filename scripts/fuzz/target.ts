// The node `pnpm fuzz` attacks, in its own process so a crash shows as an
// exit: a real Coordinator (libp2p, SQLite, HTTP API) on 127.0.0.1 over an
// in-memory chain, with one job in its store so job and report messages get
// past UNKNOWN_JOB. Prints one JSON line with its addresses; answers each
// "mem" line on stdin with its heap after a full GC.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Coordinator, CoordinatorConfig } from "@rendermesh/coordinator";
import { specHash } from "@rendermesh/shared";
import { STUB_MODEL, stubChain } from "../lib/stub-chain.ts";

const FUZZ_JOB_ID = `0x${"f0".repeat(32)}`;

const dir = mkdtempSync(join(tmpdir(), "rm-fuzz-"));
let errorLines = 0;
const coordinator = new Coordinator(
  CoordinatorConfig.parse({ dataDir: dir, httpPort: 0, httpHost: "127.0.0.1", listen: ["/ip4/127.0.0.1/tcp/0"], logLevel: "silent" }),
  { chain: stubChain(new Map()) },
);
await coordinator.start();
const spec = { v: 1 as const, model: STUB_MODEL as `0x${string}`, prompt: "fuzz", seed: 1, seconds: 2, fps: 4, width: 32, height: 32 };
coordinator.db.insertJob({
  jobId: FUZZ_JOB_ID,
  chainId: 31337,
  escrow: `0x${"ee".repeat(20)}`,
  client: `0x${"cc".repeat(20)}`,
  clientPeer: null,
  spec,
  specHash: specHash(spec),
  pricePerSecond: 1n,
  deadline: 4_000_000_000,
  policyVersion: 1n,
  openedBlock: 0,
});
process.stdout.write(JSON.stringify({ multiaddr: coordinator.multiaddrs[0], http: coordinator.httpUrl, jobId: FUZZ_JOB_ID, spec }) + "\n");
process.on("uncaughtException", (err) => {
  errorLines++;
  process.stderr.write(`uncaught: ${String(err)}\n`);
});
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "mem") {
    (globalThis as { gc?: () => void }).gc?.();
    process.stdout.write(JSON.stringify({ heapUsed: process.memoryUsage().heapUsed, uncaught: errorLines }) + "\n");
  } else if (line === "stop") {
    break;
  }
}
await coordinator.stop();
rmSync(dir, { recursive: true, force: true });
