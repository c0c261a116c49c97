import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { JobSpec, SignedAssignment, SignedDelivery } from "@rendermesh/shared";
import {
  DatabaseTooNewError,
  openDatabase,
  type Migration,
  statementCache,
  type SqliteDatabase,
  type SqliteStatement,
} from "@rendermesh/shared/db";
import { JournalError } from "../errors.js";
import type { CheckName } from "../verify/types.js";

/**
 * The client's journal: one SQLite file (WAL, synchronous=FULL) that records
 * every step of every job before the next step depends on it, so a client
 * killed at any moment continues with `rendermesh job resume` and
 *
 * - never pays twice: each transaction is signed, journalled with its raw
 *   bytes and hash, and only then broadcast; a resumed client looks the hash
 *   up (and re-broadcasts the same bytes, same nonce) instead of sending a new
 *   transaction, and reads the job's on-chain status before settling;
 * - never loses a verified segment: a segment's receipt, its checks and the
 *   voucher it pays for are written in one SQLite transaction together with
 *   the coordinator event's sequence number, so a replayed event is either
 *   fully applied already or applied again from scratch.
 */

/** Where a job is in its life, in order. */
export const JOB_PHASES = [
  "opening",
  "open",
  "submitted",
  "complete",
  "assembled",
  "settling",
  "settled",
  "refunded",
  "closed",
  "failed",
] as const;
export type JobPhase = (typeof JOB_PHASES)[number];

export type TxKind = "open" | "settle" | "refund";
type TxState = "signed" | "sent" | "mined" | "reverted";

export interface JournalTx {
  kind: TxKind;
  hash: `0x${string}`;
  /** The signed raw transaction, so a resumed client re-broadcasts the very same one. */
  raw: `0x${string}`;
  nonce: number;
  state: TxState;
  blockNumber: number | undefined;
  gasUsed: bigint | undefined;
  sentAt: number;
  minedAt: number | undefined;
}

export interface JournalJob {
  /** Local key: the hash of the openJob transaction (known before the job id). */
  ref: `0x${string}`;
  /** Escrow job id, once the open transaction is mined. */
  jobId: `0x${string}` | undefined;
  chainId: number;
  escrow: string;
  client: string;
  coordinator: string;
  coordinatorPeer: { peerId: string | undefined; multiaddrs: string[] };
  spec: JobSpec;
  specHash: `0x${string}`;
  pricePerSecond: bigint;
  deposit: bigint;
  deadline: number;
  policyVersion: bigint;
  coordinatorFeeBps: number;
  treasuryFeeBps: number;
  phase: JobPhase;
  /** Highest coordinator event sequence number fully applied. */
  lastSeq: number;
  outDir: string;
  videoPath: string | undefined;
  videoCid: string | undefined;
  manifestPath: string | undefined;
  /** Why the job ended without settling normally (refusal, failure). */
  failure: string | undefined;
  createdAt: number;
  openedAt: number | undefined;
  submittedAt: number | undefined;
  completedAt: number | undefined;
  settledAt: number | undefined;
}

export interface VerifiedSegment {
  segment: number;
  provider: string;
  peerId: string;
  multiaddrs: string[];
  cid: string;
  sha256: `0x${string}`;
  assignment: SignedAssignment;
  delivery: SignedDelivery;
  /** Lowest PSNR over the sampled pixels, in dB (Infinity when identical). */
  psnrDb: number;
  /** Frames (absolute indices) that were spot-checked. */
  sampledFrames: number[];
  /** Local copy of the segment file. */
  file: string;
  bytes: number;
  deliveredAt: number;
  fetchMs: number;
  verifyMs: number;
  verifiedAt: number;
}

export interface Rejection {
  segment: number;
  provider: string;
  cid: string;
  check: CheckName;
  message: string;
  at: number;
}

/** A verdict on one delivery, kept until the coordinator has heard it. */
export interface VerdictRecord {
  segment: number;
  provider: string;
  cid: string;
  ok: boolean;
  check?: CheckName | undefined;
  message?: string | undefined;
  at: number;
}

export interface VoucherRecord {
  provider: string;
  /** Cumulative seconds for this provider in this job. */
  seconds: number;
  signature: `0x${string}`;
  signedAt: number;
  /** When the provider acknowledged it, if it did. */
  ackedAt: number | undefined;
  /** The provider's EIP-712 acknowledgement that `seconds` is all it is owed (a cooperative settle needs it). */
  acknowledgement?: `0x${string}` | undefined;
}

export type NewJob = Omit<
  JournalJob,
  | "jobId"
  | "phase"
  | "lastSeq"
  | "videoPath"
  | "videoCid"
  | "manifestPath"
  | "failure"
  | "openedAt"
  | "submittedAt"
  | "completedAt"
  | "settledAt"
> & {
  jobId?: `0x${string}` | undefined;
  phase?: JobPhase;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  ref TEXT PRIMARY KEY,
  job_id TEXT UNIQUE,
  data TEXT NOT NULL,
  phase TEXT NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS segments (
  ref TEXT NOT NULL,
  segment INTEGER NOT NULL,
  provider TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (ref, segment)
);
CREATE TABLE IF NOT EXISTS rejections (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  ref TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vouchers (
  ref TEXT NOT NULL,
  provider TEXT NOT NULL,
  seconds INTEGER NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (ref, provider)
);
CREATE TABLE IF NOT EXISTS txs (
  hash TEXT PRIMARY KEY,
  ref TEXT NOT NULL,
  kind TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS txs_ref ON txs (ref, kind);
CREATE TABLE IF NOT EXISTS verdicts (
  ref TEXT NOT NULL,
  segment INTEGER NOT NULL,
  provider TEXT NOT NULL,
  cid TEXT NOT NULL,
  data TEXT NOT NULL,
  acked_at INTEGER,
  PRIMARY KEY (ref, segment, provider, cid)
);
`;

/**
 * The journal's migrations (openDatabase in shared/db; `user_version` counts
 * them). 1 is the schema journals had before they were versioned (its
 * IF NOT EXISTS makes it a no-op on those); 2 folds in the DAO proposals this
 * client created, which used to be one JSON file per chain and governor under
 * `<dataDir>/dao/`, importing those files once (they are left in place).
 * Never edit a released migration: add the next one.
 */
function journalMigrations(dir: string): Migration[] {
  return [
    SCHEMA,
    (db) => {
      db.exec(`CREATE TABLE dao_proposals (
  chain_id INTEGER NOT NULL,
  governor TEXT NOT NULL,
  proposal_id TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (chain_id, governor, proposal_id)
);`);
      const legacy = join(dir, "dao");
      if (!existsSync(legacy)) return;
      const insert = db.prepare("INSERT OR REPLACE INTO dao_proposals (chain_id, governor, proposal_id, data) VALUES (?, ?, ?, ?)");
      for (const file of readdirSync(legacy)) {
        const m = /^(\d+)-(0x[0-9a-fA-F]{40})\.json$/.exec(file);
        if (!m) continue;
        let parsed: { proposals?: Array<{ proposalId?: unknown }> };
        try {
          parsed = JSON.parse(readFileSync(join(legacy, file), "utf8")) as typeof parsed;
        } catch {
          continue; // an unreadable file was ignored before too; the chain's logs remain the fallback
        }
        for (const p of parsed.proposals ?? []) {
          if (typeof p.proposalId === "string") insert.run(Number(m[1]), m[2]!.toLowerCase(), p.proposalId, JSON.stringify(p));
        }
      }
    },
  ];
}

/** JSON with bigints as `{"$big":"123"}` and Infinity kept, so records round-trip exactly. */
function encode(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === "bigint") return { $big: v.toString() };
    if (v === Infinity) return { $num: "Infinity" };
    return v;
  });
}
function decode<T>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$big === "string" && Object.keys(o).length === 1) return BigInt(o.$big);
      if (o.$num === "Infinity" && Object.keys(o).length === 1) return Infinity;
    }
    return v;
  }) as T;
}

export const JOURNAL_FILE = "journal.sqlite";

export class Journal {
  readonly path: string;
  readonly #db: SqliteDatabase;
  /** Statements prepared on first use and kept (`statementCache`). */
  readonly #sql: (sql: string) => SqliteStatement;

  private constructor(path: string, db: SqliteDatabase) {
    this.path = path;
    this.#db = db;
    this.#sql = statementCache(this.#db);
  }

  /** Opens (creating if needed) the journal in `dir`. */
  static open(dir: string): Journal {
    const path = join(dir, JOURNAL_FILE);
    try {
      return new Journal(path, openDatabase(path, { migrations: journalMigrations(dir), synchronous: "FULL" }));
    } catch (cause) {
      if (cause instanceof DatabaseTooNewError) {
        throw new JournalError(`The client journal at ${path} was written by a newer client (schema ${cause.version}).`, {
          hint: "Upgrade rendermesh, or point --data-dir at another directory.",
        });
      }
      throw new JournalError(`Cannot open the client journal at ${path}.`, {
        cause,
        hint: "Check that the data dir (--data-dir) is writable and not used by another program.",
      });
    }
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  // ---- DAO proposals this client created ----------------------------------------

  /** The stored proposals (as JSON text) for one chain and governor. */
  daoProposals(chainId: number, governor: string): string[] {
    const rows = this.#sql("SELECT data FROM dao_proposals WHERE chain_id = ? AND governor = ? ORDER BY rowid").all(
      chainId,
      governor.toLowerCase(),
    ) as Array<{ data: string }>;
    return rows.map((r) => r.data);
  }

  /** Adds or replaces a proposal. */
  putDaoProposal(chainId: number, governor: string, proposalId: string, data: string): void {
    this.#sql("INSERT OR REPLACE INTO dao_proposals (chain_id, governor, proposal_id, data) VALUES (?, ?, ?, ?)").run(
      chainId,
      governor.toLowerCase(),
      proposalId,
      data,
    );
  }

  /** Runs `fn` in one SQLite transaction: all of its writes land, or none. */
  transaction<T>(fn: () => T): T {
    return this.#db.transaction(fn)();
  }

  // ---- jobs --------------------------------------------------------------------

  createJob(job: NewJob): JournalJob {
    const full: JournalJob = {
      jobId: undefined,
      phase: "opening",
      lastSeq: 0,
      videoPath: undefined,
      videoCid: undefined,
      manifestPath: undefined,
      failure: undefined,
      openedAt: undefined,
      submittedAt: undefined,
      completedAt: undefined,
      settledAt: undefined,
      ...job,
    };
    this.#sql("INSERT INTO jobs (ref, job_id, data, phase, last_seq, updated_at) VALUES (?, ?, ?, ?, ?, ?)").run(
      full.ref,
      full.jobId ?? null,
      encode(full),
      full.phase,
      full.lastSeq,
      Date.now(),
    );
    return full;
  }

  /** A job by its escrow id or its local ref (the open transaction hash); case-insensitive. */
  findJob(idOrRef: string): JournalJob | undefined {
    const key = idOrRef.toLowerCase();
    const row = this.#sql("SELECT data, phase, last_seq, job_id FROM jobs WHERE lower(job_id) = ? OR lower(ref) = ?").get(key, key) as
      { data: string; phase: JobPhase; last_seq: number; job_id: string | null } | undefined;
    if (!row) return undefined;
    return { ...decode<JournalJob>(row.data), phase: row.phase, lastSeq: row.last_seq };
  }

  /** Like `findJob`, but a missing job is an error that says how to find it. */
  getJob(idOrRef: string): JournalJob {
    const job = this.findJob(idOrRef);
    if (!job) {
      throw new JournalError(`The journal at ${this.path} has no job ${idOrRef}.`, {
        hint: "Run `rendermesh job list` to see the jobs this client knows, or pass the --data-dir it used.",
      });
    }
    return job;
  }

  listJobs(): JournalJob[] {
    const rows = this.#sql("SELECT data, phase, last_seq FROM jobs ORDER BY rowid").all() as Array<{
      data: string;
      phase: JobPhase;
      last_seq: number;
    }>;
    return rows.map((r) => ({ ...decode<JournalJob>(r.data), phase: r.phase, lastSeq: r.last_seq }));
  }

  /** Merges `patch` into a job (phase and lastSeq included). */
  updateJob(ref: string, patch: Partial<Omit<JournalJob, "ref">>): JournalJob {
    const current = this.getJob(ref);
    const next: JournalJob = { ...current, ...patch };
    this.#sql("UPDATE jobs SET data = ?, job_id = ?, phase = ?, last_seq = ?, updated_at = ? WHERE ref = ?").run(
      encode(next),
      next.jobId ?? null,
      next.phase,
      next.lastSeq,
      Date.now(),
      current.ref,
    );
    return next;
  }

  setPhase(ref: string, phase: JobPhase, patch: Partial<Omit<JournalJob, "ref" | "phase">> = {}): JournalJob {
    return this.updateJob(ref, { ...patch, phase });
  }

  /** Records that every coordinator event up to `seq` has been applied; never moves backwards. */
  setLastSeq(ref: string, seq: number): void {
    this.#sql("UPDATE jobs SET last_seq = max(last_seq, ?), updated_at = ? WHERE ref = ?").run(seq, Date.now(), ref);
  }

  // ---- segments ----------------------------------------------------------------

  /**
   * Records a verified segment. The first verified delivery of a segment is
   * the one kept (and paid); returns false if the segment was already
   * verified, by this or another provider.
   */
  addVerified(ref: string, seg: VerifiedSegment): boolean {
    const result = this.#sql("INSERT OR IGNORE INTO segments (ref, segment, provider, data) VALUES (?, ?, ?, ?)").run(
      ref,
      seg.segment,
      seg.provider.toLowerCase(),
      encode(seg),
    );
    return result.changes === 1;
  }

  verifiedSegment(ref: string, segment: number): VerifiedSegment | undefined {
    const row = this.#sql("SELECT data FROM segments WHERE ref = ? AND segment = ?").get(ref, segment) as { data: string } | undefined;
    return row ? decode<VerifiedSegment>(row.data) : undefined;
  }

  verifiedSegments(ref: string): VerifiedSegment[] {
    const rows = this.#sql("SELECT data FROM segments WHERE ref = ? ORDER BY segment").all(ref) as Array<{ data: string }>;
    return rows.map((r) => decode<VerifiedSegment>(r.data));
  }

  /** Seconds verified per provider (lower-case address → count). */
  verifiedSecondsByProvider(ref: string): Map<string, number> {
    const rows = this.#sql("SELECT provider, count(*) AS n FROM segments WHERE ref = ? GROUP BY provider ORDER BY provider").all(
      ref,
    ) as Array<{ provider: string; n: number }>;
    return new Map(rows.map((r) => [r.provider, r.n]));
  }

  addRejection(ref: string, rejection: Rejection): void {
    this.#sql("INSERT INTO rejections (ref, data) VALUES (?, ?)").run(ref, encode(rejection));
  }

  rejections(ref: string): Rejection[] {
    const rows = this.#sql("SELECT data FROM rejections WHERE ref = ? ORDER BY id").all(ref) as Array<{ data: string }>;
    return rows.map((r) => decode<Rejection>(r.data));
  }

  // ---- verdicts (the outbox to the coordinator) -------------------------------

  /**
   * Records a verdict to deliver to the coordinator. Written in the same
   * transaction as the verified segment or rejection it reports, so a verdict
   * is never lost: it is resent (at least once) until the coordinator answers.
   */
  putVerdict(ref: string, verdict: VerdictRecord): void {
    this.#sql("INSERT OR IGNORE INTO verdicts (ref, segment, provider, cid, data) VALUES (?, ?, ?, ?, ?)").run(
      ref,
      verdict.segment,
      verdict.provider.toLowerCase(),
      verdict.cid,
      encode({ ...verdict, provider: verdict.provider.toLowerCase() }),
    );
  }

  /** The coordinator answered this verdict (accepted, or refused as already settled): stop resending it. */
  ackVerdict(ref: string, v: { segment: number; provider: string; cid: string }, at = Date.now()): void {
    this.#sql("UPDATE verdicts SET acked_at = ? WHERE ref = ? AND segment = ? AND provider = ? AND cid = ? AND acked_at IS NULL").run(
      at,
      ref,
      v.segment,
      v.provider.toLowerCase(),
      v.cid,
    );
  }

  /** Verdicts the coordinator has not answered yet, oldest segment first. */
  unackedVerdicts(ref: string): VerdictRecord[] {
    const rows = this.#sql("SELECT data FROM verdicts WHERE ref = ? AND acked_at IS NULL ORDER BY segment, rowid").all(ref) as Array<{
      data: string;
    }>;
    return rows.map((r) => decode<VerdictRecord>(r.data));
  }

  /** The verdict recorded for one delivery, if any. */
  verdict(ref: string, v: { segment: number; provider: string; cid: string }): (VerdictRecord & { acked: boolean }) | undefined {
    const row = this.#sql("SELECT data, acked_at FROM verdicts WHERE ref = ? AND segment = ? AND provider = ? AND cid = ?").get(
      ref,
      v.segment,
      v.provider.toLowerCase(),
      v.cid,
    ) as { data: string; acked_at: number | null } | undefined;
    return row ? { ...decode<VerdictRecord>(row.data), acked: row.acked_at !== null } : undefined;
  }

  // ---- vouchers ----------------------------------------------------------------

  /** Keeps the provider's highest cumulative voucher; a lower or equal one is ignored (returns false). */
  putVoucher(ref: string, voucher: VoucherRecord): boolean {
    const provider = voucher.provider.toLowerCase();
    const result = this.#sql(
      `INSERT INTO vouchers (ref, provider, seconds, data) VALUES (?, ?, ?, ?)
         ON CONFLICT (ref, provider) DO UPDATE SET seconds = excluded.seconds, data = excluded.data WHERE excluded.seconds > vouchers.seconds`,
    ).run(ref, provider, voucher.seconds, encode(voucher));
    return result.changes === 1;
  }

  markVoucherAcked(ref: string, provider: string, seconds: number, at = Date.now(), acknowledgement?: `0x${string}`): void {
    const v = this.voucher(ref, provider);
    if (!v || v.seconds !== seconds) return;
    const next: VoucherRecord = { ...v, ackedAt: at, ...(acknowledgement ? { acknowledgement } : {}) };
    this.#sql("UPDATE vouchers SET data = ? WHERE ref = ? AND provider = ?").run(encode(next), ref, provider.toLowerCase());
  }

  voucher(ref: string, provider: string): VoucherRecord | undefined {
    const row = this.#sql("SELECT data FROM vouchers WHERE ref = ? AND provider = ?").get(ref, provider.toLowerCase()) as
      { data: string } | undefined;
    return row ? decode<VoucherRecord>(row.data) : undefined;
  }

  vouchers(ref: string): VoucherRecord[] {
    const rows = this.#sql("SELECT data FROM vouchers WHERE ref = ? ORDER BY provider").all(ref) as Array<{ data: string }>;
    return rows.map((r) => decode<VoucherRecord>(r.data));
  }

  // ---- transactions ------------------------------------------------------------

  /** Records a signed transaction before it is broadcast. */
  addTx(ref: string, tx: Omit<JournalTx, "state" | "blockNumber" | "gasUsed" | "minedAt" | "sentAt"> & { sentAt?: number }): JournalTx {
    const full: JournalTx = { state: "signed", blockNumber: undefined, gasUsed: undefined, minedAt: undefined, sentAt: Date.now(), ...tx };
    this.#sql("INSERT INTO txs (hash, ref, kind, data) VALUES (?, ?, ?, ?)").run(full.hash, ref, full.kind, encode(full));
    return full;
  }

  updateTx(hash: string, patch: Partial<Pick<JournalTx, "state" | "blockNumber" | "gasUsed" | "minedAt">>): void {
    const row = this.#sql("SELECT data FROM txs WHERE hash = ?").get(hash) as { data: string } | undefined;
    if (!row) throw new JournalError(`The journal has no transaction ${hash}.`);
    this.#sql("UPDATE txs SET data = ? WHERE hash = ?").run(encode({ ...decode<JournalTx>(row.data), ...patch }), hash);
  }

  /** A job's transactions in the order they were signed, optionally of one kind. */
  txs(ref: string, kind?: TxKind): JournalTx[] {
    const rows = (
      kind
        ? this.#sql("SELECT data FROM txs WHERE ref = ? AND kind = ? ORDER BY rowid").all(ref, kind)
        : this.#sql("SELECT data FROM txs WHERE ref = ? ORDER BY rowid").all(ref)
    ) as Array<{ data: string }>;
    return rows.map((r) => decode<JournalTx>(r.data));
  }

  /** The latest transaction of a kind for a job, if any. */
  lastTx(ref: string, kind: TxKind): JournalTx | undefined {
    return this.txs(ref, kind).at(-1);
  }
}
