import type { Logger } from "@rendermesh/shared";
import type { AssignmentRow, Journal, JobRow } from "../journal/index.js";
import type { ProviderMetrics } from "../metrics.js";
import { ClaimStatus, JobStatus, jobStatusName, type EscrowJob } from "@rendermesh/shared/chain";
import type { AllocationProof, ChainReader, EscrowWriter, SegmentAttribution } from "./types.js";

/**
 * The job's coordinator's view of which copy of each segment the client verified (segment → provider and CID;
 * a segment not in the map has no verified copy); undefined when the coordinator is none this provider links to
 * (nobody to ask). Throws when the coordinator cannot be reached.
 */
export type VerifiedCopies = (
  jobId: string,
  coordinator: string,
  options: { signal?: AbortSignal },
) => Promise<Map<number, { provider: string; cid: string }> | undefined>;

export interface PaymentLoopComponents {
  address: string;
  /**
   * Asked before claiming: a segment whose verified copy is another provider's (a speculative copy that lost) is
   * never claimed. Without it (tests of the loop alone) every delivered segment counts.
   */
  verifiedCopies?: VerifiedCopies | undefined;
  chain: Pick<ChainReader, "getJob" | "paidSeconds" | "readPolicy" | "chainTime" | "jobOpenedBlock" | "paymentEvents">;
  escrow: EscrowWriter;
  journal: Journal;
  metrics?: ProviderMetrics | undefined;
  logger: Logger;
  /** Wall clock, unix ms (tests). */
  now?: () => number;
}

export interface PaymentLoopInit {
  intervalMs?: number;
  /** Redeem unredeemed voucher seconds this close to a job's deadline (seconds). */
  redeemBeforeDeadlineSeconds?: number;
  /** …or once the client has sent no higher voucher for this long (seconds). */
  redeemAfterQuietSeconds?: number;
  /** Withdraw the escrow balance once it reaches this; undefined: never automatically. */
  autoWithdrawAbove?: bigint | undefined;
}

/** What one pass did, for logs, `status` and tests. */
export interface PaymentTick {
  redeemed: Array<{ jobId: string; seconds: number; amount: bigint; tx: string }>;
  /** Redeems that first dropped other providers' claims on segments this provider delivered (`attributeSegment`). */
  attributed: Array<{ jobId: string; segments: number[]; dropped: string[]; seconds: number; amount: bigint; tx: string }>;
  claimed: Array<{ jobId: string; segment: number; tx: string; disputableUntil: number }>;
  finalized: Array<{ jobId: string; segment: number; amount: bigint; tx: string }>;
  settled: Array<{ jobId: string; seconds: number; amount: bigint }>;
  withdrawn: bigint;
  errors: Array<{ jobId?: string; segment?: number; action: string; message: string }>;
}

/** The provider's share of one second of a job: price less both fees, each rounded down (as the escrow computes it). */
export function netPerSecond(job: Pick<EscrowJob, "pricePerSecond" | "coordinatorFeeBps" | "treasuryFeeBps">): bigint {
  const p = job.pricePerSecond;
  return p - (p * BigInt(job.coordinatorFeeBps)) / 10_000n - (p * BigInt(job.treasuryFeeBps)) / 10_000n;
}

const errText = (err: unknown) => {
  const e = err as { shortMessage?: string; reason?: string; message?: string };
  return e.reason ?? e.shortMessage ?? e.message ?? String(err);
};

/**
 * Turns the journal's receipts and vouchers into tokens, by itself:
 *
 * - While a job is open, its highest voucher is redeemed once the deadline is
 *   near or the client has gone quiet (a client that settles pays the
 *   same seconds; redeeming first protects against a settle that leaves
 *   this provider out).
 * - After the deadline, within the claim window, delivered segments that
 *   vouchers do not cover are claimed with the coordinator-signed
 *   assignment and this provider's delivery receipt. The escrow pays a
 *   claim only once this provider's claimed segments exceed its voucher
 *   seconds, so either the voucher is redeemed (it covers every delivered
 *   segment) or every delivered segment is claimed — never a mix.
 * - Claims past their dispute window are finalised.
 * - A settle, a refund or a redeem sent by someone else is noticed and
 *   recorded; a job with nothing left to earn is marked done.
 */
export class PaymentLoop {
  readonly #c: PaymentLoopComponents;
  readonly #init: Required<Omit<PaymentLoopInit, "autoWithdrawAbove">> & { autoWithdrawAbove: bigint | undefined };
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<PaymentTick> | undefined;
  #stopped = false;
  /** True while `stop()` waits for a pass: the pass ends after its current job. */
  #halting = false;

  constructor(components: PaymentLoopComponents, init: PaymentLoopInit = {}) {
    this.#c = components;
    this.#init = {
      intervalMs: init.intervalMs ?? 30_000,
      redeemBeforeDeadlineSeconds: init.redeemBeforeDeadlineSeconds ?? 600,
      redeemAfterQuietSeconds: init.redeemAfterQuietSeconds ?? 900,
      autoWithdrawAbove: init.autoWithdrawAbove,
    };
  }

  start(): void {
    this.#stopped = false;
    const loop = () => {
      if (this.#stopped) return;
      this.tick()
        .catch((err: unknown) => this.#c.logger.warn({ err }, "payment pass failed"))
        .finally(() => {
          if (!this.#stopped) this.#timer = setTimeout(loop, this.#init.intervalMs);
        });
    };
    this.#timer = setTimeout(loop, Math.min(1_000, this.#init.intervalMs));
  }

  /** Stops the schedule (a pass in progress ends after its current job). `tick()` still runs a pass on demand. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#halting = true;
    clearTimeout(this.#timer);
    try {
      await this.#running?.catch(() => undefined);
    } finally {
      this.#halting = false;
    }
  }

  /** One pass over every job that may still earn something; passes never overlap. */
  tick(): Promise<PaymentTick> {
    if (this.#running) return this.#running;
    this.#running = this.#tick().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #tick(): Promise<PaymentTick> {
    const out: PaymentTick = { redeemed: [], attributed: [], claimed: [], finalized: [], settled: [], withdrawn: 0n, errors: [] };
    const { journal } = this.#c;
    const chainNow = await this.#c.chain.chainTime();
    let windows: { disputeWindow: number; claimWindow: number } | undefined;
    const policyWindows = async () => {
      if (!windows) {
        const p = await this.#c.chain.readPolicy();
        windows = { disputeWindow: Number(p.disputeWindow), claimWindow: Number(p.claimWindow) };
      }
      return windows;
    };

    const jobs = new Map<string, JobRow | undefined>(journal.listLiveJobs().map((j) => [j.jobId, j]));
    for (const v of journal.listVouchers()) {
      if (v.seconds > v.redeemedSeconds && !jobs.has(v.jobId) && !journal.getJob(v.jobId)) jobs.set(v.jobId, undefined);
    }

    for (const [jobId, row] of jobs) {
      if (this.#halting) break;
      try {
        await this.#job(jobId, row, chainNow, policyWindows, out);
      } catch (err) {
        out.errors.push({ jobId, action: "job", message: errText(err) });
        this.#c.logger.warn({ job: jobId, err }, "payment pass for job failed");
      }
    }

    if (this.#init.autoWithdrawAbove !== undefined && !this.#halting) {
      try {
        const balance = await this.#c.escrow.escrowBalance(this.#c.address);
        if (balance > 0n && balance >= this.#init.autoWithdrawAbove) {
          const tx = await this.#c.escrow.withdraw();
          journal.recordPayment({ kind: "withdraw", amount: tx.amount, tx: tx.hash });
          out.withdrawn = tx.amount;
          this.#c.logger.info({ amount: tx.amount.toString(), tx: tx.hash }, "withdrew escrow balance");
        }
      } catch (err) {
        out.errors.push({ action: "withdraw", message: errText(err) });
      }
    }
    return out;
  }

  async #job(
    jobId: string,
    row: JobRow | undefined,
    chainNow: number,
    policyWindows: () => Promise<{ disputeWindow: number; claimWindow: number }>,
    out: PaymentTick,
  ): Promise<void> {
    const { journal, escrow, logger } = this.#c;
    const log = logger.child({ job: jobId });
    const job = await this.#c.chain.getJob(jobId);
    if (job.status === JobStatus.None) return;
    const fromBlock = row?.openedBlock ?? (await this.#c.chain.jobOpenedBlock(jobId)) ?? 0;
    const status = jobStatusName(job.status) as JobRow["status"];
    const own = new Set<string>();
    // What the escrow has paid so far, including settles and redeems sent by others.
    let paid = await this.#sync(jobId, row, status, fromBlock, own, out);
    const voucher = journal.getVoucher(jobId);
    const delivered = journal.listAssignments({ jobId, state: "delivered" });
    // A copy known not to count (the client verified another provider's) is never claimed.
    let reported = delivered.filter((a) => a.reportedAt !== null && a.payState !== "rejected");
    this.#markCovered(delivered, paid);

    if (status !== "open") {
      // Settled or refunded: nothing more can be paid, and no claim can be pending (the escrow refuses both then).
      for (const a of delivered)
        if (a.payState === "unpaid" || a.payState === "claimed")
          journal.setPayState(jobId, a.segment, paid >= delivered.length ? "covered" : "rejected");
      // The voucher can no longer be used: stop counting it as pending.
      if (voucher && voucher.redeemedSeconds < voucher.seconds) journal.markRedeemed(jobId, voucher.seconds, null);
      if (row) journal.markJobDone(jobId);
      return;
    }

    // Claims open after the deadline, or at once when the client settled without this provider's acknowledgement
    // (the job is closing: its challenge window is the time left to claim).
    const closing = job.status === JobStatus.Closing;
    const afterDeadline = closing || chainNow > job.deadline;
    let wantClaims = afterDeadline && reported.length > Math.max(paid, voucher?.seconds ?? 0);
    // Before any claim: drop the copies whose segment the client verified from another provider.
    let claimsWait = false;
    if (wantClaims && row) {
      // A closing job's challenge window is short: its claims never wait for the coordinator.
      const waitUntil = closing ? 0 : job.deadline + Math.floor(job.claimWindow / 2);
      const check = await this.#dropSuperseded(row, reported, chainNow, waitUntil, log);
      reported = check.counted;
      claimsWait = check.wait;
      wantClaims = reported.length > Math.max(paid, voucher?.seconds ?? 0);
    }

    // 1. Redeem the voucher when it is due (and claims would not earn more).
    if (voucher && voucher.seconds > paid && !wantClaims) {
      // A closing job refunds the client after its challenge window: redeem at once.
      const quiet = closing || ((this.#c.now?.() ?? Date.now()) - voucher.receivedAt) / 1000 >= this.#init.redeemAfterQuietSeconds;
      const nearDeadline = chainNow >= job.deadline - this.#init.redeemBeforeDeadlineSeconds;
      if (quiet || nearDeadline) {
        let onRecord = false;
        try {
          const allocation = journal.getAllocation(jobId);
          if (!allocation) throw new Error(`no coordinator allocation is held for job ${jobId}; a redeem needs one`);
          // The escrow keeps the allocation an earlier redeem of ours verified: a voucher within it goes with an empty
          // allocation signature (one signature check fewer).
          onRecord = allocation.onChainSeconds >= voucher.seconds;
          const tx = await escrow.redeem(
            { jobId: voucher.jobId, provider: this.#c.address as `0x${string}`, seconds: voucher.seconds },
            voucher.signature,
            onRecord ? { seconds: allocation.onChainSeconds, signature: "0x" } : allocation,
          );
          if (!onRecord) journal.setOnChainAllocation(jobId, allocation.seconds);
          own.add(tx.hash);
          journal.markRedeemed(jobId, voucher.seconds, tx.hash);
          out.redeemed.push({ jobId, seconds: voucher.seconds, amount: tx.amount, tx: tx.hash });
          log.info(
            {
              seconds: voucher.seconds,
              amount: tx.amount.toString(),
              tx: tx.hash,
              reason: nearDeadline ? "deadline near" : "client quiet",
            },
            "voucher redeemed",
          );
          paid = await this.#sync(jobId, row, status, fromBlock, own, out);
          this.#markCovered(delivered, paid);
        } catch (err) {
          // Refused with the record we believed in (a journal restored from elsewhere): send the signature next time.
          if (onRecord) journal.setOnChainAllocation(jobId, 0);
          const allocation = journal.getAllocation(jobId);
          // Another provider's claim on a segment this provider delivered (a speculative copy's) took the seconds the
          // voucher pays: drop it and redeem in one call, which the escrow allows exactly then.
          const protectedBy =
            /JobEscrowSecondsExceeded/.test(errText(err)) && allocation
              ? await this.#attributeAndRedeem(jobId, voucher, allocation, delivered, log)
              : undefined;
          if (protectedBy) {
            own.add(protectedBy.tx);
            journal.setOnChainAllocation(jobId, allocation!.seconds);
            journal.markRedeemed(jobId, voucher.seconds, protectedBy.tx);
            out.redeemed.push({ jobId, seconds: voucher.seconds, amount: protectedBy.amount, tx: protectedBy.tx });
            out.attributed.push(protectedBy);
            paid = await this.#sync(jobId, row, status, fromBlock, own, out);
            this.#markCovered(delivered, paid);
          } else {
            out.errors.push({ jobId, action: "redeem", message: errText(err) });
            log.warn({ reason: errText(err) }, "redeem failed");
          }
        }
      }
    }

    // 2. After the deadline: claim every reported delivery, so claimed segments exceed voucher seconds.
    let windowClosed = false;
    if (afterDeadline) {
      // The job's own claim window (fixed when it opened), or the challenge window of a closing job.
      windowClosed = chainNow > (closing ? job.closesAt : job.deadline + job.claimWindow);
      if (wantClaims && !windowClosed && !claimsWait) {
        for (const a of reported) {
          if (a.payState !== "unpaid" && a.payState !== "covered") continue;
          const claim = await escrow.getClaim(jobId, a.segment);
          if (claim.status !== ClaimStatus.None) {
            this.#syncClaim(
              a,
              claim.provider.toLowerCase() === this.#c.address.toLowerCase() ? claim.status : ClaimStatus.Refused,
              claim.disputableUntil,
            );
            continue;
          }
          try {
            const tx = await escrow.claim(a.assignment, a.coordinatorSig, a.delivery!, a.providerSig!);
            journal.setPayState(jobId, a.segment, "claimed", { claimTx: tx.hash, disputableUntil: tx.disputableUntil });
            out.claimed.push({ jobId, segment: a.segment, tx: tx.hash, disputableUntil: tx.disputableUntil });
            log.info({ segment: a.segment, tx: tx.hash, disputableUntil: tx.disputableUntil }, "segment claimed");
          } catch (err) {
            out.errors.push({ jobId, segment: a.segment, action: "claim", message: errText(err) });
            log.warn({ segment: a.segment, reason: errText(err) }, "claim failed");
            break; // the escrow has no more unreserved seconds, or the job changed: try again next pass
          }
        }
      }
    }

    // 3. Finalise claims whose dispute window has passed; follow disputes.
    const claimed = journal
      .listAssignments({ jobId, state: "delivered" })
      .filter((a) => a.payState === "claimed" || a.payState === "disputed");
    let finalizedAny = false;
    for (const a of claimed) {
      const claim = await escrow.getClaim(jobId, a.segment);
      // An undisputed claim past its dispute window, or a disputed one the arbiter left past its window, is paid.
      if ((claim.status === ClaimStatus.Pending || claim.status === ClaimStatus.Disputed) && chainNow > claim.disputableUntil) {
        try {
          const tx = await escrow.finalizeClaim(jobId, a.segment);
          own.add(tx.hash);
          finalizedAny = true;
          journal.setPayState(jobId, a.segment, "finalized");
          out.finalized.push({ jobId, segment: a.segment, amount: tx.amount, tx: tx.hash });
          log.info({ segment: a.segment, amount: tx.amount.toString(), tx: tx.hash }, "claim finalised");
        } catch (err) {
          out.errors.push({ jobId, segment: a.segment, action: "finalizeClaim", message: errText(err) });
        }
      } else {
        this.#syncClaim(a, claim.status, claim.disputableUntil);
      }
    }
    if (finalizedAny) paid = await this.#sync(jobId, row, status, fromBlock, own, out);

    // 4. Done once the claim window has closed and no claim of ours is open.
    const open = journal.listAssignments({ jobId, state: "delivered" }).some((a) => a.payState === "claimed" || a.payState === "disputed");
    if (windowClosed && !open) {
      if (voucher && voucher.seconds > paid) return; // the voucher can still be redeemed until the job closes
      for (const a of journal.listAssignments({ jobId, state: "delivered" }))
        if (a.payState === "unpaid") journal.setPayState(jobId, a.segment, "rejected");
      if (row) journal.markJobDone(jobId);
    }
  }

  /**
   * The voucher cannot be redeemed because claims reserved the seconds it pays. Finds other providers' pending or
   * disputed claims on segments this provider delivered, and picks the fewest, in segment order, that let the escrow
   * pay the voucher (each one it adds must still leave the voucher short, or the escrow refuses it as not needed),
   * then sends `attributeSegment`. Undefined when the writer cannot attribute, no such claim exists, or none helps.
   */
  async #attributeAndRedeem(
    jobId: string,
    voucher: { jobId: `0x${string}`; seconds: number; signature: `0x${string}` },
    allocation: AllocationProof,
    delivered: AssignmentRow[],
    log: Logger,
  ): Promise<PaymentTick["attributed"][number] | undefined> {
    const { escrow } = this.#c;
    if (!escrow.checkAttributeSegment || !escrow.attributeSegment) return undefined;
    const me = this.#c.address.toLowerCase();
    const fields = { jobId: voucher.jobId, provider: this.#c.address as `0x${string}`, seconds: voucher.seconds };
    const chosen: Array<SegmentAttribution & { claimant: string }> = [];
    for (const a of delivered) {
      if (!a.delivery || !a.providerSig || a.payState === "rejected") continue;
      const claim = await escrow.getClaim(jobId, a.segment);
      if (claim.status !== ClaimStatus.Pending && claim.status !== ClaimStatus.Disputed) continue;
      if (claim.provider.toLowerCase() === me) continue;
      const candidate = {
        assignment: a.assignment,
        coordinatorSig: a.coordinatorSig,
        delivery: a.delivery,
        providerSig: a.providerSig,
        claimant: claim.provider,
      };
      const refusal = await escrow.checkAttributeSegment(fields, voucher.signature, allocation, [...chosen, candidate]);
      if (refusal === undefined) {
        chosen.push(candidate);
        const tx = await escrow.attributeSegment(fields, voucher.signature, allocation, chosen);
        const segments = chosen.map((c) => c.assignment.segment);
        const dropped = chosen.map((c) => c.claimant);
        log.info(
          { segments, dropped, seconds: voucher.seconds, amount: tx.amount.toString(), tx: tx.hash },
          "voucher redeemed after dropping other providers' claims on segments this provider delivered",
        );
        return { jobId, segments, dropped, seconds: voucher.seconds, amount: tx.amount, tx: tx.hash };
      }
      // Still short with this one: it is needed, keep it and look for the next. Any other refusal: skip it.
      if (/JobEscrowSecondsExceeded/.test(refusal)) chosen.push(candidate);
    }
    return undefined;
  }

  /**
   * Asks the job's coordinator which copy of each reported segment the client
   * verified, and marks this provider's copy `rejected` (never claimed) where
   * it was another one: the speculative copy that lost. A segment nobody's
   * copy was verified for stays claimable (the client vanished with it
   * unchecked). While the coordinator cannot be asked, claims wait until half
   * the claim window has passed, then go ahead (a provider that delivered is
   * paid for it whatever the coordinator does).
   */
  async #dropSuperseded(
    row: JobRow,
    reported: AssignmentRow[],
    chainNow: number,
    waitUntil: number,
    log: Logger,
  ): Promise<{ counted: AssignmentRow[]; wait: boolean }> {
    const ask = this.#c.verifiedCopies;
    const open = reported.filter((a) => a.payState === "unpaid" || a.payState === "covered");
    if (!ask || open.length === 0) return { counted: reported, wait: false };
    let copies: Map<number, { provider: string; cid: string }> | undefined;
    try {
      copies = await ask(row.jobId, row.coordinator, { signal: AbortSignal.timeout(15_000) });
      if (!copies) return { counted: reported, wait: false };
    } catch (err) {
      const wait = chainNow < waitUntil;
      log.warn(
        { coordinator: row.coordinator, reason: errText(err), claimsWait: wait },
        wait
          ? "cannot ask the coordinator which copies the client verified; claims wait"
          : "cannot ask the coordinator which copies the client verified; half the claim window has passed, claiming",
      );
      return { counted: reported, wait };
    }
    const me = this.#c.address.toLowerCase();
    const counted: AssignmentRow[] = [];
    for (const a of reported) {
      const v = copies.get(a.segment);
      const mine = !v || (v.provider.toLowerCase() === me && v.cid === a.cid);
      if (mine || !open.includes(a)) {
        counted.push(a);
        continue;
      }
      this.#c.journal.setPayState(a.jobId, a.segment, "rejected");
      log.info(
        { segment: a.segment, cid: a.cid, verified: v.provider.toLowerCase() === me ? v.cid : v.provider },
        "segment not claimed: the client verified another copy of it",
      );
    }
    return { counted, wait: false };
  }

  /**
   * Records every payment the escrow made to this provider for the job that
   * the journal does not hold yet (by transaction), and returns the seconds
   * paid: the most of the escrow's `paidSeconds` view and the cumulative
   * seconds of its VoucherRedeemed events (a settle does not update the view).
   */
  async #sync(
    jobId: string,
    row: JobRow | undefined,
    status: JobRow["status"],
    fromBlock: number,
    own: ReadonlySet<string>,
    out: PaymentTick,
  ): Promise<number> {
    const { journal } = this.#c;
    const [view, events] = await Promise.all([
      this.#c.chain.paidSeconds(jobId, this.#c.address),
      this.#c.chain.paymentEvents(jobId, this.#c.address, fromBlock),
    ]);
    let paid = view;
    for (const e of events) {
      if (e.seconds !== undefined) paid = Math.max(paid, e.seconds);
      const isNew = journal.recordPayment({
        kind: e.kind,
        jobId,
        segment: e.segment,
        seconds: e.kind === "claim" ? 1 : e.seconds,
        amount: e.amount,
        tx: e.tx,
      });
      if (!isNew) continue;
      this.#c.metrics?.addEarned(e.amount);
      if (!own.has(e.tx) && e.kind !== "claim") {
        out.settled.push({ jobId, seconds: e.seconds ?? 0, amount: e.amount });
        this.#c.logger.info({ job: jobId, kind: e.kind, seconds: e.seconds, amount: e.amount.toString(), tx: e.tx }, "payment received");
      }
    }
    if (row) journal.updateJobChainState(jobId, { status, paidSeconds: paid });
    return paid;
  }

  /** Delivered segments up to the number of paid seconds count as covered (payment is per second, not per segment). */
  #markCovered(delivered: AssignmentRow[], paid: number): void {
    if (paid >= delivered.length) {
      for (const a of delivered) if (a.payState === "unpaid") this.#c.journal.setPayState(a.jobId, a.segment, "covered");
    }
  }

  #syncClaim(a: AssignmentRow, status: number, disputableUntil: number): void {
    const next =
      status === ClaimStatus.Pending
        ? "claimed"
        : status === ClaimStatus.Disputed
          ? "disputed"
          : status === ClaimStatus.Paid
            ? "finalized"
            : status === ClaimStatus.Refused
              ? "rejected"
              : undefined;
    if (next && next !== a.payState) this.#c.journal.setPayState(a.jobId, a.segment, next, { disputableUntil });
  }
}
