import { describe, expect, test } from "vitest";
import { MESH } from "@rendermesh/testing";
import { PaymentLoop } from "../src/chain/payments.js";
import { NET, paymentSpec as spec, usePaymentRig } from "./helpers/payments.js";
import { testLogger } from "./helpers/provider.js";

describe("payments: vouchers, claims, withdraw, status", () => {
  // Each test gets the chain as it was before the first and its own provider, so each earns only what it earns.
  const rig = usePaymentRig();

  /** A job of `seed` rendered and vouchered in full, whose deadline is near enough that the next pass redeems it. */
  async function redeemedJob(seed: number): Promise<`0x${string}`> {
    const s = spec(seed);
    const { jobId } = await rig.chain.openJob({ spec: s, deadlineIn: 300 });
    await rig.renderAll(jobId, s);
    expect(await rig.sendVoucher(jobId, 2)).toMatchObject({ type: "voucher-ack", seconds: 2 });
    const tick = await rig.provider.payments.tick();
    expect(tick.redeemed).toEqual([expect.objectContaining({ jobId, seconds: 2, amount: 2n * NET })]);
    return jobId;
  }

  test("behavior: a voucher is redeemed by itself once the job's deadline is near, not before", async () => {
    const s = spec(1);
    const { jobId } = await rig.chain.openJob({ spec: s, deadlineIn: 1_800 });
    await rig.renderAll(jobId, s);
    const ack = await rig.sendVoucher(jobId, 2);
    expect(ack).toMatchObject({ type: "voucher-ack", seconds: 2 });

    const early = await rig.provider.payments.tick();
    expect(early.redeemed).toEqual([]);
    expect(await rig.chain.contracts.escrow.paidSeconds(jobId, rig.provider.address)).toBe(0n);

    await rig.chain.increaseTime(1_300);
    const near = await rig.provider.payments.tick();
    expect(near.redeemed).toEqual([expect.objectContaining({ jobId, seconds: 2, amount: 2n * NET })]);
    expect(await rig.chain.contracts.escrow.paidSeconds(jobId, rig.provider.address)).toBe(2n);
    expect(rig.provider.journal.getVoucher(jobId)).toMatchObject({ redeemedSeconds: 2 });
    expect(rig.provider.journal.listAssignments({ jobId }).map((a) => a.payState)).toEqual(["covered", "covered"]);
  }, 120_000);

  test("behavior: delivered segments without a voucher are claimed after the deadline and finalised after the dispute window", async () => {
    const s = spec(2);
    const { jobId, deadline } = await rig.chain.openJob({ spec: s, deadlineIn: 300 });
    // Assignments end with the job (a claim needs its assignment's deadline passed): this used to pass only when an
    // earlier test had moved the chain's clock past the fake coordinator's wall-clock deadline.
    await rig.renderAll(jobId, s, deadline);
    expect((await rig.provider.payments.tick()).claimed).toEqual([]);

    await rig.chain.increaseTime(301);
    const claimed = await rig.provider.payments.tick();
    expect(claimed.claimed.filter((c) => c.jobId === jobId).map((c) => c.segment)).toEqual([0, 1]);
    expect(rig.provider.journal.listAssignments({ jobId }).map((a) => a.payState)).toEqual(["claimed", "claimed"]);
    expect(Number((await rig.chain.contracts.escrow.getClaim(jobId, 0)).status)).toBe(1);

    const before = await rig.chain.contracts.escrow.balanceOf(rig.provider.address);
    await rig.chain.increaseTime(61);
    const finalized = await rig.provider.payments.tick();
    expect(finalized.finalized.filter((f) => f.jobId === jobId).map((f) => f.amount)).toEqual([NET, NET]);
    expect(await rig.chain.contracts.escrow.balanceOf(rig.provider.address)).toBe(before + 2n * NET);
    expect(rig.provider.journal.listAssignments({ jobId }).map((a) => a.payState)).toEqual(["finalized", "finalized"]);
  }, 120_000);

  test("behavior: with the coordinator unreachable, claims wait until half the claim window has passed, then go ahead", async () => {
    const s = spec(5);
    const { jobId, deadline } = await rig.chain.openJob({ spec: s, deadlineIn: 300 });
    await rig.renderAll(jobId, s, deadline);
    // The seam: the loop's question to the coordinator (which copies did the client verify?) never gets an answer.
    const asked: string[] = [];
    const unreachable = new PaymentLoop(
      {
        address: rig.provider.address,
        chain: rig.provider.chain,
        escrow: rig.provider.chain,
        journal: rig.provider.journal,
        logger: testLogger(),
        verifiedCopies: async (id) => {
          asked.push(id.toLowerCase());
          throw new Error("coordinator unreachable");
        },
      },
      { redeemBeforeDeadlineSeconds: 600, redeemAfterQuietSeconds: 86_400 },
    );
    // Chain time set exactly (the block's own timestamp), so no second of the machine's speed decides the outcome.
    const mineAt = async (t: number) => {
      await rig.chain.provider.send("evm_setNextBlockTimestamp", [t]);
      await rig.chain.provider.send("evm_mine", []);
    };
    // The claim window is 600 s: past the deadline, but short of deadline + 300 s, the claims wait.
    await mineAt(deadline + 1);
    const early = await unreachable.tick();
    expect(asked).toContain(jobId.toLowerCase());
    expect(early.claimed).toEqual([]);
    expect(early.errors).toEqual([]);
    expect(rig.provider.journal.listAssignments({ jobId }).map((a) => a.payState)).toEqual(["unpaid", "unpaid"]);
    expect(Number((await rig.chain.contracts.escrow.getClaim(jobId, 0)).status)).toBe(0);

    // Still one second short of half the window: still waiting.
    await mineAt(deadline + 299);
    expect((await unreachable.tick()).claimed).toEqual([]);

    // Half the window has passed: a provider that delivered is paid whatever the coordinator does, so it claims.
    await mineAt(deadline + 300);
    const late = await unreachable.tick();
    expect(late.claimed.map((c) => c.segment)).toEqual([0, 1]);
    expect(rig.provider.journal.listAssignments({ jobId }).map((a) => a.payState)).toEqual(["claimed", "claimed"]);
  }, 120_000);

  test("behavior: a settle by the client is noticed and recorded as earnings", async () => {
    const s = spec(3);
    const { jobId } = await rig.chain.openJob({ spec: s });
    await rig.renderAll(jobId, s);
    const { connectContracts } = await import("@rendermesh/shared/chain");
    // The provider acknowledges its two seconds with the voucher; the client's settle is cooperative and closes the job.
    const ack = await rig.sendVoucher(jobId, 2);
    if (ack.type !== "voucher-ack" || !ack.acknowledgement || !ack.allocation)
      throw new Error(`no acknowledgement: ${JSON.stringify(ack)}`);
    const entry = {
      provider: rig.provider.address,
      totalSeconds: 2,
      allocated: ack.allocation.seconds,
      allocationSig: ack.allocation.signature,
      acknowledgementSig: ack.acknowledgement,
    };
    await (await connectContracts(rig.chain.client, rig.chain.deployment).escrow.settle(jobId, [entry])).wait();
    const tick = await rig.provider.payments.tick();
    expect(tick.settled).toEqual([expect.objectContaining({ jobId, seconds: 2, amount: 2n * NET })]);
    expect(rig.provider.journal.getJob(jobId)).toMatchObject({ status: "settled", paidSeconds: 2, done: true });
    expect(rig.provider.journal.listAssignments({ jobId }).map((a) => a.payState)).toEqual(["covered", "covered"]);
  }, 120_000);

  test("behavior: a client that has gone quiet has its voucher redeemed before the deadline", async () => {
    const s = spec(4);
    const { jobId } = await rig.chain.openJob({ spec: s, deadlineIn: 7_200 });
    await rig.renderAll(jobId, s);
    await rig.sendVoucher(jobId, 2);
    // The same loop, seen from an hour later by the wall clock: the client has said nothing since.
    const later = new PaymentLoop(
      {
        address: rig.provider.address,
        chain: rig.provider.chain,
        escrow: rig.provider.chain,
        journal: rig.provider.journal,
        logger: testLogger(),
        now: () => Date.now() + 3_600_000,
      },
      { redeemAfterQuietSeconds: 900, redeemBeforeDeadlineSeconds: 60 },
    );
    expect((await rig.provider.payments.tick()).redeemed.filter((r) => r.jobId === jobId)).toEqual([]);
    const tick = await later.tick();
    expect(tick.redeemed).toEqual([expect.objectContaining({ jobId, seconds: 2, amount: 2n * NET })]);
  }, 120_000);

  test("default: `status --json` shows stake, earnings, pending vouchers and claims", async () => {
    // One job redeemed in full; another with one of its two delivered seconds vouchered and nothing redeemed yet.
    await redeemedJob(10);
    const s = spec(11);
    const { jobId: pendingJob } = await rig.chain.openJob({ spec: s, deadlineIn: 3_600 });
    await rig.renderAll(pendingJob, s);
    await rig.sendVoucher(pendingJob, 1);

    const r = await rig.cli("status", "--json");
    expect(r.code).toBe(0);
    const status = JSON.parse(r.out) as Record<string, unknown>;
    expect(status).toMatchObject({
      address: rig.provider.address,
      registered: true,
      stake: (100n * MESH).toString(),
      peerIdBound: true,
      pendingVoucherSeconds: 1,
      pendingVouchers: [{ jobId: pendingJob, seconds: 1, redeemedSeconds: 0 }],
    });
    // Only the second job's segments are still to be paid (the first's are covered by its redeemed voucher).
    expect(new Set((status.claims as Array<{ jobId: string }>).map((c) => c.jobId))).toEqual(new Set([pendingJob]));
    expect(BigInt(status.earned as string)).toBe(2n * NET);
    expect(BigInt(status.escrowBalance as string)).toBe(2n * NET);
  }, 120_000);

  test("default: `withdraw` moves the escrow balance to the wallet", async () => {
    await redeemedJob(20);
    const before = await rig.chain.contracts.token.balanceOf(rig.provider.address);
    const r = await rig.cli("withdraw", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ withdrawn: (2n * NET).toString() });
    expect(await rig.chain.contracts.token.balanceOf(rig.provider.address)).toBe(before + 2n * NET);
    expect(await rig.chain.contracts.escrow.balanceOf(rig.provider.address)).toBe(0n);
    const again = await rig.cli("withdraw");
    expect(again.out).toContain("nothing to withdraw");
  }, 120_000);

  test("default: `unstake --request` then `--withdraw` after the cooldown returns stake", async () => {
    const requested = await rig.cli("unstake", "--request", "10", "--json");
    expect(requested.code).toBe(0);
    expect(JSON.parse(requested.out)).toMatchObject({ requested: (10n * MESH).toString() });
    const tooSoon = await rig.cli("unstake", "--withdraw");
    expect(tooSoon.code).toBe(1);
    expect(tooSoon.err).toMatch(/ProviderRegistryUnstakeNotReady/);
    await rig.chain.increaseTime(61);
    const before = await rig.chain.contracts.token.balanceOf(rig.provider.address);
    const withdrawn = await rig.cli("unstake", "--withdraw", "--json");
    expect(withdrawn.code).toBe(0);
    expect(await rig.chain.contracts.token.balanceOf(rig.provider.address)).toBe(before + 10n * MESH);
  }, 60_000);
});
