import type { AssignmentFields, DeliveryFields, JobSpec } from "@rendermesh/shared";
import { DatabaseTooNewError, openDatabase, statementCache, type SqliteDatabase, type SqliteStatement } from "@rendermesh/shared/db";
import { JournalError } from "../errors.js";
import { MIGRATIONS } from "./schema.js";

/**
 * The provider's journal: every assignment it accepted, every receipt it
 * signed, every voucher it received and every payment it made happen, in one
 * SQLite file (WAL, synchronous=FULL on the rows that carry money). A crash at
 * any moment leaves a row in a state the next start can act on:
 *
 *   accepted ──render+pin+sign──▶ delivered ──(voucher|settle)──▶ covered
 *      │                              └──after deadline──▶ claimed ──▶ finalized
 *      └──crash/failure/expiry──▶ released (given back; a re-sent assignment may take it again)
 *
 * A delivered row is never replaced: the same assignment asked again is
 * answered with the same signed delivery.
 */

export type AssignmentState = "accepted" | "delivered" | "released";
/** Where a delivered segment stands for payment. */
export type PayState = "unpaid" | "covered" | "claimed" | "finalized" | "disputed" | "rejected";

export interface JobRow {
  jobId: `0x${string}`;
  chainId: number;
  escrow: string;
  client: string;
  coordinator: string;
  /** Escrow deadline, unix seconds. */
  deadline: number;
  seconds: number;
  pricePerSecond: bigint;
  openedBlock: number;
  spec: JobSpec;
  /** Last status seen on-chain: open, settled or refunded. */
  status: "open" | "settled" | "refunded";
  /** Seconds the escrow has paid this provider for the job (vouchers, settle and claims). */
  paidSeconds: number;
  /** Set once nothing more can be earned from this job (all delivered segments covered, claimed or given up). */
  done: boolean;
}

export interface AssignmentRow {
  jobId: `0x${string}`;
  segment: number;
  state: AssignmentState;
  assignment: AssignmentFields;
  coordinatorSig: `0x${string}`;
  coordinatorPeer: string | null;
  framesDone: number;
  delivery: DeliveryFields | null;
  providerSig: `0x${string}` | null;
  cid: string | null;
  bytes: number | null;
  payState: PayState | null;
  claimTx: string | null;
  disputableUntil: number | null;
  /** When the delivery reached the coordinator (null: recorded but never acknowledged by a send). */
  reportedAt: number | null;
  releaseReason: string | null;
  attempts: number;
  createdAt: number;
  updatedAt: number;
}

export interface VoucherRow {
  jobId: `0x${string}`;
  chainId: number;
  escrow: string;
  seconds: number;
  signature: `0x${string}`;
  receivedAt: number;
  redeemedSeconds: number;
  redeemTx: string | null;
}

export type PaymentKind = "redeem" | "claim" | "settle" | "withdraw";
export interface PaymentRow {
  id: number;
  kind: PaymentKind;
  jobId: string | null;
  segment: number | null;
  seconds: number | null;
  amount: bigint;
  tx: string | null;
  at: number;
}

export interface AcceptInput {
  assignment: AssignmentFields;
  coordinatorSig: `0x${string}`;
  coordinatorPeer?: string | undefined;
}

export interface DeliveredInput {
  delivery: DeliveryFields;
  providerSig: `0x${string}`;
  bytes: number;
}

export interface JournalSummary {
  assignments: Record<AssignmentState, number>;
  /** Delivered segments by payment state. */
  payments: Record<PayState, number>;
  /** Voucher seconds received but not yet redeemed, over all jobs. */
  pendingVoucherSeconds: number;
  /** Token base units earned (redeemed, settled, finalised claims). */
  earned: bigint;
  withdrawn: bigint;
}

interface RawAssignment {
  job_id: string;
  segment: number;
  state: AssignmentState;
  assignment: string;
  coordinator_sig: string;
  coordinator_peer: string | null;
  frames_done: number;
  delivery: string | null;
  provider_sig: string | null;
  cid: string | null;
  bytes: number | null;
  pay_state: PayState | null;
  claim_tx: string | null;
  disputable_until: number | null;
  reported_at: number | null;
  release_reason: string | null;
  attempts: number;
  created_at: number;
  updated_at: number;
}

interface RawJob {
  job_id: string;
  chain_id: number;
  escrow: string;
  client: string;
  coordinator: string;
  deadline: number;
  seconds: number;
  price_per_second: string;
  opened_block: number;
  spec: string;
  status: JobRow["status"];
  paid_seconds: number;
  done: number;
}

interface RawVoucher {
  job_id: string;
  chain_id: number;
  escrow: string;
  seconds: number;
  signature: string;
  received_at: number;
  redeemed_seconds: number;
  redeem_tx: string | null;
}

const hex = (s: string) => s as `0x${string}`;

function toAssignment(r: RawAssignment): AssignmentRow {
  return {
    jobId: hex(r.job_id),
    segment: r.segment,
    state: r.state,
    assignment: JSON.parse(r.assignment) as AssignmentFields,
    coordinatorSig: hex(r.coordinator_sig),
    coordinatorPeer: r.coordinator_peer,
    framesDone: r.frames_done,
    delivery: r.delivery === null ? null : (JSON.parse(r.delivery) as DeliveryFields),
    providerSig: r.provider_sig === null ? null : hex(r.provider_sig),
    cid: r.cid,
    bytes: r.bytes,
    payState: r.pay_state,
    claimTx: r.claim_tx,
    disputableUntil: r.disputable_until,
    reportedAt: r.reported_at,
    releaseReason: r.release_reason,
    attempts: r.attempts,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

function toJob(r: RawJob): JobRow {
  return {
    jobId: hex(r.job_id),
    chainId: r.chain_id,
    escrow: r.escrow,
    client: r.client,
    coordinator: r.coordinator,
    deadline: r.deadline,
    seconds: r.seconds,
    pricePerSecond: BigInt(r.price_per_second),
    openedBlock: r.opened_block,
    spec: JSON.parse(r.spec) as JobSpec,
    status: r.status,
    paidSeconds: r.paid_seconds,
    done: r.done === 1,
  };
}

function toVoucher(r: RawVoucher): VoucherRow {
  return {
    jobId: hex(r.job_id),
    chainId: r.chain_id,
    escrow: r.escrow,
    seconds: r.seconds,
    signature: hex(r.signature),
    receivedAt: r.received_at,
    redeemedSeconds: r.redeemed_seconds,
    redeemTx: r.redeem_tx,
  };
}

export interface OpenJournalOptions {
  /** Clock in unix milliseconds (tests). */
  now?: () => number;
}

export class Journal {
  readonly path: string;
  private readonly db: SqliteDatabase;
  /** Statements prepared on first use and kept (`statementCache`). */
  private readonly sql: (sql: string) => SqliteStatement;
  private readonly now: () => number;

  private constructor(path: string, db: SqliteDatabase, now: () => number) {
    this.path = path;
    this.db = db;
    this.sql = statementCache(this.db);
    this.now = now;
  }

  /** Opens (creating if needed) the journal at `path`; `:memory:` for a throwaway one. */
  static open(path: string, options: OpenJournalOptions = {}): Journal {
    let db: SqliteDatabase;
    try {
      // FULL: a receipt or voucher acknowledged to a peer is on disk before the ack.
      db = openDatabase(path, { migrations: MIGRATIONS, synchronous: "FULL" });
    } catch (cause) {
      if (cause instanceof DatabaseTooNewError) {
        throw new JournalError(`The journal at ${path} was written by a newer provider (schema ${cause.version}).`, {
          hint: "Upgrade rendermesh-provider, or point --data-dir at another directory.",
        });
      }
      throw new JournalError(`Cannot open the journal at ${path}.`, {
        hint: "Check that the data dir is writable and not used by another provider process.",
        cause,
      });
    }
    return new Journal(path, db, options.now ?? Date.now);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ---- identity ------------------------------------------------------------

  /**
   * Binds the journal to the provider address on first use and refuses
   * another one afterwards: receipts signed by one key cannot be claimed by
   * another, so mixing them would lose money silently.
   */
  bindAddress(address: string): void {
    const row = this.sql("SELECT value FROM meta WHERE key = 'address'").get() as { value: string } | undefined;
    if (row === undefined) {
      this.sql("INSERT INTO meta (key, value) VALUES ('address', ?)").run(address.toLowerCase());
    } else if (row.value !== address.toLowerCase()) {
      throw new JournalError(`The journal at ${this.path} belongs to provider ${row.value}, not ${address}.`, {
        hint: "Start with the key that wrote this data dir, or use another --data-dir.",
      });
    }
  }

  getMeta(key: string): string | undefined {
    return (this.sql("SELECT value FROM meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.sql("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  // ---- jobs ----------------------------------------------------------------

  upsertJob(job: Omit<JobRow, "status" | "paidSeconds" | "done"> & Partial<Pick<JobRow, "status" | "paidSeconds">>): void {
    this.sql(
      `INSERT INTO jobs (job_id, chain_id, escrow, client, coordinator, deadline, seconds, price_per_second, opened_block, spec, status, paid_seconds, done)
         VALUES (@job_id, @chain_id, @escrow, @client, @coordinator, @deadline, @seconds, @price, @opened_block, @spec, @status, @paid, 0)
         ON CONFLICT(job_id) DO NOTHING`,
    ).run({
      job_id: job.jobId.toLowerCase(),
      chain_id: job.chainId,
      escrow: job.escrow.toLowerCase(),
      client: job.client.toLowerCase(),
      coordinator: job.coordinator.toLowerCase(),
      deadline: job.deadline,
      seconds: job.seconds,
      price: job.pricePerSecond.toString(),
      opened_block: job.openedBlock,
      spec: JSON.stringify(job.spec),
      status: job.status ?? "open",
      paid: job.paidSeconds ?? 0,
    });
  }

  getJob(jobId: string): JobRow | undefined {
    const r = this.sql("SELECT * FROM jobs WHERE job_id = ?").get(jobId.toLowerCase()) as RawJob | undefined;
    return r && toJob(r);
  }

  /** Jobs that may still earn something: not marked done. */
  listLiveJobs(): JobRow[] {
    return (this.sql("SELECT * FROM jobs WHERE done = 0 ORDER BY deadline").all() as RawJob[]).map(toJob);
  }

  listJobs(): JobRow[] {
    return (this.sql("SELECT * FROM jobs ORDER BY deadline").all() as RawJob[]).map(toJob);
  }

  updateJobChainState(jobId: string, state: { status: JobRow["status"]; paidSeconds: number }): void {
    this.sql("UPDATE jobs SET status = ?, paid_seconds = ? WHERE job_id = ?").run(state.status, state.paidSeconds, jobId.toLowerCase());
  }

  markJobDone(jobId: string): void {
    this.sql("UPDATE jobs SET done = 1 WHERE job_id = ?").run(jobId.toLowerCase());
  }

  // ---- assignments -----------------------------------------------------------

  getAssignment(jobId: string, segment: number): AssignmentRow | undefined {
    const r = this.sql("SELECT * FROM assignments WHERE job_id = ? AND segment = ?").get(jobId.toLowerCase(), segment) as
      RawAssignment | undefined;
    return r && toAssignment(r);
  }

  /**
   * Records an accepted assignment before any work starts. A released row is
   * taken again (a re-sent assignment after a restart); a delivered or
   * in-progress row is never overwritten — the caller answers from it.
   * Returns false when a row in state accepted or delivered already exists.
   */
  recordAccepted(input: AcceptInput): boolean {
    const a = input.assignment;
    const now = this.now();
    const run = this.db.transaction(() => {
      const existing = this.getAssignment(a.jobId, a.segment);
      if (existing && existing.state !== "released") return false;
      this.sql(
        `INSERT INTO assignments (job_id, segment, state, assignment, coordinator_sig, coordinator_peer, frames_done, attempts, created_at, updated_at)
           VALUES (@job_id, @segment, 'accepted', @assignment, @sig, @peer, 0, 1, @now, @now)
           ON CONFLICT(job_id, segment) DO UPDATE SET
             state = 'accepted', assignment = excluded.assignment, coordinator_sig = excluded.coordinator_sig,
             coordinator_peer = excluded.coordinator_peer, frames_done = 0, release_reason = NULL,
             attempts = attempts + 1, updated_at = excluded.updated_at`,
      ).run({
        job_id: a.jobId.toLowerCase(),
        segment: a.segment,
        assignment: JSON.stringify(a),
        sig: input.coordinatorSig,
        peer: input.coordinatorPeer ?? null,
        now,
      });
      return true;
    });
    return run.immediate();
  }

  recordProgress(jobId: string, segment: number, framesDone: number): void {
    this.sql("UPDATE assignments SET frames_done = ?, updated_at = ? WHERE job_id = ? AND segment = ? AND state = 'accepted'").run(
      framesDone,
      this.now(),
      jobId.toLowerCase(),
      segment,
    );
  }

  /** Stores the signed receipt; from here on the segment is owed money. */
  recordDelivered(jobId: string, segment: number, input: DeliveredInput): void {
    const info = this.sql(
      `UPDATE assignments SET state = 'delivered', delivery = ?, provider_sig = ?, cid = ?, bytes = ?, frames_done = ?,
           pay_state = 'unpaid', updated_at = ?
         WHERE job_id = ? AND segment = ? AND state = 'accepted'`,
    ).run(
      JSON.stringify(input.delivery),
      input.providerSig,
      input.delivery.cid,
      input.bytes,
      input.delivery.frameCount,
      this.now(),
      jobId.toLowerCase(),
      segment,
    );
    if (info.changes !== 1) {
      throw new JournalError(`Segment ${segment} of job ${jobId} is not in progress, so its delivery cannot be recorded.`);
    }
  }

  /** Notes that the delivery message was written to the coordinator's stream. */
  markReported(jobId: string, segment: number): void {
    this.sql("UPDATE assignments SET reported_at = COALESCE(reported_at, ?) WHERE job_id = ? AND segment = ? AND state = 'delivered'").run(
      this.now(),
      jobId.toLowerCase(),
      segment,
    );
  }

  /** Gives a segment back (failure, restart, expiry). Only rows still in progress are released. */
  release(jobId: string, segment: number, reason: string): boolean {
    const info = this.sql(
      "UPDATE assignments SET state = 'released', release_reason = ?, updated_at = ? WHERE job_id = ? AND segment = ? AND state = 'accepted'",
    ).run(reason, this.now(), jobId.toLowerCase(), segment);
    return info.changes === 1;
  }

  /**
   * At start-up: every row still `accepted` was cut off by a crash. Nothing
   * was delivered for it, so it is given back; the coordinator reassigns it
   * or re-sends it here, and then it renders again.
   */
  releaseInterrupted(reason = "restart"): AssignmentRow[] {
    const run = this.db.transaction(() => {
      const rows = (this.sql("SELECT * FROM assignments WHERE state = 'accepted'").all() as RawAssignment[]).map(toAssignment);
      this.sql("UPDATE assignments SET state = 'released', release_reason = ?, updated_at = ? WHERE state = 'accepted'").run(
        reason,
        this.now(),
      );
      return rows;
    });
    return run.immediate();
  }

  listAssignments(filter: { state?: AssignmentState; jobId?: string; payState?: PayState } = {}): AssignmentRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.state) {
      where.push("state = ?");
      args.push(filter.state);
    }
    if (filter.jobId) {
      where.push("job_id = ?");
      args.push(filter.jobId.toLowerCase());
    }
    if (filter.payState) {
      where.push("pay_state = ?");
      args.push(filter.payState);
    }
    const sql = `SELECT * FROM assignments${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY job_id, segment`;
    return (this.sql(sql).all(...args) as RawAssignment[]).map(toAssignment);
  }

  countInProgress(): number {
    return (this.sql("SELECT COUNT(*) AS n FROM assignments WHERE state = 'accepted'").get() as { n: number }).n;
  }

  setPayState(jobId: string, segment: number, payState: PayState, extra: { claimTx?: string; disputableUntil?: number } = {}): void {
    this.sql(
      `UPDATE assignments SET pay_state = ?, claim_tx = COALESCE(?, claim_tx), disputable_until = COALESCE(?, disputable_until), updated_at = ?
         WHERE job_id = ? AND segment = ? AND state = 'delivered'`,
    ).run(payState, extra.claimTx ?? null, extra.disputableUntil ?? null, this.now(), jobId.toLowerCase(), segment);
  }

  // ---- vouchers ---------------------------------------------------------------

  /**
   * Keeps the highest voucher per job (vouchers are cumulative, so a lower one
   * adds nothing). Returns the seconds now held, which the ack reports.
   */
  recordVoucher(v: { jobId: string; chainId: number; escrow: string; seconds: number; signature: string }): {
    stored: boolean;
    seconds: number;
  } {
    const run = this.db.transaction(() => {
      const existing = this.getVoucher(v.jobId);
      if (existing && existing.seconds >= v.seconds) return { stored: false, seconds: existing.seconds };
      this.sql(
        `INSERT INTO vouchers (job_id, chain_id, escrow, seconds, signature, received_at, redeemed_seconds)
           VALUES (@job_id, @chain_id, @escrow, @seconds, @signature, @now, 0)
           ON CONFLICT(job_id) DO UPDATE SET seconds = excluded.seconds, signature = excluded.signature, received_at = excluded.received_at`,
      ).run({
        job_id: v.jobId.toLowerCase(),
        chain_id: v.chainId,
        escrow: v.escrow.toLowerCase(),
        seconds: v.seconds,
        signature: v.signature,
        now: this.now(),
      });
      return { stored: true, seconds: v.seconds };
    });
    return run.immediate();
  }

  getVoucher(jobId: string): VoucherRow | undefined {
    const r = this.sql("SELECT * FROM vouchers WHERE job_id = ?").get(jobId.toLowerCase()) as RawVoucher | undefined;
    return r && toVoucher(r);
  }

  listVouchers(): VoucherRow[] {
    return (this.sql("SELECT * FROM vouchers ORDER BY received_at").all() as RawVoucher[]).map(toVoucher);
  }

  markRedeemed(jobId: string, seconds: number, tx: string | null): void {
    this.sql("UPDATE vouchers SET redeemed_seconds = MAX(redeemed_seconds, ?), redeem_tx = COALESCE(?, redeem_tx) WHERE job_id = ?").run(
      seconds,
      tx,
      jobId.toLowerCase(),
    );
  }

  // ---- allocations ---------------------------------------------------------------

  /** Keeps the highest coordinator allocation per job (allocations are cumulative). */
  recordAllocation(jobId: string, allocation: { seconds: number; signature: string }): void {
    this.sql(
      `INSERT INTO allocations (job_id, seconds, signature) VALUES (?, ?, ?)
         ON CONFLICT(job_id) DO UPDATE SET seconds = excluded.seconds, signature = excluded.signature WHERE excluded.seconds > allocations.seconds`,
    ).run(jobId.toLowerCase(), allocation.seconds, allocation.signature);
  }

  /**
   * The highest allocation held for the job, and `onChainSeconds`: the allocation the escrow keeps on record for this
   * provider from one of its own redeems (0 when none is known).
   */
  getAllocation(jobId: string): { seconds: number; signature: `0x${string}`; onChainSeconds: number } | undefined {
    const r = this.sql("SELECT seconds, signature, on_chain_seconds FROM allocations WHERE job_id = ?").get(jobId.toLowerCase()) as
      { seconds: number; signature: `0x${string}`; on_chain_seconds: number } | undefined;
    return r && { seconds: r.seconds, signature: r.signature, onChainSeconds: r.on_chain_seconds };
  }

  /**
   * Notes the allocation a mined redeem of this provider verified, which the escrow now keeps (it keeps the highest);
   * `seconds` 0 forgets it (an empty-signature redeem was refused: the next one sends the signature again).
   */
  setOnChainAllocation(jobId: string, seconds: number): void {
    const sql =
      seconds === 0
        ? "UPDATE allocations SET on_chain_seconds = 0 WHERE job_id = ?"
        : "UPDATE allocations SET on_chain_seconds = MAX(on_chain_seconds, ?) WHERE job_id = ?";
    if (seconds === 0) this.sql(sql).run(jobId.toLowerCase());
    else this.sql(sql).run(seconds, jobId.toLowerCase());
  }

  // ---- payments ledger ---------------------------------------------------------

  /** Records a payment; the same (tx, kind, segment) is recorded once. Returns whether it was new. */
  recordPayment(p: {
    kind: PaymentKind;
    jobId?: string;
    segment?: number | undefined;
    seconds?: number | undefined;
    amount: bigint;
    tx?: string | null;
  }): boolean {
    const info = this.sql(
      "INSERT OR IGNORE INTO payments (kind, job_id, segment, seconds, amount, tx, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).run(p.kind, p.jobId?.toLowerCase() ?? null, p.segment ?? null, p.seconds ?? null, p.amount.toString(), p.tx ?? null, this.now());
    return info.changes === 1;
  }

  listPayments(): PaymentRow[] {
    const rows = this.sql("SELECT * FROM payments ORDER BY id").all() as Array<{
      id: number;
      kind: PaymentKind;
      job_id: string | null;
      segment: number | null;
      seconds: number | null;
      amount: string;
      tx: string | null;
      at: number;
    }>;
    return rows.map((r) => ({
      id: r.id,
      kind: r.kind,
      jobId: r.job_id,
      segment: r.segment,
      seconds: r.seconds,
      amount: BigInt(r.amount),
      tx: r.tx,
      at: r.at,
    }));
  }

  summary(): JournalSummary {
    const assignments: Record<AssignmentState, number> = { accepted: 0, delivered: 0, released: 0 };
    for (const r of this.sql("SELECT state, COUNT(*) AS n FROM assignments GROUP BY state").all() as Array<{
      state: AssignmentState;
      n: number;
    }>) {
      assignments[r.state] = r.n;
    }
    const payments: Record<PayState, number> = { unpaid: 0, covered: 0, claimed: 0, finalized: 0, disputed: 0, rejected: 0 };
    for (const r of this.sql(
      "SELECT pay_state, COUNT(*) AS n FROM assignments WHERE state = 'delivered' GROUP BY pay_state",
    ).all() as Array<{ pay_state: PayState; n: number }>) {
      payments[r.pay_state] = r.n;
    }
    const pending = this.sql(
      "SELECT COALESCE(SUM(v.seconds - v.redeemed_seconds), 0) AS n FROM vouchers v LEFT JOIN jobs j USING (job_id) WHERE j.status IS NULL OR j.status = 'open'",
    ).get() as { n: number };
    let earned = 0n;
    let withdrawn = 0n;
    for (const p of this.listPayments()) {
      if (p.kind === "withdraw") withdrawn += p.amount;
      else earned += p.amount;
    }
    return { assignments, payments, pendingVoucherSeconds: pending.n, earned, withdrawn };
  }
}
