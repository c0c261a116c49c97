// Each attack of issue 12, performed against the deployed contracts, fails: the honest party keeps what is theirs.
import { expect } from "chai";
import { network } from "hardhat";
import type { Contract } from "ethers";
import {
  CLAIM_WINDOW,
  DISPUTE_WINDOW,
  MESH,
  MIN_STAKE,
  PRICE,
  SPEC,
  VOUCHER_TYPES,
  escrowFixture,
  netPerSecond,
} from "./helpers/fixtures.js";

const connection = await network.create();
const { ethers } = connection;
const { load, openJob, voucher, entries, allocation, acknowledgement, claimArgs, attributeArgs, now, increaseTime, increaseTo } =
  escrowFixture(connection);
const NET = netPerSecond();
const Status = { Open: 1n, Settled: 2n, Refunded: 3n, Closing: 4n };
const Claim = { Paid: 3n, Refused: 4n };

describe("attacks (issue 12): each fails", () => {
  it("1. free video: settle(jobId, []) after delivery does not refund the deposit; the provider claims and is paid", async () => {
    const f = await load();
    const { jobId } = await openJob(f, 2, PRICE, 100n);
    // Both segments delivered (assignments signed, deliveries signed); the client settles with nobody.
    await f.escrow.connect(f.client).settle(jobId, []);
    expect((await f.escrow.getJob(jobId)).status).to.equal(Status.Closing);
    for (const segment of [0, 1]) await f.escrow.claim(...(await claimArgs(f, jobId, segment, f.provider1)));
    await increaseTime(DISPUTE_WINDOW + 1n);
    for (const segment of [0, 1]) await f.escrow.finalizeClaim(jobId, segment);
    expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(2n * NET);
    await increaseTo((await f.escrow.getJob(jobId)).closesAt + 1n);
    await expect(f.escrow.refund(jobId)).to.emit(f.escrow, "JobRefunded").withArgs(jobId, 0);
  });

  it("1b. settling low: a provider holding a 10-second voucher, settled for 3, redeems the other 7", async () => {
    const f = await load();
    const { jobId } = await openJob(f, 10);
    const v = await voucher(f, jobId, f.provider1.address, 10);
    await f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider1.address], [3], false));
    await expect(f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig))
      .to.emit(f.escrow, "VoucherRedeemed")
      .withArgs(jobId, f.provider1.address, 10, 7n * NET);
    expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(10n * NET);
  });

  it("1c. settling low with a stale acknowledgement leaves the job closing, and the provider redeems the rest", async () => {
    const f = await load();
    const { jobId } = await openJob(f, 10);
    const v = await voucher(f, jobId, f.provider1.address, 10);
    // The provider acknowledged 3 seconds earlier; the client uses that acknowledgement to settle 3 of 10.
    await f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider1], [3]));
    expect((await f.escrow.getJob(jobId)).status).to.equal(Status.Closing);
    await f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig);
    expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(10n * NET);
  });

  it("2. front-running: the client's settle ordered before the provider's redeem does not make the redeem revert", async () => {
    const f = await load();
    const { jobId } = await openJob(f, 6);
    const v = await voucher(f, jobId, f.provider1.address, 6);
    // The provider's redeem is pending; the client's settle (listing it for nothing) lands first.
    await f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider1.address], [0], false));
    await expect(f.escrow.connect(f.provider1).redeem(v.voucher, v.signature, v.allocated, v.allocationSig))
      .to.emit(f.escrow, "VoucherRedeemed")
      .withArgs(jobId, f.provider1.address, 6, 6n * NET);
  });

  it("3. diverting the deposit: vouchers and settle entries to the client's own address are refused", async () => {
    const f = await load();
    const { jobId } = await openJob(f, 4);
    const own = f.stranger; // an address the client controls
    // No coordinator allocation for it: a self-made "allocation" is not the coordinator's signature.
    const diverted = await voucher(f, jobId, own.address, 4);
    const fake = await allocation(f, jobId, own.address, 4, f.client);
    await expect(f.escrow.redeem(diverted.voucher, diverted.signature, 4, fake))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner")
      .withArgs(f.coordinator.address);
    const ownEntry = {
      provider: own.address,
      totalSeconds: 4,
      allocated: 4,
      allocationSig: fake,
      acknowledgementSig: await acknowledgement(f, jobId, own, 4),
    };
    await expect(f.escrow.connect(f.client).settle(jobId, [ownEntry]))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner")
      .withArgs(f.coordinator.address);
    // A voucher beyond what the coordinator allocated an honest provider is refused too.
    const over = await voucher(f, jobId, f.provider2.address, 4, f.client, 2);
    await expect(f.escrow.redeem(over.voucher, over.signature, over.allocated, over.allocationSig))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowOverAllocation")
      .withArgs(f.provider2.address, 4, 2);
    // The honest provider's voucher is paid in full.
    const honest = await voucher(f, jobId, f.provider1.address, 4);
    await f.escrow.redeem(honest.voucher, honest.signature, honest.allocated, honest.allocationSig);
    expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(4n * NET);
  });

  it("4. settling inside the claim window with no claim pending does not cut off providers that have not claimed", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 3, PRICE, 100n);
    await increaseTo(deadline + CLAIM_WINDOW - 5n);
    await f.escrow.connect(f.client).settle(jobId, []);
    // The challenge window runs a full claim window from the settle.
    await increaseTo(deadline + CLAIM_WINDOW + 10n);
    await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)))).to.emit(f.escrow, "SegmentClaimed");
  });

  it("5. no maximum deadline: a deadline beyond the policy's maxDeadlineDistance is refused", async () => {
    const f = await load();
    const max = await f.policy.maxDeadlineDistance();
    const far = (await now()) + 365n * 86_400n;
    await expect(
      f.escrow.connect(f.client).openJob(SPEC, f.coordinator.address, 10, PRICE, far, await f.policy.version()),
    ).to.be.revertedWithCustomError(f.escrow, "JobEscrowDeadlineTooFar");
    expect(max).to.equal(30n * 86_400n);
  });

  it("6. a silent arbiter does not lock the deposit: past the arbiter window anyone finalises for the provider", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 2, PRICE, 100n);
    await increaseTo(deadline + 1n);
    await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)));
    await f.escrow.connect(f.client).dispute(jobId, 0);
    const until = (await f.escrow.getClaim(jobId, 0)).deadlineAt;
    await increaseTo(until + 1n);
    await expect(f.escrow.connect(f.arbiter).resolveDispute(jobId, 0, false, MESH))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowArbiterWindowClosed")
      .withArgs(until);
    await expect(f.escrow.connect(f.stranger).finalizeClaim(jobId, 0))
      .to.emit(f.escrow, "ClaimFinalized")
      .withArgs(jobId, 0, f.provider1.address, NET + MESH);
    await expect(f.escrow.refund(jobId)).to.emit(f.escrow, "JobRefunded").withArgs(jobId, PRICE);
  });

  it("7a. disputes are not free: each costs the client a bond (batched disputes one bond each)", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 3, PRICE, 100n);
    await increaseTo(deadline + 1n);
    for (const segment of [0, 1, 2]) await f.escrow.claim(...(await claimArgs(f, jobId, segment, f.provider1)));
    await expect(f.escrow.connect(f.client).disputeMany(jobId, [0, 1, 2])).to.changeTokenBalances(
      ethers,
      f.token,
      [f.client, f.escrow],
      [-3n * MESH, 3n * MESH],
    );
    // The arbiter pays the honest segments in one batch: the provider gets each second and each bond.
    await f.escrow.connect(f.arbiter).resolveDisputes(jobId, [0, 1, 2], [true, true, true], [0, 0, 0]);
    expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(3n * (NET + MESH));
    await expect(f.escrow.connect(f.arbiter).resolveDisputes(jobId, [0], [], [])).to.be.revertedWithCustomError(
      f.escrow,
      "JobEscrowLengthMismatch",
    );
  });

  it("7b. a made-up claim is refused and slashed, half of the slash to the client; the segment reopens for the real renderer", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 2, PRICE, 100n);
    await increaseTo(deadline + 1n);
    // The coordinator's own provider claims segment 0 with a made-up CID.
    await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider3, { delivery: { cid: "0x01551220" + "00".repeat(32) } })));
    await f.escrow.connect(f.client).dispute(jobId, 0);
    await f.escrow.connect(f.arbiter).resolveDispute(jobId, 0, false, 50n * MESH);
    expect((await f.escrow.getClaim(jobId, 0)).status).to.equal(Claim.Refused);
    expect(await f.escrow.balanceOf(f.client.address)).to.equal(MESH + 25n * MESH);
    // The provider that really rendered it claims the segment and is paid.
    await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)));
    await increaseTime(DISPUTE_WINDOW + 1n);
    await f.escrow.finalizeClaim(jobId, 0);
    expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(NET);
  });

  it("7c. one segment is not paid twice by claims: a paid segment cannot be claimed by a speculative copy's provider", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 2, PRICE, 100n);
    await increaseTo(deadline + 1n);
    await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)));
    await increaseTime(DISPUTE_WINDOW + 1n);
    await f.escrow.finalizeClaim(jobId, 0);
    await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider2))))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowSegmentAlreadyClaimed")
      .withArgs(jobId, 0);
  });

  it("7d. one segment is not paid twice by voucher and claim: the speculative copy's claim on a voucher-paid segment is dropped", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 2, PRICE, 100n);
    // provider1 rendered segments 0 and 1 and the client paid it for segment 0 (1 s); provider2 rendered a speculative
    // copy of segment 0, which the client did not use. Segment 1 never verified.
    const v = await voucher(f, jobId, f.provider1.address, 1, f.client, 2);
    await f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig);
    await increaseTo(deadline + 1n);
    await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider2)));
    expect((await f.escrow.getJob(jobId)).reservedSeconds).to.equal(1n);
    // The client records that provider1's voucher paid segment 0: provider2's claim is dropped, its stake unlocked.
    await expect(f.escrow.connect(f.client).attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 1, [0], { allocated: 2 }))))
      .to.emit(f.escrow, "SegmentAttributed")
      .withArgs(jobId, 0, f.provider1.address, f.provider2.address);
    expect(await f.registry.lockedStake(f.provider2.address)).to.equal(0n);
    await increaseTime(DISPUTE_WINDOW + 1n);
    await expect(f.escrow.finalizeClaim(jobId, 0)).to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimNotPending");
    await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider2))))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowSegmentAlreadyClaimed")
      .withArgs(jobId, 0);
    // provider1 is still paid exactly its voucher; segment 0 was paid once, and the unpaid second returns.
    expect(await f.escrow.paidSeconds(jobId, f.provider1.address)).to.equal(1n);
    expect(await f.escrow.paidSeconds(jobId, f.provider2.address)).to.equal(0n);
    const job = await f.escrow.getJob(jobId);
    expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([1n, 0n, 0n]);
    await increaseTo(deadline + CLAIM_WINDOW + 1n);
    await expect(f.escrow.refund(jobId)).to.emit(f.escrow, "JobRefunded").withArgs(jobId, PRICE);
  });

  it("7e. the client cannot use attributions to keep more segments from claims than it paid for", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 3, PRICE, 100n);
    const v = await voucher(f, jobId, f.provider1.address, 1, f.client, 3);
    await f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig);
    await f.escrow.connect(f.client).attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 1, [0], { allocated: 3 })));
    // provider1's one paid second is used up: segment 1 cannot also be said to be paid by it.
    await expect(f.escrow.connect(f.client).attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 1, [1], { allocated: 3 }))))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowNothingToAttribute")
      .withArgs(jobId, f.provider1.address, 1);
    // A provider that was paid nothing cannot be said to have been paid for a segment.
    await expect(f.escrow.connect(f.client).attributeSegment(...(await attributeArgs(f, jobId, f.provider3, 0, [1]))))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowNothingToAttribute")
      .withArgs(jobId, f.provider3.address, 0);
    // Nor can an attribution be made up: it needs the coordinator's assignment and the provider's own delivery.
    await expect(
      f.escrow
        .connect(f.client)
        .attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 1, [1], { allocated: 3, claim: { coordinator: f.client } }))),
    ).to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner");
    await expect(
      f.escrow
        .connect(f.client)
        .attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 1, [1], { allocated: 3, claim: { deliverySigner: f.client } }))),
    ).to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner");
    // The provider may attribute only what its voucher cannot be paid without (it cannot use it to block a rival's
    // claim), and nobody else but the client may attribute at all.
    await expect(f.escrow.connect(f.provider1).attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 1, [2], { allocated: 3 }))))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowAttributionNotNeeded")
      .withArgs(jobId, 2);
    await expect(f.escrow.connect(f.stranger).attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 1, [2], { allocated: 3 }))))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowUnauthorized")
      .withArgs(f.stranger.address, f.client.address);
    // provider2 honestly rendered segment 1, which nobody was paid for: its claim is paid.
    await increaseTo(deadline + 1n);
    await f.escrow.claim(...(await claimArgs(f, jobId, 1, f.provider2)));
    await increaseTime(DISPUTE_WINDOW + 1n);
    await f.escrow.finalizeClaim(jobId, 1);
    expect(await f.escrow.balanceOf(f.provider2.address)).to.equal(NET);
    // And an attributed segment cannot be claimed by its own provider for a second payment either.
    await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1))))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowSegmentAlreadyClaimed")
      .withArgs(jobId, 0);
  });

  it("7f. a disputed copy's claim dropped by attribution returns the client's bond; a paid claim cannot be attributed away", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 4, PRICE, 100n);
    const v = await voucher(f, jobId, f.provider1.address, 2, f.client, 3);
    await f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig);
    await increaseTo(deadline + 1n);
    await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider2)));
    await f.escrow.claim(...(await claimArgs(f, jobId, 1, f.provider3)));
    const bond = (await f.escrow.getJob(jobId)).disputeBond;
    await f.token.connect(f.client).approve(await f.escrow.getAddress(), 2n ** 255n);
    await f.escrow.connect(f.client).dispute(jobId, 0);
    await f.escrow.connect(f.client).attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 2, [0], { allocated: 3 })));
    expect(await f.escrow.balanceOf(f.client.address)).to.equal(bond);
    // The client missed segment 1's dispute window: that claim is final, and its payment cannot be taken back.
    await increaseTime(DISPUTE_WINDOW + 1n);
    await f.escrow.finalizeClaim(jobId, 1);
    await expect(f.escrow.connect(f.client).attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 2, [1], { allocated: 3 }))))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowSegmentAlreadyClaimed")
      .withArgs(jobId, 1);
    // A copy the arbiter refused cannot be said to be the one the client paid for, so as to keep the segment from
    // the provider that really rendered it.
    await f.escrow.claim(...(await claimArgs(f, jobId, 2, f.provider1)));
    await f.escrow.connect(f.client).dispute(jobId, 2);
    await f.escrow.connect(f.arbiter).resolveDispute(jobId, 2, false, 0);
    await expect(f.escrow.connect(f.client).attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 2, [2], { allocated: 3 }))))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowSegmentAlreadyClaimed")
      .withArgs(jobId, 2);
  });

  for (const sender of ["provider", "client"] as const) {
    it(`7g. a speculative claim that took the last free second does not stop the verified provider's voucher: the ${sender} drops it and pays the voucher in one call`, async () => {
      const f = await load();
      const { jobId, deadline } = await openJob(f, 3, PRICE, 100n);
      // provider1 rendered segments 0-2 and the client verified them all and signed it a 3-second voucher;
      // provider2 rendered a speculative copy of segment 2 that the client did not use.
      const v = await voucher(f, jobId, f.provider1.address, 3);
      await increaseTo(deadline + 1n);
      // Before provider1 redeems, provider2 claims segment 2, reserving the job's last free second...
      await f.escrow.claim(...(await claimArgs(f, jobId, 2, f.provider2)));
      // ...so the voucher the client paid can no longer be redeemed in full.
      await expect(f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowSecondsExceeded")
        .withArgs(jobId, 3, 2);
      // The speculative claimant cannot attribute provider1's voucher to protect its own claim (nor can a stranger).
      const args = await attributeArgs(f, jobId, f.provider1, 3, [2]);
      for (const other of [f.provider2, f.stranger]) {
        await expect(f.escrow.connect(other).attributeSegment(...args))
          .to.be.revertedWithCustomError(f.escrow, "JobEscrowUnauthorized")
          .withArgs(other.address, f.client.address);
      }
      // Nor can the segment be attributed without the coordinator's assignment of it to provider1.
      await expect(
        f.escrow
          .connect(f.provider1)
          .attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 3, [2], { claim: { coordinator: f.stranger } }))),
      ).to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner");
      const caller = sender === "provider" ? f.provider1 : f.client;
      await expect(f.escrow.connect(caller).attributeSegment(...args))
        .to.emit(f.escrow, "SegmentAttributed")
        .withArgs(jobId, 2, f.provider1.address, f.provider2.address)
        .and.to.emit(f.escrow, "VoucherRedeemed")
        .withArgs(jobId, f.provider1.address, 3, 3n * NET);
      // provider1 is paid the voucher in full; provider2 is not paid for segment 2 and its stake is free again.
      expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(3n * NET);
      expect(await f.escrow.paidSeconds(jobId, f.provider2.address)).to.equal(0n);
      expect(await f.registry.lockedStake(f.provider2.address)).to.equal(0n);
      await increaseTime(DISPUTE_WINDOW + 1n);
      await expect(f.escrow.finalizeClaim(jobId, 2)).to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimNotPending");
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 2, f.provider2))))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowSegmentAlreadyClaimed")
        .withArgs(jobId, 2);
      // No second is paid twice: neither the voucher again, nor the attribution again.
      await expect(f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig)).to.be.revertedWithCustomError(
        f.escrow,
        "JobEscrowNothingOwed",
      );
      await expect(f.escrow.connect(f.client).attributeSegment(...args)).to.be.revertedWithCustomError(
        f.escrow,
        "JobEscrowSegmentAlreadyClaimed",
      );
      const job = await f.escrow.getJob(jobId);
      expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([3n, 0n, 0n]);
      // Tokens are conserved to the wei: the deposit is exactly what the escrow holds and what its accounts can take.
      await increaseTo(deadline + CLAIM_WINDOW + 1n);
      await expect(f.escrow.refund(jobId)).to.emit(f.escrow, "JobRefunded").withArgs(jobId, 0);
      const accounts = [f.provider1, f.provider2, f.coordinator, f.treasury, f.client];
      let owed = 0n;
      for (const a of accounts) owed += await f.escrow.balanceOf(a.address);
      expect(owed).to.equal(3n * PRICE);
      expect(await f.token.balanceOf(await f.escrow.getAddress())).to.equal(3n * PRICE);
    });
  }

  it("7h. the verified provider cannot drop more claims than its voucher needs: an honest claim on a segment nobody paid for stays paid", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 4, PRICE, 100n);
    // provider1 is paid for segments 0-2 (a 3-second voucher, 4 segments allocated: it also rendered a copy of 3);
    // provider2 claims its speculative copy of 2; provider3 claims segment 3, which the client never paid anyone for.
    const v = await voucher(f, jobId, f.provider1.address, 3, f.client, 4);
    await increaseTo(deadline + 1n);
    await f.escrow.claim(...(await claimArgs(f, jobId, 2, f.provider2)));
    await f.escrow.claim(...(await claimArgs(f, jobId, 3, f.provider3)));
    await expect(f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig)).to.be.revertedWithCustomError(
      f.escrow,
      "JobEscrowSecondsExceeded",
    );
    // Dropping segment 2's claim is enough; dropping segment 3's too would block provider3's honest claim.
    await expect(
      f.escrow.connect(f.provider1).attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 3, [2, 3], { allocated: 4 }))),
    )
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowAttributionNotNeeded")
      .withArgs(jobId, 3);
    await f.escrow.connect(f.provider1).attributeSegment(...(await attributeArgs(f, jobId, f.provider1, 3, [2], { allocated: 4 })));
    await increaseTime(DISPUTE_WINDOW + 1n);
    await f.escrow.finalizeClaim(jobId, 3);
    expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(3n * NET);
    expect(await f.escrow.balanceOf(f.provider3.address)).to.equal(NET);
    expect(await f.escrow.balanceOf(f.provider2.address)).to.equal(0n);
    expect((await f.escrow.getJob(jobId)).paidSeconds).to.equal(4n);
  });

  it("8. stake backing open claims cannot be withdrawn, and one stake cannot back unlimited claims", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 20, 300n * MESH, 100n);
    await increaseTo(deadline + 1n);
    await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)));
    expect(await f.registry.lockedStake(f.provider1.address)).to.equal(300n * MESH);
    const stake = MIN_STAKE * 10n;
    await expect(f.registry.connect(f.provider1).requestUnstake(stake))
      .to.be.revertedWithCustomError(f.registry, "ProviderRegistryStakeLocked")
      .withArgs(stake, 300n * MESH, stake);
    // 1000 MESH staked: three claims of 300 MESH each are covered, a fourth is not.
    await f.escrow.claim(...(await claimArgs(f, jobId, 1, f.provider1)));
    await f.escrow.claim(...(await claimArgs(f, jobId, 2, f.provider1)));
    await expect(f.escrow.claim(...(await claimArgs(f, jobId, 3, f.provider1)))).to.be.revertedWithCustomError(
      f.registry,
      "ProviderRegistryStakeTooLow",
    );
    await increaseTime(DISPUTE_WINDOW + 1n);
    for (const segment of [0, 1, 2]) await f.escrow.finalizeClaim(jobId, segment);
    expect(await f.registry.lockedStake(f.provider1.address)).to.equal(0n);
    await expect(f.registry.connect(f.provider1).requestUnstake(stake)).to.emit(f.registry, "UnstakeRequested");
  });

  it("9. policy changes do not reach into open jobs: windows and the bond are the job's own", async () => {
    const f = await load();
    const { jobId, deadline } = await openJob(f, 2, PRICE, 100n);
    await increaseTo(deadline + 1n);
    await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)));
    const until = (await f.escrow.getClaim(jobId, 0)).deadlineAt;
    // The DAO shortens the dispute window, lengthens the claim window a hundredfold and raises the bond.
    await f.policy.connect(f.governance).setDisputeWindow(1);
    await f.policy.connect(f.governance).setClaimWindow(CLAIM_WINDOW * 100n);
    await f.policy.connect(f.governance).setDisputeBond(50n * MESH);
    await expect(f.policy.connect(f.governance).setDisputeBond(2n ** 96n)).to.be.revertedWithCustomError(
      f.policy,
      "ContentPolicyBondTooLarge",
    );
    await increaseTime(2);
    // The client can still dispute within the job's window, for the job's bond.
    await expect(f.escrow.connect(f.client).dispute(jobId, 0)).to.changeTokenBalances(ethers, f.token, [f.client], [-MESH]);
    expect(until).to.be.greaterThan(await now());
    await f.escrow.connect(f.arbiter).resolveDispute(jobId, 0, true, 0);
    // The refund comes after the job's claim window, not the new one.
    await increaseTo(deadline + CLAIM_WINDOW + 1n);
    await expect(f.escrow.refund(jobId)).to.emit(f.escrow, "JobRefunded");
  });

  it("10. a contract wallet (ERC-1271) can open a job and sign vouchers and acknowledgements", async () => {
    const f = await load();
    // (A test mock: typechain makes no binding for it.)
    const wallet = (await ethers.deployContract("ContractWallet", [f.client.address])).connect(f.client) as Contract;
    const execute = wallet.getFunction("execute");
    const walletAddress = await wallet.getAddress();
    const escrowAddress = await f.escrow.getAddress();
    await f.token.connect(f.client).transfer(walletAddress, 10n * PRICE);
    await execute(await f.token.getAddress(), f.token.interface.encodeFunctionData("approve", [escrowAddress, 10n * PRICE]));
    const deadline = (await now()) + 3600n;
    const open = f.escrow.interface.encodeFunctionData("openJob", [SPEC, f.coordinator.address, 4, PRICE, deadline, 1]);
    const jobId = f.escrow.interface.decodeFunctionResult(
      "openJob",
      (await execute.staticCall(escrowAddress, open)) as string,
    )[0] as string;
    await execute(escrowAddress, open);
    expect((await f.escrow.getJob(jobId)).client).to.equal(walletAddress);
    // The wallet's owner key signs the voucher; the escrow asks the wallet (ERC-1271).
    const signature = await f.client.signTypedData(f.domain, VOUCHER_TYPES, { jobId, provider: f.provider1.address, seconds: 2 });
    const allocationSig = await allocation(f, jobId, f.provider1.address, 2);
    await expect(f.escrow.redeem({ jobId, provider: f.provider1.address, totalSeconds: 2 }, signature, 2, allocationSig))
      .to.emit(f.escrow, "VoucherRedeemed")
      .withArgs(jobId, f.provider1.address, 2, 2n * NET);
    // A signature by another key is refused by the wallet.
    const forged = await f.stranger.signTypedData(f.domain, VOUCHER_TYPES, { jobId, provider: f.provider1.address, seconds: 3 });
    const alloc3 = await allocation(f, jobId, f.provider1.address, 3);
    await expect(f.escrow.redeem({ jobId, provider: f.provider1.address, totalSeconds: 3 }, forged, 3, alloc3))
      .to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner")
      .withArgs(walletAddress);
    // The wallet settles cooperatively.
    const settle = f.escrow.interface.encodeFunctionData("settle", [jobId, await entries(f, jobId, [f.provider1], [4])]);
    await execute(escrowAddress, settle);
    expect((await f.escrow.getJob(jobId)).status).to.equal(Status.Settled);
  });
});
