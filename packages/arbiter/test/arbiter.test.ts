import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { segmentFrames, createLogger, type JobSpec } from "@rendermesh/shared";
import { assignmentStruct, connectContracts, deliveryStruct, signDelivery } from "@rendermesh/shared/chain";
import { segmentCid } from "@rendermesh/shared/ipfs";
import { encodeSegment } from "@rendermesh/shared/media";
import { createSpotRenderer, defaultModel, type SpotRenderer } from "@rendermesh/shared/model";
import { defaultVerifierComponents, SegmentVerifier } from "@rendermesh/shared/verify";
import { closeRenderer, MESH, renderFrames, sha256Hex, startTestChain, tempDir, type TestChain } from "@rendermesh/testing";
import { Arbiter, ArbiterJournal, ArbiterMetrics, type DisputeOutcome, type SpecSource } from "../src/index.js";

// A real Hardhat chain with the real contracts, real segments (ONNX model, ffmpeg H.264) and the client's real
// SegmentVerifier. Only the IPFS store is an in-memory map (bitswap is exercised by the client's job tests).

const model = defaultModel();
const spec: JobSpec = {
  v: 1,
  model: model.manifest.id as `0x${string}`,
  prompt: "a calm blue sea at night",
  seed: 7,
  seconds: 4,
  fps: 4,
  width: 32,
  height: 32,
};
const CLAIM_DISPUTED = 2n;
const CLAIM_PAID = 3n;
const CLAIM_REFUSED = 4n;

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

let chain: TestChain;
let spot: SpotRenderer;
const dir = tempDir("rm-arbiter-");
const silent = createLogger({ name: "arbiter-test", level: "silent" });

async function honestSegment(segment: number): Promise<Uint8Array> {
  const { firstFrame, frameCount } = segmentFrames(spec, segment);
  return encodeSegment(await renderFrames(spec, firstFrame, frameCount), spec);
}

/** Opens a job, closes it (so claims open at once) and returns its id. */
async function closedJob(): Promise<`0x${string}`> {
  const { jobId } = await chain.openJob({ spec });
  await chain.closeJob(jobId);
  return jobId;
}

/**
 * The provider claims `segment` with a receipt over `cid` and `sha256`; the client disputes it. The assignment's
 * deadline is an hour away (claims are open on a closed job), or `lapsed`: just past (claims open on an open job).
 */
async function claimAndDispute(
  jobId: `0x${string}`,
  segment: number,
  receipt: { cid: string; sha256: `0x${string}` },
  lapsed = false,
): Promise<void> {
  const provider = chain.providers[0]!;
  const { firstFrame, frameCount } = segmentFrames(spec, segment);
  const deadline = (await chain.chainTime()) + (lapsed ? -1 : 3600);
  const assignment = { jobId, segment, firstFrame, frameCount, provider: provider.address, deadline };
  const coordinatorSig = await chain.signAssignment(assignment);
  const delivery = { jobId, segment, cid: receipt.cid, sha256: receipt.sha256, frameCount };
  const providerSig = await signDelivery(provider, chain.domain, delivery);
  const asProvider = connectContracts(provider, chain.deployment);
  await (await asProvider.escrow.claim(assignmentStruct(assignment), coordinatorSig, deliveryStruct(delivery), providerSig)).wait();
  const asClient = connectContracts(chain.client, chain.deployment);
  const bond = BigInt((await asClient.escrow.getJob(jobId)).disputeBond);
  if (bond > 0n) await (await asClient.token.approve(chain.deployment.escrow, bond)).wait();
  await (await asClient.escrow.dispute(jobId, segment)).wait();
}

function arbiter(
  specs: SpecSource,
  journal: ArbiterJournal,
  metrics = new ArbiterMetrics({ defaultMetrics: false }),
  onOutcome?: (o: DisputeOutcome) => void,
  /** A seam: runs before each verification, with the segment about to be verified. */
  beforeVerify?: (segment: number) => Promise<void>,
): Arbiter {
  const real = new SegmentVerifier(defaultVerifierComponents({ store: memoryStore as never, spot }), {
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

const stakeOf = async (address: string) => BigInt((await chain.contracts.registry.getProvider(address)).stake);
const claimStatus = async (jobId: string, segment: number) => BigInt((await chain.contracts.escrow.getClaim(jobId, segment)).status);

beforeAll(async () => {
  chain = await startTestChain({ allowedModels: [model.manifest.id] });
  spot = await createSpotRenderer({ models: [model] });
  const provider = chain.providers[0]!;
  const c = connectContracts(provider, chain.deployment);
  await (await c.token.approve(chain.deployment.registry, 1000n * MESH)).wait();
  await (await c.registry.register("0x0024080112201234", MESH / 10n, [model.manifest.id], 1000n * MESH)).wait();
});

afterAll(async () => {
  await spot?.close();
  await closeRenderer();
  await chain?.stop();
  dir.cleanup();
});

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

    const provider = chain.providers[0]!.address;
    const stakeBefore = await stakeOf(provider);
    const balanceBefore = BigInt(await chain.contracts.escrow.balanceOf(provider));
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
    const { deadlineAt } = await chain.contracts.escrow.getClaim(jobId, 1);
    await chain.increaseTime(Number(deadlineAt) - (await chain.chainTime()) - 300);
    const last = await arbiter({ spec: async () => spec }, journal, metrics).catchUp();
    expect(last.map((o) => [o.segment, o.verdict])).toEqual([[1, "refuse"]]);
    expect(last[0]!.reason).toMatch(/^fetch:.*whole arbiter window/);
    expect(await claimStatus(jobId, 0)).toBe(CLAIM_PAID);
    expect(await claimStatus(jobId, 1)).toBe(CLAIM_REFUSED);
    expect(await claimStatus(jobId, 2)).toBe(CLAIM_REFUSED);
    expect(BigInt(await chain.contracts.escrow.balanceOf(provider))).toBeGreaterThan(balanceBefore);
    const minStake = BigInt(await chain.contracts.policy.minProviderStake());
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
    const { deadlineAt } = await chain.contracts.escrow.getClaim(jobId, 3);
    await chain.increaseTime(Number(deadlineAt) - (await chain.chainTime()) + 1);
    await (await chain.contracts.escrow.finalizeClaim(jobId, 3)).wait();
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
    const sent = await chain.provider.getTransaction(tx);
    expect(chain.contracts.escrow.interface.parseTransaction({ data: sent!.data })!.name).toBe("resolveDisputes");
    expect(await Promise.all(segments.map((s) => claimStatus(jobId, s)))).toEqual([CLAIM_PAID, CLAIM_PAID, CLAIM_REFUSED]);
    const rows = journal.all().filter((r) => r.jobId === jobId.toLowerCase());
    expect(rows.map((r) => [r.segment, r.tx, r.batchSize])).toEqual(segments.map((s) => [s, tx, 3]));
    expect(await metrics.registry.getSingleMetricAsString("rendermesh_arbiter_resolution_transactions_total")).toMatch(/kind="batch"} 1/);
    expect(await metrics.registry.getSingleMetricAsString("rendermesh_arbiter_disputes_resolved_total")).toMatch(/ 3$/m);
    journal.close();
  });

  test("behavior: a batch holding a claim finalised meanwhile falls back to one resolveDispute each, and the others still resolve", async () => {
    // An open job whose deadline is beyond the arbiter window, so that its claims stay open after one window passes.
    const { jobId } = await chain.openJob({ spec, deadlineIn: 5 * 86_400 });
    const first = await honestSegment(0);
    const firstCid = (await segmentCid(first)).toString();
    blocks.set(firstCid, first);
    await claimAndDispute(jobId, 0, { cid: firstCid, sha256: sha256Hex(first) }, true);
    // Segment 0's arbiter window passes: anyone may finalise it now (in the provider's favour).
    const { deadlineAt } = await chain.contracts.escrow.getClaim(jobId, 0);
    await chain.increaseTime(Number(deadlineAt) - (await chain.chainTime()) + 1);
    for (const segment of [1, 2]) {
      const bytes = await honestSegment(segment);
      const cid = (await segmentCid(bytes)).toString();
      blocks.set(cid, bytes);
      await claimAndDispute(jobId, segment, { cid, sha256: sha256Hex(bytes) }, true);
    }
    const journal = new ArbiterJournal(join(dir.dir, "fallback.db"));
    const metrics = new ArbiterMetrics({ defaultMetrics: false });
    // The seam: while the arbiter verifies segment 2 (segment 0 decided already), someone finalises segment 0.
    const someone = connectContracts(chain.providers[1]!, chain.deployment);
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
