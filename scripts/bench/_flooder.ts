// Child process of scripts/bench/flood.ts and scripts/fuzz.ts' flood: opens
// short streams against a coordinator from several libp2p identities, so the
// flood's own CPU work stays out of the measured process.
// Usage: node scripts/bench/_flooder.ts <multiaddr> <streams> <identities>
import { JobStreamMessage, PROTOCOLS, QuoteResponse } from "@rendermesh/shared";
import { createMeshNode, openProtocolStream, request } from "@rendermesh/shared/net";

const [addr, streamsArg, identitiesArg] = process.argv.slice(2);
if (!addr) throw new Error("usage: _flooder.ts <multiaddr> <streams> <identities>");
const streams = Number(streamsArg ?? 16_000);
const identities = Number(identitiesArg ?? 8);
const nodes = await Promise.all(Array.from({ length: identities }, () => createMeshNode()));
const QUOTE = { type: "quote", spec: { model: `0x${"ab".repeat(32)}`, seconds: 1, fps: 4, width: 32, height: 32 } };
let next = 0;
let typed = 0;
let failed = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: identities * 4 }, async (_, worker) => {
    const node = nodes[worker % identities]!;
    while (next < streams) {
      const i = next++;
      try {
        if (worker % 2 === 0) {
          await request(node, addr, PROTOCOLS.quote, QUOTE, QuoteResponse, { timeout: 30_000 });
          typed++;
        } else {
          const s = await openProtocolStream(node, addr, PROTOCOLS.job, { timeout: 30_000 });
          try {
            await s.write({ type: "watch", jobId: `0x${i.toString(16).padStart(64, "0")}` });
            await s.read(JobStreamMessage, { timeout: 30_000 });
            typed++;
          } finally {
            s.abort(new Error("done"));
          }
        }
      } catch {
        failed++;
      }
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
await Promise.all(nodes.map((n) => n.stop()));
process.stdout.write(JSON.stringify({ streams, typed, failed, seconds }) + "\n");
