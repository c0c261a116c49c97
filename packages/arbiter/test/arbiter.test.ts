import { afterAll, describe, expect, test } from "vitest";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { createLogger } from "@rendermesh/shared";
import { connectContracts } from "@rendermesh/shared/chain";
import { segmentCid } from "@rendermesh/shared/ipfs";
import { defaultVerifierComponents, SegmentVerifier } from "@rendermesh/shared/verify";
import { sha256Hex, tempDir } from "@rendermesh/testing";
import { Arbiter, ArbiterJournal, ArbiterMetrics, type DisputeOutcome, type SpecSource } from "../src/index.js";
import { CLAIM_DISPUTED, CLAIM_PAID, CLAIM_REFUSED, disputeSpec, honestSegment as segmentOf, useDisputeChain } from "./helpers/disputes.js";

// A real Hardhat chain with the real contracts, real segments (ONNX model, ffmpeg H.264) and the client's real
// SegmentVerifier. Only the IPFS store is an in-memory map (bitswap.test.ts fetches over real bitswap).

const spec = disputeSpec("a calm blue sea at night", 7);

const blocks = new Map<string, Uint8Array>();
const memoryStore = {
  async get(cid: { toString(): string }, options: { signal?: AbortSignal } = {}) {
    const bytes = blocks.get(cid.toString());
    if (bytes) return bytes;
    // Like bitswap for a CID nobody has: nothing comes before the deadline.
    await new Promise((_, reject) =>
      options.signal?.addEventListener("abort", () => reject(new Error("block not found before the deadline")), { once: true }),
    );
    throw new Error("unreachable");
  },
};

const disputes = useDisputeChain();
const dir = tempDir("rm-arbiter-");
afterAll(() => dir.cleanup());
const silent = createLogger({ name: "arbiter-test", level: "silent" });
const honestSegment = (segment: number) => segmentOf(spec, segment);
const closedJob = () => disputes.closedJob(spec);
/** `lapsed`: the assignment's deadline just past (claims open on an open job); else an hour away (on a closed job). */
const claimAndDispute = (jobId: `0x${string}`, segment: number, receipt: { cid: string; sha256: `0x${string}` }, lapsed = false) =>
  disputes.claimAndDispute(jobId, spec, segment, receipt, { lapsed });

function arbiter(
  specs: SpecSource,
  journal: ArbiterJournal,
  metrics = new ArbiterMetrics({ defaultMetrics: false }),
  onOutcome?: (o: DisputeOutcome) => void,
  /** A seam: runs before each verification, with the segment about to be verified. */
  beforeVerify?: (segment: number) => Promise<void>,
): Arbiter {
  const chain = disputes.chain;
  const real = new SegmentVerifier(defaultVerifierComponents({ store: memoryStore as never, spot: disputes.spot }), {
    fetchTimeoutMs: 300,
    fetchAttempts: 2,
    fetchBackoffMs: 10,
  });
  const verifier: typeof real = beforeVerify
    ? (Object.assign(Object.create(real), {
        verify: async (...args: Parameters<typeof real.verify>) => {
          await beforeVerify(args[1].segment);
          return real.verify(...args);
        },
      }) as typeof real)
    : real;
  // The test chain's deployer is the policy's arbiter.
  return new Arbiter({
    contracts: chain.contracts,
    provider: chain.provider,
    chainId: chain.chainId,
    journal,
    metrics,
    verifier,
    specs,
    logger: silent,
    onOutcome,
    // This arbiter's network works (the in-memory store is all the network there is).
    online: async () => true,
  });
}

const stakeOf = (address: string) => disputes.stakeOf(address);
const claimStatus = async (jobId: string, segment: number) => (await disputes.claimOf(jobId, segment)).status;

describe("Arbiter", () => {
  test("default: an honest disputed segment is paid; a made-up CID and wrong content are refused and the provider slashed", async () => {
    const jobId = await closedJob();
    const honest = await honestSegment(0);
    const honestCid = (await segmentCid(honest)).toString();
    blocks.set(honestCid, honest);
    await claimAndDispute(jobId, 0, { cid: honestCid, sha256: sha256Hex(honest) });
    // A fabricated claim: a CID of bytes nobody has.
    const madeUp = (await segmentCid(randomBytes(64))).toString();
    await claimAndDispute(jobId, 1, { cid: madeUp, sha256: sha256Hex(randomBytes(32)) });
    // Real bytes that hash as signed, but segment 0's content delivered as segment 2.
    await claimAndDispute(jobId, 2, { cid: honestCid, sha256: sha256Hex(honest) });

    const provider = disputes.chain.providers[0]!.address;
    const stakeBefore = await stakeOf(provider);
    const balanceBefore = BigInt(await disputes.chain.contracts.escrow.balanceOf(provider));
    const journal = new ArbiterJournal(join(dir.dir, "a.db"));
    const metrics = new ArbiterMetrics({ defaultMetrics: false });
    const outcomes = await arbiter({ spec: async () => spec }, journal, metrics).catchUp();

    // The made-up CID cannot be fetched: not refused while the arbiter window lasts, only tried again later.
    expect(outcomes.map((o) => [o.segment, o.verdict])).toEqual([
      [0, "pay"],
      [1, "wait"],
      [2, "refuse"],
    ]);
    expect(outcomes[1]!.reason).toMatch(/^fetch:/);
    expect(outcomes[2]!.reason).toMatch(/^content:/);
    expect(await claimStatus(jobId, 1)).toBe(CLAIM_DISPUTED);
    // At the window's last try it is still not served, and this arbiter's network works: refused.
    const { deadlineAt } = await disputes.chain.contracts.escrow.getClaim(jobId, 1);
    await disputes.chain.increaseTime(Number(deadlineAt) - (await disputes.chain.chainTime()) - 300);
    const last = await arbiter({ spec: async () => spec }, journal, metrics).catchUp();
    expect(last.map((o) => [o.segment, o.verdict])).toEqual([[1, "refuse"]]);
    expect(last[0]!.reason).toMatch(/^fetch:.*whole arbiter window/);
    expect(await claimStatus(jobId, 0)).toBe(CLAIM_PAID);
    expect(await claimStatus(jobId, 1)).toBe(CLAIM_REFUSED);
    expect(await claimStatus(jobId, 2)).toBe(CLAIM_REFUSED);
    expect(BigInt(await disputes.chain.contracts.escrow.balanceOf(provider))).toBeGreaterThan(balanceBefore);
    const minStake = BigInt(await disputes.chain.contracts.policy.minProviderStake());
    expect(await stakeOf(provider)).toBe(stakeBefore - 2n * minStake);
    expect(journal.all().every((r) => r.tx !== null && r.tx.startsWith("0x"))).toBe(true);
    expect(await metrics.registry.getSingleMetricAsString("rendermesh_arbiter_verdicts_total")).toMatch(/verdict="refuse"} 2/);

    // Idempotent: a restart on the same journal resolves nothing again.
    expect(await arbiter({ spec: async () => spec }, journal).catchUp()).toEqual([]);
    journal.close();
  });

  test("behavior: without a spec that matches the on-chain hash the arbiter leaves the dispute to the timeout, which pays the provider", async () => {
    const jobId = await closedJob();
    const honest = await honestSegment(3);
    const cid = (await segmentCid(honest)).toString();
    blocks.set(cid, honest);
    await claimAndDispute(jobId, 3, { cid, sha256: sha256Hex(honest) });
    const journal = new ArbiterJournal(join(dir.dir, "b.db"));
    // A coordinator that serves another spec than the job's (a different seed) is not trusted.
    const outcomes = await arbiter({ spec: async () => ({ ...spec, seed: 8 }) }, journal).catchUp();
    expect(outcomes.filter((o) => o.jobId === jobId.toLowerCase() || o.jobId === jobId).map((o) => o.verdict)).toEqual(["leave"]);
    expect(await claimStatus(jobId, 3)).toBe(CLAIM_DISPUTED);
    const { deadlineAt } = await disputes.chain.contracts.escrow.getClaim(jobId, 3);
    await disputes.chain.increaseTime(Number(deadlineAt) - (await disputes.chain.chainTime()) + 1);
    await (await disputes.chain.contracts.escrow.finalizeClaim(jobId, 3)).wait();
    expect(await claimStatus(jobId, 3)).toBe(CLAIM_PAID);
    journal.close();
  });

  test("default: watching, a dispute raised after the catch-up is resolved as its block arrives", async () => {
    const journal = new ArbiterJournal(join(dir.dir, "c.db"));
    let resolved!: (o: DisputeOutcome) => void;
    const outcome = new Promise<DisputeOutcome>((r) => (resolved = r));
    const a = arbiter({ spec: async () => spec }, journal, undefined, (o) => resolved(o));
    await a.catchUp();
    a.watch();
    try {
      const jobId = await closedJob();
      const honest = await honestSegment(1);
      const cid = (await segmentCid(honest)).toString();
      blocks.set(cid, honest);
      await claimAndDispute(jobId, 1, { cid, sha256: sha256Hex(honest) });
      const o = await outcome;
      expect([o.jobId.toLowerCase(), o.segment, o.verdict]).toEqual([jobId.toLowerCase(), 1, "pay"]);
      expect(await claimStatus(jobId, 1)).toBe(CLAIM_PAID);
    } finally {
      await a.stop();
      journal.close();
    }
  });

  test("behavior: several disputes of one job ready at once are resolved in one resolveDisputes transaction", async () => {
    const jobId = await closedJob();
    const segments = [0, 1, 2];
    for (const segment of segments) {
      const bytes = await honestSegment(segment === 2 ? 0 : segment); // segment 2 carries segment 0's content
      const cid = (await segmentCid(bytes)).toString();
      blocks.set(cid, bytes);
      await claimAndDispute(jobId, segment, { cid, sha256: sha256Hex(bytes) });
    }
    const journal = new ArbiterJournal(join(dir.dir, "batch.db"));
    const metrics = new ArbiterMetrics({ defaultMetrics: false });
    const outcomes = (await arbiter({ spec: async () => spec }, journal, metrics).catchUp()).filter(
      (o) => o.jobId.toLowerCase() === jobId.toLowerCase(),
    );
    expect(outcomes.map((o) => [o.segment, o.verdict, o.batchSize])).toEqual([
      [0, "pay", 3],
      [1, "pay", 3],
      [2, "refuse", 3],
    ]);
    const tx = outcomes[0]!.tx!;
    expect(outcomes.every((o) => o.tx === tx)).toBe(true);
    const sent = await disputes.chain.provider.getTransaction(tx);
    expect(disputes.chain.contracts.escrow.interface.parseTransaction({ data: sent!.data })!.name).toBe("resolveDisputes");
    expect(await Promise.all(segments.map((s) => claimStatus(jobId, s)))).toEqual([CLAIM_PAID, CLAIM_PAID, CLAIM_REFUSED]);
    const rows = journal.all().filter((r) => r.jobId === jobId.toLowerCase());
    expect(rows.map((r) => [r.segment, r.tx, r.batchSize])).toEqual(segments.map((s) => [s, tx, 3]));
    expect(await metrics.registry.getSingleMetricAsString("rendermesh_arbiter_resolution_transactions_total")).toMatch(/kind="batch"} 1/);
    expect(await metrics.registry.getSingleMetricAsString("rendermesh_arbiter_disputes_resolved_total")).toMatch(/ 3$/m);
    journal.close();
  });

  test("behavior: a batch holding a claim finalised meanwhile falls back to one resolveDispute each, and the others still resolve", async () => {
    // An open job whose deadline is beyond the arbiter window, so that its claims stay open after one window passes.
    const { jobId } = await disputes.chain.openJob({ spec, deadlineIn: 5 * 86_400 });
    const first = await honestSegment(0);
    const firstCid = (await segmentCid(first)).toString();
    blocks.set(firstCid, first);
    await claimAndDispute(jobId, 0, { cid: firstCid, sha256: sha256Hex(first) }, true);
    // Segment 0's arbiter window passes: anyone may finalise it now (in the provider's favour).
    const { deadlineAt } = await disputes.chain.contracts.escrow.getClaim(jobId, 0);
    await disputes.chain.increaseTime(Number(deadlineAt) - (await disputes.chain.chainTime()) + 1);
    for (const segment of [1, 2]) {
      const bytes = await honestSegment(segment);
      const cid = (await segmentCid(bytes)).toString();
      blocks.set(cid, bytes);
      await claimAndDispute(jobId, segment, { cid, sha256: sha256Hex(bytes) }, true);
    }
    const journal = new ArbiterJournal(join(dir.dir, "fallback.db"));
    const metrics = new ArbiterMetrics({ defaultMetrics: false });
    // The seam: while the arbiter verifies segment 2 (segment 0 decided already), someone finalises segment 0.
    const someone = connectContracts(disputes.chain.providers[1]!, disputes.chain.deployment);
    const a = arbiter({ spec: async () => spec }, journal, metrics, undefined, async (segment) => {
      if (segment === 2) await (await someone.escrow.finalizeClaim(jobId, 0)).wait();
    });
    const outcomes = (await a.catchUp()).filter((o) => o.jobId.toLowerCase() === jobId.toLowerCase());
    expect(await claimStatus(jobId, 0)).toBe(CLAIM_PAID);
    // The batch of three reverts; segments 1 and 2 are resolved one by one, segment 0 is left as finalised.
    expect(outcomes.map((o) => [o.segment, o.verdict, o.batchSize])).toEqual([
      [1, "pay", 1],
      [2, "pay", 1],
    ]);
    expect(outcomes[0]!.tx).not.toBe(outcomes[1]!.tx);
    expect(await claimStatus(jobId, 1)).toBe(CLAIM_PAID);
    expect(await claimStatus(jobId, 2)).toBe(CLAIM_PAID);
    const rows = journal.all().filter((r) => r.jobId === jobId.toLowerCase());
    expect(rows.map((r) => [r.segment, r.tx === "none" ? "none" : r.batchSize])).toEqual([
      [0, "none"],
      [1, 1],
      [2, 1],
    ]);
    expect(await metrics.registry.getSingleMetricAsString("rendermesh_arbiter_batch_fallbacks_total")).toMatch(/ 1$/m);
    expect(await metrics.registry.getSingleMetricAsString("rendermesh_arbiter_resolve_failures_total")).toMatch(/ 0$/m);
    journal.close();
  });
});
