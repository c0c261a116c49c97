import { anyUint } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";
import { expect } from "chai";
import { network } from "hardhat";
import {
  CLAIM_WINDOW,
  COORDINATOR_FEE_BPS,
  DISPUTE_WINDOW,
  MESH,
  MIN_STAKE,
  PRICE,
  SPEC,
  TREASURY_FEE_BPS,
  escrowFixture,
  netPerSecond,
} from "./helpers/fixtures.js";

const connection = await network.create();
const { ethers } = connection;
const { load, openJob, voucher, entries, allocation, claimArgs, now, increaseTime, increaseTo } = escrowFixture(connection);
const ZERO = ethers.ZeroAddress;
const NET = netPerSecond();
const COORDINATOR_FEE = (PRICE * COORDINATOR_FEE_BPS) / 10_000n;
const TREASURY_FEE = (PRICE * TREASURY_FEE_BPS) / 10_000n;
const Status = { None: 0n, Open: 1n, Settled: 2n, Refunded: 3n, Closing: 4n };
const Claim = { None: 0n, Pending: 1n, Disputed: 2n, Paid: 3n, Refused: 4n };

describe("JobEscrow", () => {
  describe("openJob", () => {
    it("pulls seconds × price, stores the job, snapshots the fees and emits JobOpened", async () => {
      const f = await load();
      const deadline = (await now()) + 3600n;
      const escrow = f.escrow.connect(f.client);
      const nonce = await escrow.nonces(f.client.address);
      const expectedId = ethers.keccak256(
        ethers.AbiCoder.defaultAbiCoder().encode(
          ["uint256", "address", "address", "uint256"],
          [f.chainId, await f.escrow.getAddress(), f.client.address, nonce],
        ),
      );
      const tx = escrow.openJob(SPEC, f.coordinator.address, 60, PRICE, deadline, 1);
      await expect(tx)
        .to.emit(f.escrow, "JobOpened")
        .withArgs(expectedId, f.client.address, f.coordinator.address, SPEC, 60, PRICE, deadline, 1);
      await expect(tx).to.changeTokenBalances(ethers, f.token, [f.client, f.escrow], [-60n * PRICE, 60n * PRICE]);
      const job = await f.escrow.getJob(expectedId);
      expect(job.client).to.equal(f.client.address);
      expect(job.totalSeconds).to.equal(60n);
      expect(job.paidSeconds).to.equal(0n);
      expect(job.reservedSeconds).to.equal(0n);
      expect(job.coordinator).to.equal(f.coordinator.address);
      expect(job.deadline).to.equal(deadline);
      expect(job.pendingClaims).to.equal(0n);
      expect(job.pricePerSecond).to.equal(PRICE);
      expect(job.policyVersion).to.equal(1n);
      expect(job.coordinatorFeeBps).to.equal(COORDINATOR_FEE_BPS);
      expect(job.treasuryFeeBps).to.equal(TREASURY_FEE_BPS);
      expect(job.status).to.equal(Status.Open);
      expect(job.specHash).to.equal(SPEC);
      expect(await escrow.nonces(f.client.address)).to.equal(nonce + 1n);
    });

    it("gives every job of a client a new id", async () => {
      const f = await load();
      const a = await openJob(f);
      const b = await openJob(f);
      expect(a.jobId).to.not.equal(b.jobId);
    });

    it("keeps the fee rates of the job when the policy changes later", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      await f.policy.connect(f.governance).setFees(1000, 1000);
      const job = await f.escrow.getJob(jobId);
      expect([job.coordinatorFeeBps, job.treasuryFeeBps]).to.deep.equal([COORDINATOR_FEE_BPS, TREASURY_FEE_BPS]);
      const { voucher: v, signature, allocated, allocationSig } = await voucher(f, jobId, f.provider1.address, 1);
      await expect(f.escrow.redeem(v, signature, allocated, allocationSig))
        .to.emit(f.escrow, "VoucherRedeemed")
        .withArgs(jobId, f.provider1.address, 1, NET);
    });

    it("refuses bad input, each with an error that names it", async () => {
      const f = await load();
      const escrow = f.escrow.connect(f.client);
      const deadline = (await now()) + 3600n;
      await expect(escrow.openJob(ethers.ZeroHash, f.coordinator.address, 10, PRICE, deadline, 1)).to.be.revertedWithCustomError(
        escrow,
        "JobEscrowZeroSpecHash",
      );
      await expect(escrow.openJob(SPEC, ZERO, 10, PRICE, deadline, 1)).to.be.revertedWithCustomError(escrow, "JobEscrowZeroAddress");
      await expect(escrow.openJob(SPEC, f.coordinator.address, 0, PRICE, deadline, 1)).to.be.revertedWithCustomError(
        escrow,
        "JobEscrowZeroSeconds",
      );
      await expect(escrow.openJob(SPEC, f.coordinator.address, 10, 0, deadline, 1)).to.be.revertedWithCustomError(
        escrow,
        "JobEscrowZeroPrice",
      );
      const past = (await now()) - 1n;
      await expect(escrow.openJob(SPEC, f.coordinator.address, 10, PRICE, past, 1))
        .to.be.revertedWithCustomError(escrow, "JobEscrowDeadlineInPast")
        .withArgs(past, anyUint);
      await expect(escrow.openJob(SPEC, f.coordinator.address, 10, PRICE, deadline, 7))
        .to.be.revertedWithCustomError(escrow, "JobEscrowPolicyVersionMismatch")
        .withArgs(7, 1);
      await expect(escrow.openJob(SPEC, f.coordinator.address, 601, PRICE, deadline, 1))
        .to.be.revertedWithCustomError(escrow, "JobEscrowTooManySeconds")
        .withArgs(601, 600);
    });

    it("refuses a deadline equal to the block time", async () => {
      const f = await load();
      const next = (await now()) + 10n;
      await connection.networkHelpers.time.setNextBlockTimestamp(next);
      await expect(f.escrow.connect(f.client).openJob(SPEC, f.coordinator.address, 10, PRICE, next, 1))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowDeadlineInPast")
        .withArgs(next, next);
    });

    it("needs the deposit approved", async () => {
      const f = await load();
      await expect(
        f.escrow.connect(f.stranger).openJob(SPEC, f.coordinator.address, 10, PRICE, (await now()) + 60n, 1),
      ).to.be.revertedWithCustomError(f.token, "ERC20InsufficientAllowance");
    });
  });

  describe("openJobWithPermit", () => {
    async function permit(f: Awaited<ReturnType<typeof load>>, value: bigint, deadline: bigint, signer = f.stranger) {
      const nonce = await f.token.nonces(signer.address);
      const sig = ethers.Signature.from(
        await signer.signTypedData(
          { name: "Rendermesh", version: "1", chainId: f.chainId, verifyingContract: await f.token.getAddress() },
          {
            Permit: [
              { name: "owner", type: "address" },
              { name: "spender", type: "address" },
              { name: "value", type: "uint256" },
              { name: "nonce", type: "uint256" },
              { name: "deadline", type: "uint256" },
            ],
          },
          { owner: f.stranger.address, spender: await f.escrow.getAddress(), value, nonce, deadline },
        ),
      );
      return sig;
    }

    it("opens a job in one transaction, without a prior approve", async () => {
      const f = await load();
      const deadline = (await now()) + 3600n;
      const sig = await permit(f, 10n * PRICE, deadline);
      const tx = f.escrow
        .connect(f.stranger)
        .openJobWithPermit(SPEC, f.coordinator.address, 10, PRICE, deadline, 1, deadline, sig.v, sig.r, sig.s);
      await expect(tx).to.emit(f.escrow, "JobOpened");
      await expect(tx).to.changeTokenBalances(ethers, f.token, [f.stranger, f.escrow], [-10n * PRICE, 10n * PRICE]);
    });

    it("still opens the job when someone front-ran the permit", async () => {
      const f = await load();
      const deadline = (await now()) + 3600n;
      const sig = await permit(f, 10n * PRICE, deadline);
      await f.token.permit(f.stranger.address, await f.escrow.getAddress(), 10n * PRICE, deadline, sig.v, sig.r, sig.s);
      await expect(
        f.escrow.connect(f.stranger).openJobWithPermit(SPEC, f.coordinator.address, 10, PRICE, deadline, 1, deadline, sig.v, sig.r, sig.s),
      ).to.emit(f.escrow, "JobOpened");
    });

    it("refuses an expired or a forged permit with the token's error", async () => {
      const f = await load();
      const deadline = (await now()) + 3600n;
      const expired = (await now()) - 1n;
      const sig = await permit(f, 10n * PRICE, expired);
      await expect(
        f.escrow.connect(f.stranger).openJobWithPermit(SPEC, f.coordinator.address, 10, PRICE, deadline, 1, expired, sig.v, sig.r, sig.s),
      ).to.be.revertedWithCustomError(f.token, "ERC2612ExpiredSignature");
      const forged = await permit(f, 10n * PRICE, deadline, f.client);
      await expect(
        f.escrow
          .connect(f.stranger)
          .openJobWithPermit(SPEC, f.coordinator.address, 10, PRICE, deadline, 1, deadline, forged.v, forged.r, forged.s),
      ).to.be.revertedWithCustomError(f.token, "ERC2612InvalidSigner");
    });
  });

  describe("deposit account", () => {
    /** Opens a job of `seconds` from the client's escrow account; returns its id and deadline. */
    async function openFromDeposit(f: Awaited<ReturnType<typeof load>>, seconds: number, deadlineIn = 3600n) {
      const deadline = (await now()) + deadlineIn;
      const version = await f.policy.version();
      const escrow = f.escrow.connect(f.client);
      const jobId = await escrow.openJobFromDeposit.staticCall(SPEC, f.coordinator.address, seconds, PRICE, deadline, version);
      await escrow.openJobFromDeposit(SPEC, f.coordinator.address, seconds, PRICE, deadline, version);
      return { jobId, deadline };
    }

    it("deposit once, open jobs from it without a token transfer, refunds back into it, one withdraw", async () => {
      const f = await load();
      const wallet0 = await f.token.balanceOf(f.client.address);
      await expect(f.escrow.connect(f.client).deposit(20n * PRICE))
        .to.emit(f.escrow, "Deposited")
        .withArgs(f.client.address, 20n * PRICE);
      expect(await f.escrow.balanceOf(f.client.address)).to.equal(20n * PRICE);
      // Two jobs from the account: no token moves.
      const escrowTokens = await f.token.balanceOf(await f.escrow.getAddress());
      const a = await openFromDeposit(f, 10);
      const b = await openFromDeposit(f, 10);
      expect(await f.token.balanceOf(await f.escrow.getAddress())).to.equal(escrowTokens);
      expect(await f.escrow.balanceOf(f.client.address)).to.equal(0n);
      expect((await f.escrow.getJob(a.jobId)).totalSeconds).to.equal(10n);
      // Job a: a cooperative settle of 4 of 10 seconds leaves it closing; job b settles every second.
      await f.escrow.connect(f.client).settle(b.jobId, await entries(f, b.jobId, [f.provider1], [10]));
      expect((await f.escrow.getJob(b.jobId)).status).to.equal(Status.Settled);
      await f.escrow.connect(f.client).settle(a.jobId, await entries(f, a.jobId, [f.provider2], [4]));
      await increaseTo((await f.escrow.getJob(a.jobId)).closesAt + 1n);
      await expect(f.escrow.refund(a.jobId))
        .to.emit(f.escrow, "JobRefunded")
        .withArgs(a.jobId, 6n * PRICE);
      // The 6 unspent seconds are back in the account, not in the wallet.
      expect(await f.escrow.balanceOf(f.client.address)).to.equal(6n * PRICE);
      expect(await f.token.balanceOf(f.client.address)).to.equal(wallet0 - 20n * PRICE);
      await expect(f.escrow.connect(f.client).withdraw())
        .to.emit(f.escrow, "Withdrawn")
        .withArgs(f.client.address, 6n * PRICE);
      expect(await f.token.balanceOf(f.client.address)).to.equal(wallet0 - 14n * PRICE);
      expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(10n * NET);
      expect(await f.escrow.balanceOf(f.provider2.address)).to.equal(4n * NET);
    });

    it("a job opened from the wallet still refunds to the wallet", async () => {
      const f = await load();
      const { jobId, deadline } = await openJob(f, 10, PRICE, 100n);
      const before = await f.token.balanceOf(f.client.address);
      await increaseTo(deadline + CLAIM_WINDOW + 1n);
      await f.escrow.refund(jobId);
      expect(await f.token.balanceOf(f.client.address)).to.equal(before + 10n * PRICE);
      expect(await f.escrow.balanceOf(f.client.address)).to.equal(0n);
    });

    it("error: an account that does not cover the deposit is refused, and nothing moves", async () => {
      const f = await load();
      await f.escrow.connect(f.client).deposit(5n * PRICE);
      const version = await f.policy.version();
      await expect(f.escrow.connect(f.client).openJobFromDeposit(SPEC, f.coordinator.address, 10, PRICE, (await now()) + 60n, version))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowInsufficientDeposit")
        .withArgs(5n * PRICE, 10n * PRICE);
      expect(await f.escrow.balanceOf(f.client.address)).to.equal(5n * PRICE);
      await expect(f.escrow.connect(f.client).deposit(0)).to.be.revertedWithCustomError(f.escrow, "JobEscrowNothingToDeposit");
    });

    it("attack: the client cannot withdraw a deposit that backs an open job, nor open from another's account", async () => {
      const f = await load();
      await f.escrow.connect(f.client).deposit(10n * PRICE);
      await openFromDeposit(f, 10);
      await expect(f.escrow.connect(f.client).withdraw())
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowNothingToWithdraw")
        .withArgs(f.client.address);
      // A provider holding earnings cannot have them spent by anyone else: opens debit only the caller's account.
      await f.escrow.connect(f.client).deposit(10n * PRICE);
      const version = await f.policy.version();
      await expect(f.escrow.connect(f.stranger).openJobFromDeposit(SPEC, f.coordinator.address, 10, PRICE, (await now()) + 60n, version))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowInsufficientDeposit")
        .withArgs(0, 10n * PRICE);
      expect(await f.escrow.balanceOf(f.client.address)).to.equal(10n * PRICE);
    });

    it("job ids stay unique per client across opens from the wallet and from the deposit", async () => {
      const f = await load();
      await f.escrow.connect(f.client).deposit(10n * PRICE);
      const a = await openJob(f, 5);
      const b = await openFromDeposit(f, 5);
      const c = await openJob(f, 5);
      expect(new Set([a.jobId, b.jobId, c.jobId]).size).to.equal(3);
      expect(await f.escrow.nonces(f.client.address)).to.equal(3n);
    });
  });

  describe("recorded allocations", () => {
    it("a later voucher within the allocation an earlier redeem verified needs no allocation signature", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      const first = await voucher(f, jobId, f.provider1.address, 3, f.client, 8);
      await f.escrow.redeem(first.voucher, first.signature, first.allocated, first.allocationSig);
      const later = await voucher(f, jobId, f.provider1.address, 8);
      await expect(f.escrow.redeem(later.voucher, later.signature, 0, "0x"))
        .to.emit(f.escrow, "VoucherRedeemed")
        .withArgs(jobId, f.provider1.address, 8, 5n * NET);
    });

    it("attack: an empty allocation signature pays nothing beyond the allocation on record (none for a stranger)", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      const first = await voucher(f, jobId, f.provider1.address, 3);
      await f.escrow.redeem(first.voucher, first.signature, first.allocated, first.allocationSig);
      const more = await voucher(f, jobId, f.provider1.address, 4);
      await expect(f.escrow.redeem(more.voucher, more.signature, 10, "0x"))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowOverAllocation")
        .withArgs(f.provider1.address, 4, 3);
      // The client's own address has no allocation on record: its voucher to itself pays nothing.
      const own = await voucher(f, jobId, f.client.address, 7);
      await expect(f.escrow.redeem(own.voucher, own.signature, 7, "0x"))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowOverAllocation")
        .withArgs(f.client.address, 7, 0);
      const settleOwn = [{ provider: f.client.address, totalSeconds: 7, allocated: 7, allocationSig: "0x", acknowledgementSig: "0x" }];
      await expect(f.escrow.connect(f.client).settle(jobId, settleOwn))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowOverAllocation")
        .withArgs(f.client.address, 7, 0);
    });
  });

  describe("redeem", () => {
    it("pays a provider the voucher's seconds less fees, then only the increase of a later voucher", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      const first = await voucher(f, jobId, f.provider1.address, 3);
      // Anyone may send it.
      await expect(f.escrow.connect(f.stranger).redeem(first.voucher, first.signature, first.allocated, first.allocationSig))
        .to.emit(f.escrow, "VoucherRedeemed")
        .withArgs(jobId, f.provider1.address, 3, 3n * NET);
      expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(3n * NET);
      const second = await voucher(f, jobId, f.provider1.address, 7);
      await expect(f.escrow.redeem(second.voucher, second.signature, second.allocated, second.allocationSig))
        .to.emit(f.escrow, "VoucherRedeemed")
        .withArgs(jobId, f.provider1.address, 7, 4n * NET);
      expect(await f.escrow.paidSeconds(jobId, f.provider1.address)).to.equal(7n);
      expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(7n * NET);
      expect((await f.escrow.getJob(jobId)).paidSeconds).to.equal(7n);
    });

    it("never pays all providers together more than the job's seconds", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      const a = await voucher(f, jobId, f.provider1.address, 6);
      await f.escrow.redeem(a.voucher, a.signature, a.allocated, a.allocationSig);
      const b = await voucher(f, jobId, f.provider2.address, 5);
      await expect(f.escrow.redeem(b.voucher, b.signature, b.allocated, b.allocationSig))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowSecondsExceeded")
        .withArgs(jobId, 5, 4);
      const tooLong = await voucher(f, jobId, f.provider2.address, 11);
      await expect(
        f.escrow.redeem(tooLong.voucher, tooLong.signature, tooLong.allocated, tooLong.allocationSig),
      ).to.be.revertedWithCustomError(f.escrow, "JobEscrowSecondsExceeded");
    });

    it("refuses a replayed or lower voucher", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      const v = await voucher(f, jobId, f.provider1.address, 4);
      await f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig);
      await expect(f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowNothingOwed")
        .withArgs(jobId, f.provider1.address, 4, 4);
      const lower = await voucher(f, jobId, f.provider1.address, 2);
      await expect(f.escrow.redeem(lower.voucher, lower.signature, lower.allocated, lower.allocationSig))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowNothingOwed")
        .withArgs(jobId, f.provider1.address, 2, 4);
    });

    it("refuses a voucher not signed by the client, for another job, or malformed", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      const { jobId: other } = await openJob(f, 10);
      const forged = await voucher(f, jobId, f.provider1.address, 4, f.provider1);
      await expect(f.escrow.redeem(forged.voucher, forged.signature, forged.allocated, forged.allocationSig))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner")
        .withArgs(f.client.address);
      const forOther = await voucher(f, other, f.provider1.address, 4);
      await expect(
        f.escrow.redeem({ ...forOther.voucher, jobId }, forOther.signature, forOther.allocated, forOther.allocationSig),
      ).to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner");
      const good = await voucher(f, jobId, f.provider1.address, 4);
      await expect(f.escrow.redeem(good.voucher, good.signature.slice(0, 130), good.allocated, good.allocationSig))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner")
        .withArgs(f.client.address);
    });

    it("refuses an unknown job, a closed job and the zero provider", async () => {
      const f = await load();
      const unknown = ethers.id("no such job");
      const v = await voucher(f, unknown, f.provider1.address, 1);
      await expect(f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowUnknownJob")
        .withArgs(unknown);
      const { jobId } = await openJob(f, 10);
      const zero = await voucher(f, jobId, ZERO, 1);
      await expect(f.escrow.redeem(zero.voucher, zero.signature, zero.allocated, zero.allocationSig)).to.be.revertedWithCustomError(
        f.escrow,
        "JobEscrowZeroAddress",
      );
      await f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider2], [10]));
      const late = await voucher(f, jobId, f.provider1.address, 1);
      await expect(f.escrow.redeem(late.voucher, late.signature, late.allocated, late.allocationSig))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowJobNotOpen")
        .withArgs(jobId, Status.Settled);
    });
  });

  describe("settle", () => {
    it("cooperative: pays what is still owed, credits the fees, refunds the rest and closes the job in one transaction", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 11);
      const v = await voucher(f, jobId, f.provider1.address, 4);
      await f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig);
      const tx = f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider1, f.provider2], [6, 5]));
      await expect(tx)
        .to.emit(f.escrow, "VoucherRedeemed")
        .withArgs(jobId, f.provider1.address, 6, 2n * NET);
      await expect(tx)
        .to.emit(f.escrow, "VoucherRedeemed")
        .withArgs(jobId, f.provider2.address, 5, 5n * NET);
      await expect(tx)
        .to.emit(f.escrow, "JobSettled")
        .withArgs(jobId, 11n * PRICE, 0);
      expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(6n * NET);
      expect(await f.escrow.balanceOf(f.provider2.address)).to.equal(5n * NET);
      expect(await f.escrow.balanceOf(f.coordinator.address)).to.equal(11n * COORDINATOR_FEE);
      expect(await f.escrow.balanceOf(f.treasury.address)).to.equal(11n * TREASURY_FEE);
      const job = await f.escrow.getJob(jobId);
      expect(job.status).to.equal(Status.Settled);
      expect(job.paidSeconds).to.equal(11n);
      expect(11n * NET + 11n * COORDINATOR_FEE + 11n * TREASURY_FEE).to.equal(11n * PRICE);
    });

    it("paying fewer than all seconds pays the entries and opens the challenge window; the rest is refunded after it", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 20);
      const tx = f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider1, f.provider2], [6, 5]));
      await expect(tx)
        .to.emit(f.escrow, "VoucherRedeemed")
        .withArgs(jobId, f.provider2.address, 5, 5n * NET);
      await expect(tx).to.emit(f.escrow, "JobClosing").withArgs(jobId, anyUint, 11);
      await expect(tx).to.not.emit(f.escrow, "JobSettled");
      const job = await f.escrow.getJob(jobId);
      expect(job.status).to.equal(Status.Closing);
      expect(await f.escrow.paidSeconds(jobId, f.provider1.address)).to.equal(6n);
      await expect(f.escrow.refund(jobId)).to.be.revertedWithCustomError(f.escrow, "JobEscrowRefundTooEarly").withArgs(job.closesAt);
      await increaseTo(job.closesAt + 1n);
      const refund = f.escrow.refund(jobId);
      await expect(refund)
        .to.emit(f.escrow, "JobRefunded")
        .withArgs(jobId, 9n * PRICE);
      await expect(refund).to.changeTokenBalances(ethers, f.token, [f.client], [9n * PRICE]);
      expect(await f.escrow.balanceOf(f.coordinator.address)).to.equal(11n * COORDINATOR_FEE);
    });

    it("pays nothing for an entry at or below what a voucher already paid", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 5);
      const v = await voucher(f, jobId, f.provider1.address, 5);
      await f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig);
      const tx = f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider1], [3]));
      await expect(tx).to.not.emit(f.escrow, "VoucherRedeemed");
      await expect(tx)
        .to.emit(f.escrow, "JobSettled")
        .withArgs(jobId, 5n * PRICE, 0);
      expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(5n * NET);
    });

    it("with no providers starts the challenge window (a refused job), then refunds the whole deposit", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      await expect(f.escrow.connect(f.client).settle(jobId, [])).to.emit(f.escrow, "JobClosing");
      await increaseTo((await f.escrow.getJob(jobId)).closesAt + 1n);
      await expect(f.escrow.refund(jobId)).to.changeTokenBalances(ethers, f.token, [f.client], [10n * PRICE]);
      expect(await f.escrow.balanceOf(f.treasury.address)).to.equal(0n);
    });

    it("refuses the wrong caller, a listed-twice provider, the zero address, too many seconds and over-allocation", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      await expect(f.escrow.connect(f.stranger).settle(jobId, []))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowUnauthorized")
        .withArgs(f.stranger.address, f.client.address);
      const client = f.escrow.connect(f.client);
      await expect(client.settle(jobId, await entries(f, jobId, [f.provider1, f.provider1], [1, 2])))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowDuplicateProvider")
        .withArgs(f.provider1.address);
      await expect(client.settle(jobId, await entries(f, jobId, [ZERO], [1]))).to.be.revertedWithCustomError(
        f.escrow,
        "JobEscrowZeroAddress",
      );
      await expect(client.settle(jobId, await entries(f, jobId, [f.provider1, f.provider2], [6, 5])))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowSecondsExceeded")
        .withArgs(jobId, 11, 10);
      const [entry] = await entries(f, jobId, [f.provider1], [4]);
      await expect(client.settle(jobId, [{ ...entry!, allocated: 3, allocationSig: await allocation(f, jobId, f.provider1.address, 3) }]))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowOverAllocation")
        .withArgs(f.provider1.address, 4, 3);
    });

    it("refuses a second settle and an unknown job; a settle with a claim pending leaves the job closing", async () => {
      const f = await load();
      const unknown = ethers.id("none");
      await expect(f.escrow.connect(f.client).settle(unknown, [])).to.be.revertedWithCustomError(f.escrow, "JobEscrowUnknownJob");
      const { jobId } = await openJob(f, 2);
      await f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider1], [2]));
      await expect(f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider1], [2])))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowJobNotOpen")
        .withArgs(jobId, Status.Settled);

      const { jobId: claimed } = await openJob(f, 2, PRICE, 100n);
      await f.escrow.claim(...(await claimArgs(f, claimed, 0, f.provider1)));
      await f.escrow.connect(f.client).settle(claimed, await entries(f, claimed, [f.provider2], [1]));
      expect((await f.escrow.getJob(claimed)).status).to.equal(Status.Closing);
    });
  });

  describe("claim, dispute and resolution", () => {
    async function pastDeadline(seconds = 4) {
      const f = await load();
      const job = await openJob(f, seconds, PRICE, 100n);
      await increaseTo(job.deadline + 1n);
      return { f, ...job };
    }

    it("claims a segment after the deadline and pays it once the dispute window has passed", async () => {
      const { f, jobId } = await pastDeadline();
      const args = await claimArgs(f, jobId, 2, f.provider1);
      const until = (await now()) + 1n + DISPUTE_WINDOW;
      await expect(f.escrow.connect(f.stranger).claim(...args))
        .to.emit(f.escrow, "SegmentClaimed")
        .withArgs(jobId, 2, f.provider1.address, args[2].cid, until);
      const c = await f.escrow.getClaim(jobId, 2);
      expect([c.provider, c.deadlineAt, c.status]).to.deep.equal([f.provider1.address, until, Claim.Pending]);
      const claimed = await f.escrow.getJob(jobId);
      expect([claimed.reservedSeconds, claimed.pendingClaims]).to.deep.equal([1n, 1n]);
      await expect(f.escrow.finalizeClaim(jobId, 2)).to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimNotFinal").withArgs(until);
      await increaseTo(until + 1n);
      await expect(f.escrow.connect(f.stranger).finalizeClaim(jobId, 2))
        .to.emit(f.escrow, "ClaimFinalized")
        .withArgs(jobId, 2, f.provider1.address, NET);
      expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(NET);
      const job = await f.escrow.getJob(jobId);
      expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([1n, 0n, 0n]);
      expect((await f.escrow.getClaim(jobId, 2)).status).to.equal(Claim.Paid);
      expect(await f.escrow.paidSeconds(jobId, f.provider1.address)).to.equal(1n);
      await expect(f.escrow.finalizeClaim(jobId, 2))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimNotPending")
        .withArgs(jobId, 2, Claim.Paid);
    });

    it("pays a provider max(voucher seconds, claimed segments), never a second twice", async () => {
      const f = await load();
      const { jobId, deadline } = await openJob(f, 6, PRICE, 100n);
      const v = await voucher(f, jobId, f.provider1.address, 2);
      await f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig);
      await increaseTo(deadline + 1n);
      for (const segment of [0, 1, 2]) await f.escrow.claim(...(await claimArgs(f, jobId, segment, f.provider1)));
      await increaseTime(DISPUTE_WINDOW + 1n);
      // Segments 0 and 1 are covered by the voucher's two seconds; the third claim is the first new second.
      await expect(f.escrow.finalizeClaim(jobId, 0)).to.emit(f.escrow, "ClaimFinalized").withArgs(jobId, 0, f.provider1.address, 0);
      await expect(f.escrow.finalizeClaim(jobId, 1)).to.emit(f.escrow, "ClaimFinalized").withArgs(jobId, 1, f.provider1.address, 0);
      await expect(f.escrow.finalizeClaim(jobId, 2)).to.emit(f.escrow, "ClaimFinalized").withArgs(jobId, 2, f.provider1.address, NET);
      expect(await f.escrow.paidSeconds(jobId, f.provider1.address)).to.equal(3n);
      expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(3n * NET);
      // A later voucher for 3 seconds owes nothing more.
      const three = await voucher(f, jobId, f.provider1.address, 3);
      await expect(f.escrow.redeem(three.voucher, three.signature, three.allocated, three.allocationSig)).to.be.revertedWithCustomError(
        f.escrow,
        "JobEscrowNothingOwed",
      );
    });

    it("lets the client dispute within the window; the arbiter pays", async () => {
      const { f, jobId } = await pastDeadline();
      await f.escrow.claim(...(await claimArgs(f, jobId, 1, f.provider2)));
      await expect(f.escrow.connect(f.client).dispute(jobId, 1)).to.emit(f.escrow, "ClaimDisputed").withArgs(jobId, 1, MESH, anyUint);
      expect((await f.escrow.getClaim(jobId, 1)).status).to.equal(Claim.Disputed);
      await increaseTime(DISPUTE_WINDOW + 1n);
      // A disputed claim waits for the arbiter (until its window closes).
      await expect(f.escrow.finalizeClaim(jobId, 1)).to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimNotFinal");
      const tx = f.escrow.connect(f.arbiter).resolveDispute(jobId, 1, true, 0);
      // The provider is paid its second and the client's bond.
      await expect(tx)
        .to.emit(f.escrow, "ClaimFinalized")
        .withArgs(jobId, 1, f.provider2.address, NET + MESH);
      await expect(tx).to.emit(f.escrow, "DisputeResolved").withArgs(jobId, 1, true, 0, 0);
      expect(await f.escrow.balanceOf(f.provider2.address)).to.equal(NET + MESH);
    });

    it("lets the arbiter refuse and slash the provider's stake, half to the client, half to the treasury", async () => {
      const { f, jobId } = await pastDeadline();
      await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider3)));
      await f.escrow.connect(f.client).dispute(jobId, 0);
      const tx = f.escrow.connect(f.arbiter).resolveDispute(jobId, 0, false, 25n * MESH);
      await expect(tx)
        .to.emit(f.escrow, "DisputeResolved")
        .withArgs(jobId, 0, false, 25n * MESH, (25n * MESH) / 2n);
      await expect(tx)
        .to.emit(f.registry, "ProviderSlashed")
        .withArgs(f.provider3.address, 25n * MESH, await f.escrow.getAddress());
      await expect(tx).to.changeTokenBalances(ethers, f.token, [f.registry, f.escrow], [-25n * MESH, 25n * MESH]);
      // The client gets its bond back and half the slash; the treasury the other half.
      expect(await f.escrow.balanceOf(f.client.address)).to.equal(MESH + (25n * MESH) / 2n);
      expect(await f.escrow.balanceOf(f.treasury.address)).to.equal((25n * MESH) / 2n);
      expect((await f.registry.getProvider(f.provider3.address)).stake).to.equal(MIN_STAKE * 10n - 25n * MESH);
      expect((await f.escrow.getClaim(jobId, 0)).status).to.equal(Claim.Refused);
      const job = await f.escrow.getJob(jobId);
      expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([0n, 0n, 0n]);
      expect(await f.escrow.balanceOf(f.provider3.address)).to.equal(0n);
      // A refused segment cannot be claimed again by the same provider; another provider may claim it.
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider3))))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowSegmentAlreadyClaimed")
        .withArgs(jobId, 0);
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)))).to.emit(f.escrow, "SegmentClaimed");
    });

    it("refuses a slash on a paid dispute; a refusal may slash nothing", async () => {
      const { f, jobId } = await pastDeadline();
      await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)));
      await f.escrow.connect(f.client).dispute(jobId, 0);
      await expect(f.escrow.connect(f.arbiter).resolveDispute(jobId, 0, true, 1)).to.be.revertedWithCustomError(
        f.escrow,
        "JobEscrowSlashOnPay",
      );
      await expect(f.escrow.connect(f.arbiter).resolveDispute(jobId, 0, false, 0))
        .to.emit(f.escrow, "DisputeResolved")
        .withArgs(jobId, 0, false, 0, 0);
    });

    it("refuses disputes and resolutions from the wrong caller, in the wrong state or too late", async () => {
      const { f, jobId } = await pastDeadline();
      await expect(f.escrow.connect(f.client).dispute(ethers.id("none"), 0)).to.be.revertedWithCustomError(f.escrow, "JobEscrowUnknownJob");
      await expect(f.escrow.connect(f.client).dispute(jobId, 0))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimNotPending")
        .withArgs(jobId, 0, Claim.None);
      await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)));
      await expect(f.escrow.connect(f.stranger).dispute(jobId, 0))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowUnauthorized")
        .withArgs(f.stranger.address, f.client.address);
      await expect(f.escrow.connect(f.client).resolveDispute(jobId, 0, true, 0))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowUnauthorized")
        .withArgs(f.client.address, f.arbiter.address);
      await expect(f.escrow.connect(f.arbiter).resolveDispute(jobId, 0, true, 0))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimNotDisputed")
        .withArgs(jobId, 0, Claim.Pending);
      const until = (await f.escrow.getClaim(jobId, 0)).deadlineAt;
      await increaseTo(until + 1n);
      await expect(f.escrow.connect(f.client).dispute(jobId, 0))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowDisputeWindowClosed")
        .withArgs(until);
    });

    it("refuses claims before the deadline, after the claim window, outside the job, or twice", async () => {
      const f = await load();
      const { jobId, deadline } = await openJob(f, 4, PRICE, 100n);
      // Claims open once the assignment's own deadline has passed.
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1, { assignment: { deadline: Number(deadline) } }))))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowDeadlineNotReached")
        .withArgs(deadline);
      await increaseTo(deadline + 1n);
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 4, f.provider1))))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSegment")
        .withArgs(4, 4);
      await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)));
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider2))))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowSegmentAlreadyClaimed")
        .withArgs(jobId, 0);
      await increaseTo(deadline + CLAIM_WINDOW + 1n);
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 1, f.provider1))))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimWindowClosed")
        .withArgs(deadline + CLAIM_WINDOW);
      await expect(f.escrow.claim(...(await claimArgs(f, ethers.id("none"), 1, f.provider1)))).to.be.revertedWithCustomError(
        f.escrow,
        "JobEscrowUnknownJob",
      );
    });

    it("refuses mismatched or wrongly signed claims and inactive providers", async () => {
      const { f, jobId } = await pastDeadline();
      const [a, cSig, d, pSig] = await claimArgs(f, jobId, 0, f.provider1);
      await expect(f.escrow.claim(a, cSig, { ...d, segment: 1 }, pSig)).to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimMismatch");
      await expect(f.escrow.claim(a, cSig, { ...d, frameCount: 11 }, pSig)).to.be.revertedWithCustomError(
        f.escrow,
        "JobEscrowClaimMismatch",
      );
      await expect(f.escrow.claim(a, cSig, { ...d, jobId: ethers.id("x") }, pSig)).to.be.revertedWithCustomError(
        f.escrow,
        "JobEscrowClaimMismatch",
      );
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1, { coordinator: f.stranger }))))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner")
        .withArgs(f.coordinator.address);
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1, { deliverySigner: f.provider2 }))))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowInvalidSigner")
        .withArgs(f.provider1.address);
      // The CID is covered by the provider's signature.
      await expect(f.escrow.claim(a, cSig, { ...d, cid: "0x0155" }, pSig)).to.be.revertedWithCustomError(
        f.escrow,
        "JobEscrowInvalidSigner",
      );
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.stranger))))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowProviderNotActive")
        .withArgs(f.stranger.address);
    });

    it("refuses a claim when vouchers have paid every second, except the paid provider's own (which pays nothing)", async () => {
      const f = await load();
      const { jobId, deadline } = await openJob(f, 2, PRICE, 100n);
      const v = await voucher(f, jobId, f.provider2.address, 2);
      await f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig);
      await increaseTo(deadline + 1n);
      await expect(f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1))))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowSecondsExceeded")
        .withArgs(jobId, 1, 0);
      await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider2)));
      const job = await f.escrow.getJob(jobId);
      expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([2n, 0n, 1n]);
      await increaseTime(DISPUTE_WINDOW + 1n);
      await expect(f.escrow.finalizeClaim(jobId, 0)).to.emit(f.escrow, "ClaimFinalized").withArgs(jobId, 0, f.provider2.address, 0);
      expect(await f.escrow.balanceOf(f.provider2.address)).to.equal(2n * NET);
    });

    it("reserves claimed seconds against vouchers", async () => {
      const { f, jobId } = await pastDeadline(2);
      await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)));
      const v = await voucher(f, jobId, f.provider2.address, 2);
      await expect(f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowSecondsExceeded")
        .withArgs(jobId, 2, 1);
    });

    describe("claims overlapping seconds that vouchers paid", () => {
      it("pays a sole provider, paid 3 of 5 seconds by voucher, all 5 when it claims its 5 segments (regression)", async () => {
        const f = await load();
        const { jobId, deadline } = await openJob(f, 5, PRICE, 100n);
        const three = await voucher(f, jobId, f.provider1.address, 3);
        await f.escrow.redeem(three.voucher, three.signature, three.allocated, three.allocationSig);
        await increaseTo(deadline + 1n);
        // Claims 1-3 are for seconds the voucher paid: they reserve nothing. Claims 4 and 5 reserve the last two.
        for (const segment of [0, 1, 2, 3, 4]) {
          await expect(f.escrow.claim(...(await claimArgs(f, jobId, segment, f.provider1)))).to.emit(f.escrow, "SegmentClaimed");
        }
        let job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([3n, 2n, 5n]);
        await increaseTime(DISPUTE_WINDOW + 1n);
        // Finalised in any order: the first three finalised claims are covered by the voucher, the last two pay.
        // The reserved seconds stay with the provider until then, so no one else can take them meanwhile.
        await expect(f.escrow.finalizeClaim(jobId, 4)).to.emit(f.escrow, "ClaimFinalized").withArgs(jobId, 4, f.provider1.address, 0);
        job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([3n, 2n, 4n]);
        const other = await voucher(f, jobId, f.provider2.address, 1);
        await expect(f.escrow.redeem(other.voucher, other.signature, other.allocated, other.allocationSig))
          .to.be.revertedWithCustomError(f.escrow, "JobEscrowSecondsExceeded")
          .withArgs(jobId, 1, 0);
        for (const [segment, amount] of [
          [0, 0n],
          [3, 0n],
          [1, NET],
          [2, NET],
        ] as const) {
          await expect(f.escrow.finalizeClaim(jobId, segment))
            .to.emit(f.escrow, "ClaimFinalized")
            .withArgs(jobId, segment, f.provider1.address, amount);
        }
        expect(await f.escrow.paidSeconds(jobId, f.provider1.address)).to.equal(5n);
        expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(5n * NET);
        job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([5n, 0n, 0n]);
        // Every second was paid once: nothing goes back to the client; the fees are those of 5 seconds.
        await increaseTo(deadline + CLAIM_WINDOW + 1n);
        await expect(f.escrow.refund(jobId)).to.emit(f.escrow, "JobRefunded").withArgs(jobId, 0);
        expect(await f.escrow.balanceOf(f.coordinator.address)).to.equal(5n * COORDINATOR_FEE);
        expect(await f.escrow.balanceOf(f.treasury.address)).to.equal(5n * TREASURY_FEE);
        expect(await f.token.balanceOf(await f.escrow.getAddress())).to.equal(5n * (NET + COORDINATOR_FEE + TREASURY_FEE));
      });

      it("counts a provider's own reservations towards a voucher redeemed after its claims, never paying a second twice", async () => {
        const f = await load();
        const { jobId, deadline } = await openJob(f, 6, PRICE, 100n);
        await increaseTo(deadline + 1n);
        for (const segment of [0, 1, 2, 3]) await f.escrow.claim(...(await claimArgs(f, jobId, segment, f.provider1)));
        let job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([0n, 4n, 4n]);
        // The client, still around, pays two seconds by voucher: they come out of the provider's reservation.
        const two = await voucher(f, jobId, f.provider1.address, 2);
        await expect(f.escrow.redeem(two.voucher, two.signature, two.allocated, two.allocationSig))
          .to.emit(f.escrow, "VoucherRedeemed")
          .withArgs(jobId, f.provider1.address, 2, 2n * NET);
        job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([2n, 2n, 4n]);
        // Others can have only the two seconds neither paid nor reserved; the provider those plus its own two.
        const three = await voucher(f, jobId, f.provider2.address, 3);
        await expect(f.escrow.redeem(three.voucher, three.signature, three.allocated, three.allocationSig))
          .to.be.revertedWithCustomError(f.escrow, "JobEscrowSecondsExceeded")
          .withArgs(jobId, 3, 2);
        const seven = await voucher(f, jobId, f.provider1.address, 7);
        await expect(f.escrow.redeem(seven.voucher, seven.signature, seven.allocated, seven.allocationSig))
          .to.be.revertedWithCustomError(f.escrow, "JobEscrowSecondsExceeded")
          .withArgs(jobId, 5, 4);
        const otherTwo = await voucher(f, jobId, f.provider2.address, 2);
        await f.escrow.redeem(otherTwo.voucher, otherTwo.signature, otherTwo.allocated, otherTwo.allocationSig);
        job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds]).to.deep.equal([4n, 2n]);
        await increaseTime(DISPUTE_WINDOW + 1n);
        for (const [segment, amount] of [
          [3, 0n],
          [2, 0n],
          [1, NET],
          [0, NET],
        ] as const) {
          await expect(f.escrow.finalizeClaim(jobId, segment))
            .to.emit(f.escrow, "ClaimFinalized")
            .withArgs(jobId, segment, f.provider1.address, amount);
        }
        expect(await f.escrow.paidSeconds(jobId, f.provider1.address)).to.equal(4n);
        expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(4n * NET);
        expect(await f.escrow.balanceOf(f.provider2.address)).to.equal(2n * NET);
        job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([6n, 0n, 0n]);
        const four = await voucher(f, jobId, f.provider1.address, 4);
        await expect(f.escrow.redeem(four.voucher, four.signature, four.allocated, four.allocationSig))
          .to.be.revertedWithCustomError(f.escrow, "JobEscrowNothingOwed")
          .withArgs(jobId, f.provider1.address, 4, 4);
      });

      it("releases every reservation of a provider whose late voucher covers all its claims", async () => {
        const f = await load();
        const { jobId, deadline } = await openJob(f, 6, PRICE, 100n);
        await increaseTo(deadline + 1n);
        for (const segment of [0, 1, 2, 3]) await f.escrow.claim(...(await claimArgs(f, jobId, segment, f.provider1)));
        const five = await voucher(f, jobId, f.provider1.address, 5);
        await expect(f.escrow.redeem(five.voucher, five.signature, five.allocated, five.allocationSig))
          .to.emit(f.escrow, "VoucherRedeemed")
          .withArgs(jobId, f.provider1.address, 5, 5n * NET);
        let job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([5n, 0n, 4n]);
        // The sixth second is free for anyone.
        const one = await voucher(f, jobId, f.provider2.address, 1);
        await f.escrow.redeem(one.voucher, one.signature, one.allocated, one.allocationSig);
        await increaseTime(DISPUTE_WINDOW + 1n);
        for (const segment of [0, 1, 2, 3]) {
          await expect(f.escrow.finalizeClaim(jobId, segment))
            .to.emit(f.escrow, "ClaimFinalized")
            .withArgs(jobId, segment, f.provider1.address, 0);
        }
        expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(5n * NET);
        job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([6n, 0n, 0n]);
      });

      it("a disputed and refused claim that reserved nothing slashes, releases nothing, and lets the job close after", async () => {
        const f = await load();
        const { jobId, deadline } = await openJob(f, 5, PRICE, 100n);
        const three = await voucher(f, jobId, f.provider1.address, 3);
        await f.escrow.redeem(three.voucher, three.signature, three.allocated, three.allocationSig);
        await increaseTo(deadline + 1n);
        for (const segment of [0, 1]) await f.escrow.claim(...(await claimArgs(f, jobId, segment, f.provider1)));
        let job = await f.escrow.getJob(jobId);
        // Nothing is reserved, yet the job cannot be refunded while the claims are pending.
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([3n, 0n, 2n]);
        await f.escrow.connect(f.client).dispute(jobId, 0);
        const tx = f.escrow.connect(f.arbiter).resolveDispute(jobId, 0, false, 25n * MESH);
        await expect(tx)
          .to.emit(f.escrow, "DisputeResolved")
          .withArgs(jobId, 0, false, 25n * MESH, (25n * MESH) / 2n);
        await expect(tx).to.changeTokenBalances(ethers, f.token, [f.registry, f.escrow], [-25n * MESH, 25n * MESH]);
        expect((await f.escrow.getClaim(jobId, 0)).status).to.equal(Claim.Refused);
        job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([3n, 0n, 1n]);
        await increaseTo(deadline + CLAIM_WINDOW + 1n);
        await expect(f.escrow.refund(jobId)).to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimsPending").withArgs(jobId, 1);
        await expect(f.escrow.finalizeClaim(jobId, 1)).to.emit(f.escrow, "ClaimFinalized").withArgs(jobId, 1, f.provider1.address, 0);
        expect(await f.escrow.paidSeconds(jobId, f.provider1.address)).to.equal(3n);
        expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(3n * NET);
        await expect(f.escrow.refund(jobId))
          .to.emit(f.escrow, "JobRefunded")
          .withArgs(jobId, 2n * PRICE);
      });

      it("a refused claim frees the second its provider can no longer be paid, whichever claim reserved it", async () => {
        const f = await load();
        const { jobId, deadline } = await openJob(f, 4, PRICE, 100n);
        const three = await voucher(f, jobId, f.provider1.address, 3);
        await f.escrow.redeem(three.voucher, three.signature, three.allocated, three.allocationSig);
        await increaseTo(deadline + 1n);
        for (const segment of [0, 1, 2, 3]) await f.escrow.claim(...(await claimArgs(f, jobId, segment, f.provider1)));
        let job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([3n, 1n, 4n]);
        // Refusing the first claim (which reserved nothing when made) leaves three claims: at most max(3, 3) seconds.
        await f.escrow.connect(f.client).dispute(jobId, 0);
        await f.escrow.connect(f.arbiter).resolveDispute(jobId, 0, false, 0);
        job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([3n, 0n, 3n]);
        const one = await voucher(f, jobId, f.provider2.address, 1);
        await f.escrow.redeem(one.voucher, one.signature, one.allocated, one.allocationSig);
        // A disputed claim the arbiter pays is finalised like any other: here vouchers covered it.
        await f.escrow.connect(f.client).dispute(jobId, 1);
        // (The provider gets the client's bond.)
        await expect(f.escrow.connect(f.arbiter).resolveDispute(jobId, 1, true, 0))
          .to.emit(f.escrow, "ClaimFinalized")
          .withArgs(jobId, 1, f.provider1.address, MESH);
        await increaseTime(DISPUTE_WINDOW + 1n);
        for (const segment of [2, 3]) {
          await expect(f.escrow.finalizeClaim(jobId, segment))
            .to.emit(f.escrow, "ClaimFinalized")
            .withArgs(jobId, segment, f.provider1.address, 0);
        }
        expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(3n * NET + MESH); // and the bond of the dispute it won
        expect(await f.escrow.balanceOf(f.provider2.address)).to.equal(NET);
        job = await f.escrow.getJob(jobId);
        expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).to.deep.equal([4n, 0n, 0n]);
      });
    });
  });

  describe("refund", () => {
    it("returns the unspent deposit after the claim window and credits the fees of what was paid", async () => {
      const f = await load();
      const { jobId, deadline } = await openJob(f, 10, PRICE, 100n);
      const v = await voucher(f, jobId, f.provider1.address, 3);
      await f.escrow.redeem(v.voucher, v.signature, v.allocated, v.allocationSig);
      await expect(f.escrow.refund(jobId))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowRefundTooEarly")
        .withArgs(deadline + CLAIM_WINDOW);
      await increaseTo(deadline + CLAIM_WINDOW + 1n);
      // Anyone may trigger it; the money goes to the client.
      const tx = f.escrow.connect(f.stranger).refund(jobId);
      await expect(tx)
        .to.emit(f.escrow, "JobRefunded")
        .withArgs(jobId, 7n * PRICE);
      await expect(tx).to.changeTokenBalances(ethers, f.token, [f.client, f.stranger], [7n * PRICE, 0]);
      expect((await f.escrow.getJob(jobId)).status).to.equal(Status.Refunded);
      expect(await f.escrow.balanceOf(f.coordinator.address)).to.equal(3n * COORDINATOR_FEE);
      expect(await f.escrow.balanceOf(f.treasury.address)).to.equal(3n * TREASURY_FEE);
      await expect(f.escrow.refund(jobId)).to.be.revertedWithCustomError(f.escrow, "JobEscrowJobNotOpen").withArgs(jobId, Status.Refunded);
      await expect(f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [], [])))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowJobNotOpen")
        .withArgs(jobId, Status.Refunded);
    });

    it("waits for pending claims, and refunds an unknown job never", async () => {
      const f = await load();
      await expect(f.escrow.refund(ethers.id("none"))).to.be.revertedWithCustomError(f.escrow, "JobEscrowUnknownJob");
      const { jobId, deadline } = await openJob(f, 4, PRICE, 100n);
      await increaseTo(deadline + 1n);
      await f.escrow.claim(...(await claimArgs(f, jobId, 0, f.provider1)));
      await f.escrow.connect(f.client).dispute(jobId, 0);
      await increaseTo(deadline + CLAIM_WINDOW + 1n);
      await expect(f.escrow.refund(jobId)).to.be.revertedWithCustomError(f.escrow, "JobEscrowClaimsPending").withArgs(jobId, 1);
      await f.escrow.connect(f.arbiter).resolveDispute(jobId, 0, true, 0);
      await expect(f.escrow.refund(jobId))
        .to.emit(f.escrow, "JobRefunded")
        .withArgs(jobId, 3n * PRICE);
    });
  });

  describe("withdraw", () => {
    it("sends an account its balance, and the treasury its fees", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      await f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider1], [10]));
      await expect(f.escrow.connect(f.provider1).withdraw())
        .to.emit(f.escrow, "Withdrawn")
        .withArgs(f.provider1.address, 10n * NET);
      expect(await f.escrow.balanceOf(f.provider1.address)).to.equal(0n);
      await expect(f.escrow.connect(f.stranger).withdrawFor(f.treasury.address)).to.changeTokenBalances(
        ethers,
        f.token,
        [f.treasury, f.escrow],
        [10n * TREASURY_FEE, -10n * TREASURY_FEE],
      );
      await expect(f.escrow.withdrawFor(f.coordinator.address))
        .to.emit(f.escrow, "Withdrawn")
        .withArgs(f.coordinator.address, 10n * COORDINATOR_FEE);
      expect(await f.token.balanceOf(await f.escrow.getAddress())).to.equal(0n);
    });

    it("pays the treasury fees to whoever the treasury is at withdrawal", async () => {
      const f = await load();
      const { jobId } = await openJob(f, 10);
      await f.escrow.connect(f.client).settle(jobId, await entries(f, jobId, [f.provider1], [10]));
      await f.policy.connect(f.governance).setTreasury(f.stranger.address);
      expect(await f.escrow.balanceOf(f.treasury.address)).to.equal(0n);
      expect(await f.escrow.balanceOf(f.stranger.address)).to.equal(10n * TREASURY_FEE);
      await expect(f.escrow.connect(f.stranger).withdraw())
        .to.emit(f.escrow, "Withdrawn")
        .withArgs(f.stranger.address, 10n * TREASURY_FEE);
    });

    it("refuses an empty balance and the zero address", async () => {
      const f = await load();
      await expect(f.escrow.connect(f.stranger).withdraw())
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowNothingToWithdraw")
        .withArgs(f.stranger.address);
      await expect(f.escrow.withdrawFor(f.treasury.address))
        .to.be.revertedWithCustomError(f.escrow, "JobEscrowNothingToWithdraw")
        .withArgs(f.treasury.address);
      await expect(f.escrow.withdrawFor(ZERO)).to.be.revertedWithCustomError(f.escrow, "JobEscrowZeroAddress");
    });
  });

  describe("views", () => {
    it("names its token, policy, registry and EIP-712 domain", async () => {
      const f = await load();
      expect(await f.escrow.token()).to.equal(await f.token.getAddress());
      expect(await f.escrow.policy()).to.equal(await f.policy.getAddress());
      expect(await f.registry.escrow()).to.equal(await f.escrow.getAddress());
      const domain = await f.escrow.eip712Domain();
      expect([domain.name, domain.version, domain.chainId, domain.verifyingContract]).to.deep.equal([
        "Rendermesh",
        "1",
        f.chainId,
        await f.escrow.getAddress(),
      ]);
      const none = await f.escrow.getJob(ethers.id("none"));
      expect(none.status).to.equal(Status.None);
    });
  });
});
