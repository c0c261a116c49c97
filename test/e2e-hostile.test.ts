// Hostile peers against real nodes on loopback (real Hardhat chain, real
// libp2p, real SQLite): floods, hijack attempts, cheap resource exhaustion
// and malformed input. Each case sends the attack and asserts the node kept
// its state and answered the honest party. No timing in any assertion: the
// figures live in `pnpm bench` (scripts/bench/flood.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Wallet } from "ethers";
import { JobStreamMessage, openProtocolStream, PROTOCOLS } from "@rendermesh/shared";
import { account, fundClient, startChain, type TestChain } from "../packages/coordinator/test/helpers/chain.ts";
import { MODEL, pool, quote, Stack } from "./helpers/hostile.ts";

let chain: TestChain;
let stack: Stack;
const client = new Wallet(account(9).privateKey);

beforeAll(async () => {
  chain = await startChain({ model: MODEL, blockedTerm: "forbidden" });
  await fundClient(chain, client);
  stack = new Stack(chain);
}, 180_000);

afterAll(async () => {
  await chain?.stop();
});

afterEach(async () => {
  await stack.stopAll();
});

describe("hostile peers (real chain, real libp2p, loopback)", { timeout: 600_000 }, () => {
  it("behavior: many thousands of short streams neither freeze the coordinator nor cost it its providers", async () => {
    // Liveness of 8 s: the freeze this guards against (AbortSignal.any
    // dependents on long-lived signals) stalled the event loop for 10-30 s
    // after ~15k streams, which dropped every provider.
    const c = await stack.coordinator({}, 8_000);
    const addr = c.multiaddrs[0]!;
    const provider = await stack.provider(addr);
    expect((await quote(provider.node, addr)).type).toBe("quote-result");

    const flooders = await Promise.all(Array.from({ length: 8 }, () => stack.node()));
    const STREAMS = 16_000;
    let typed = 0;
    // 32 workers, 4 per flooder node: half ask for quotes, half watch jobs nobody opened.
    await pool(STREAMS, 32, async (i, worker) => {
      const node = flooders[worker % 8]!;
      if (worker % 8 < 4) {
        const q = await quote(node, addr).catch(() => undefined);
        if (q) typed++;
        return;
      }
      const s = await openProtocolStream(node, addr, PROTOCOLS.job, { timeout: 30_000 }).catch(() => undefined);
      if (!s) return;
      try {
        await s.write({ type: "watch", jobId: `0x${i.toString(16).padStart(64, "0")}` });
        const m = await s.read(JobStreamMessage, { timeout: 30_000 });
        if (m.type === "error") typed++;
      } catch {
        // counted as untyped
      } finally {
        s.abort(new Error("done"));
      }
    });
    // Every flood stream got a typed answer (a quote, UNKNOWN_JOB, or BUSY when a worker outran the per-peer limit)…
    expect(typed).toBe(STREAMS);
    // …the provider is still in the directory, and an honest request is answered with it.
    const after = await quote(provider.node, addr);
    expect(after).toMatchObject({ type: "quote-result", providers: 1 });
    const listed = (await (await fetch(`${c.httpUrl}/api/providers`)).json()) as { providers: Array<{ address: string }> };
    expect(listed.providers.map((p) => p.address)).toContain(provider.address);
  });
});
