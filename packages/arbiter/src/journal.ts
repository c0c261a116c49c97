import { openDatabase, statementCache, type SqliteDatabase, type SqliteStatement } from "@rendermesh/shared/db";

/**
 * What the arbiter decided about one disputed claim: pay, refuse (and slash), leave it to the timeout (which pays the
 * provider), or wait: the segment could not be fetched yet, so it is tried again later (never refused for that alone
 * while the arbiter window lasts).
 */
export type Verdict = "pay" | "refuse" | "leave" | "wait";

export interface DisputeRow {
  jobId: string;
  segment: number;
  block: number;
  verdict: Verdict | null;
  reason: string | null;
  tx: string | null;
  /** Decisions taken so far without a resolution (waits and leaves): the backoff grows with them. */
  attempts: number;
  /** Not to be tried again before this (unix ms), unless its window is ending; null: at once. */
  nextAt: number | null;
  /** How many disputes `tx` resolved (1: alone; more: one `resolveDisputes` batch); null before it is sent. */
  batchSize: number | null;
}

const COLUMNS = "job_id AS jobId, segment, block, verdict, reason, tx, attempts, next_at AS nextAt, batch_size AS batchSize";

const MIGRATIONS = [
  `CREATE TABLE disputes (
     job_id TEXT NOT NULL,
     segment INTEGER NOT NULL,
     block INTEGER NOT NULL,
     verdict TEXT,
     reason TEXT,
     tx TEXT,
     PRIMARY KEY (job_id, segment, block)
   );
   CREATE TABLE cursor (id INTEGER PRIMARY KEY CHECK (id = 0), block INTEGER NOT NULL);`,
  `ALTER TABLE disputes ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE disputes ADD COLUMN next_at INTEGER;`,
  `ALTER TABLE disputes ADD COLUMN batch_size INTEGER;`,
];

/**
 * The arbiter's journal: every dispute seen (keyed by job, segment and the block it was raised in, since a refused
 * segment can be claimed and disputed again), its verdict, the resolving transaction, and the last block scanned.
 * A dispute with a verdict but no tx is retried on restart; one with a tx is never resolved twice.
 */
export class ArbiterJournal {
  readonly #db: SqliteDatabase;
  /** Statements prepared on first use and kept (`statementCache`). */
  readonly #sql: (sql: string) => SqliteStatement;

  constructor(path: string) {
    this.#db = openDatabase(path, { migrations: MIGRATIONS });
    this.#sql = statementCache(this.#db);
  }

  lastBlock(): number | undefined {
    const row = this.#sql("SELECT block FROM cursor WHERE id = 0").get() as { block: number } | undefined;
    return row?.block;
  }

  setLastBlock(block: number): void {
    this.#sql("INSERT INTO cursor (id, block) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET block = MAX(block, excluded.block)").run(block);
  }

  /** Records a dispute once; returns its row (the stored one if it was seen before). */
  seen(jobId: string, segment: number, block: number): DisputeRow {
    this.#sql("INSERT OR IGNORE INTO disputes (job_id, segment, block) VALUES (?, ?, ?)").run(jobId.toLowerCase(), segment, block);
    return this.get(jobId, segment, block)!;
  }

  get(jobId: string, segment: number, block: number): DisputeRow | undefined {
    const row = this.#sql(`SELECT ${COLUMNS} FROM disputes WHERE job_id = ? AND segment = ? AND block = ?`).get(
      jobId.toLowerCase(),
      segment,
      block,
    ) as DisputeRow | undefined;
    return row;
  }

  decide(jobId: string, segment: number, block: number, verdict: Verdict, reason: string): void {
    this.#sql("UPDATE disputes SET verdict = ?, reason = ? WHERE job_id = ? AND segment = ? AND block = ?").run(
      verdict,
      reason,
      jobId.toLowerCase(),
      segment,
      block,
    );
  }

  /** A decision that resolves nothing yet (wait, leave): tried again from `nextAt` (unix ms). */
  postpone(jobId: string, segment: number, block: number, verdict: "wait" | "leave", reason: string, nextAt: number): void {
    this.#sql(
      "UPDATE disputes SET verdict = ?, reason = ?, attempts = attempts + 1, next_at = ? WHERE job_id = ? AND segment = ? AND block = ?",
    ).run(verdict, reason, nextAt, jobId.toLowerCase(), segment, block);
  }

  /** The dispute is done: resolved by `tx` (with `batchSize - 1` others), or `tx` "none" when there was nothing to send. */
  resolved(jobId: string, segment: number, block: number, tx: string, batchSize?: number): void {
    this.#sql("UPDATE disputes SET tx = ?, batch_size = ? WHERE job_id = ? AND segment = ? AND block = ?").run(
      tx,
      batchSize ?? null,
      jobId.toLowerCase(),
      segment,
      block,
    );
  }

  all(): DisputeRow[] {
    return this.#sql(`SELECT ${COLUMNS} FROM disputes ORDER BY block, job_id, segment`).all() as DisputeRow[];
  }

  close(): void {
    this.#db.close();
  }
}
