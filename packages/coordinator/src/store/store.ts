import { canonicalSpec, JobSpec, type ReasonCode, type SignedAssignment, type SignedDelivery } from "@rendermesh/shared";
import { DatabaseTooNewError, openDatabase, statementCache, type SqliteDatabase, type SqliteStatement } from "@rendermesh/shared/db";
import { InvalidTransitionError, StoreError } from "../errors.js";
import { MIGRATIONS } from "./migrations.js";
import type {
  AttemptRow,
  AttemptStatus,
  JobRow,
  JobStatus,
  NewAttempt,
  NewJob,
  ProviderRow,
  SegmentRow,
  SegmentStatus,
  StoredEvent,
  TransitionEffects,
} from "./types.js";

export interface StoreInit {
  /** Tries per segment, speculative copies included; a BUSY refusal is not a try (default 3). */
  maxTries?: number;
  /** Clock in ms (default Date.now); tests inject one. */
  now?: () => number;
}

type EventBody = Record<string, unknown> & { type: StoredEvent["type"] };
type Row = Record<string, unknown>;

const str = (v: unknown): string => v as string;
const num = (v: unknown): number => v as number;

function toJob(r: Row): JobRow {
  return {
    jobId: str(r.job_id),
    chainId: num(r.chain_id),
    escrow: str(r.escrow),
    client: str(r.client),
    clientPeer: (r.client_peer as string | null) ?? null,
    spec: JobSpec.parse(JSON.parse(str(r.spec))),
    specHash: str(r.spec_hash),
    segments: num(r.segments),
    pricePerSecond: BigInt(str(r.price_per_second)),
    deadline: num(r.deadline),
    policyVersion: BigInt(str(r.policy_version)),
    openedBlock: num(r.opened_block),
    status: str(r.status) as JobStatus,
    failCode: (r.fail_code as ReasonCode | null) ?? null,
    failMessage: (r.fail_message as string | null) ?? null,
    nextSeq: num(r.next_seq),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

function toSegment(r: Row): SegmentRow {
  return {
    jobId: str(r.job_id),
    index: num(r.idx),
    status: str(r.status) as SegmentStatus,
    tries: num(r.tries),
    verifiedAttempt: (r.verified_attempt as number | null) ?? null,
  };
}

function toAttempt(r: Row): AttemptRow {
  return {
    id: num(r.id),
    jobId: str(r.job_id),
    segment: num(r.idx),
    attempt: num(r.try),
    provider: str(r.provider),
    peerId: str(r.peer_id),
    speculative: r.speculative === 1,
    status: str(r.status) as AttemptStatus,
    assignment: JSON.parse(str(r.assignment)) as SignedAssignment,
    deadlineMs: num(r.deadline_ms),
    expectedMs: num(r.expected_ms),
    startedAt: num(r.started_at),
    finishedAt: (r.finished_at as number | null) ?? null,
    delivery: r.delivery ? (JSON.parse(str(r.delivery)) as SignedDelivery) : null,
    multiaddrs: r.multiaddrs ? (JSON.parse(str(r.multiaddrs)) as string[]) : [],
    failCode: (r.fail_code as ReasonCode | null) ?? null,
    failMessage: (r.fail_message as string | null) ?? null,
    framesDone: num(r.frames_done),
  };
}

function toProvider(r: Row): ProviderRow {
  return {
    address: str(r.address),
    peerId: str(r.peer_id),
    ask: BigInt(str(r.ask)),
    models: JSON.parse(str(r.models)) as string[],
    capacity: num(r.capacity),
    benchmarkFps: num(r.benchmark_fps),
    device: str(r.device),
    agent: str(r.agent),
    multiaddrs: JSON.parse(str(r.multiaddrs)) as string[],
    lastSeen: num(r.last_seen),
    speedFps: (r.speed_fps as number | null) ?? null,
    reliability: num(r.reliability),
    completed: num(r.completed),
    failed: num(r.failed),
  };
}

const wireAssignment = (a: SignedAssignment) => ({
  assignment: { ...a.assignment, deadline: a.assignment.deadline },
  signature: a.signature,
  ...(a.allocation ? { allocation: a.allocation } : {}),
});

/**
 * The coordinator's durable state in SQLite (WAL): jobs, segments, attempts,
 * the per-job event log and the provider directory's measurements.
 *
 * Every state change is one transaction that also appends the job events it
 * causes, so a coordinator killed at any instant restarts on a consistent
 * database whose event log says exactly what happened. Listeners registered
 * with `onEvent` hear an event only after its transaction committed.
 *
 * Exactly-once counting: a segment moves to `verified` once, by the first ok
 * verdict on the copy currently shown to the client; every other copy is
 * superseded and never shown again.
 */
export class CoordinatorStore {
  readonly path: string;
  readonly maxTries: number;
  private readonly db: SqliteDatabase;
  private readonly now: () => number;
  private readonly listeners = new Set<(event: StoredEvent) => void>();
  private pendingEvents: StoredEvent[] = [];
  private depth = 0;
  private readonly stmts;
  /** Every other statement, prepared on first use and kept. */
  private readonly sql: (text: string) => SqliteStatement;

  private constructor(path: string, db: SqliteDatabase, init: StoreInit) {
    this.path = path;
    this.db = db;
    this.sql = statementCache(db);
    this.maxTries = init.maxTries ?? 3;
    this.now = init.now ?? Date.now;
    const p = (sql: string) => db.prepare(sql);
    this.stmts = {
      getJob: p("SELECT * FROM jobs WHERE job_id = ?"),
      bumpSeq: p("UPDATE jobs SET next_seq = next_seq + 1, updated_at = ? WHERE job_id = ? RETURNING next_seq - 1 AS seq"),
      insertEvent: p("INSERT INTO events (job_id, seq, type, body, at) VALUES (?, ?, ?, ?, ?)"),
      events: p("SELECT body FROM events WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?"),
      getSegment: p("SELECT * FROM segments WHERE job_id = ? AND idx = ?"),
      setSegment: p("UPDATE segments SET status = ? WHERE job_id = ? AND idx = ?"),
      getAttempt: p("SELECT * FROM attempts WHERE id = ?"),
      setAttempt: p("UPDATE attempts SET status = ?, finished_at = COALESCE(finished_at, ?) WHERE id = ?"),
      attemptsOfSegment: p("SELECT * FROM attempts WHERE job_id = ? AND idx = ? ORDER BY id"),
      lastTry: p("SELECT COALESCE(MAX(try), 0) AS n FROM attempts WHERE job_id = ? AND idx = ?"),
      remaining: p("SELECT COUNT(*) AS n FROM segments WHERE job_id = ? AND status != 'verified'"),
    };
  }

  /** Opens (creating if needed) the database and applies migrations. */
  static open(path: string, init: StoreInit = {}): CoordinatorStore {
    try {
      // NORMAL is durable across process crashes (SIGKILL) in WAL mode; only
      // a power loss can drop the last transactions.
      const db = openDatabase(path, { migrations: MIGRATIONS, synchronous: "NORMAL" });
      return new CoordinatorStore(path, db, init);
    } catch (cause) {
      if (cause instanceof DatabaseTooNewError) {
        throw new StoreError(`The database is from a newer coordinator (schema ${cause.version}, this one knows ${cause.known}).`, {
          hint: "Upgrade the coordinator or point --db at another file.",
        });
      }
      throw new StoreError(`Cannot open the coordinator database ${path}.`, {
        cause,
        hint: "Check that the path is writable and not used by another coordinator.",
      });
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  get journalMode(): string {
    return String(this.db.pragma("journal_mode", { simple: true }));
  }

  /** Hears every job event after its transaction commits; returns the unsubscribe function. */
  onEvent(listener: (event: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Runs `fn` in one transaction (nesting joins the outer one); events go out after commit. */
  transaction<T>(fn: () => T): T {
    if (this.depth > 0) return fn();
    this.depth++;
    let result: T;
    try {
      result = this.db.transaction(fn)();
    } catch (err) {
      this.pendingEvents = [];
      throw err;
    } finally {
      this.depth--;
    }
    const out = this.pendingEvents;
    this.pendingEvents = [];
    for (const event of out) for (const l of this.listeners) l(event);
    return result;
  }

  // ---- meta -------------------------------------------------------------------

  getMeta(key: string): string | undefined {
    const r = this.sql("SELECT value FROM meta WHERE key = ?").get(key) as Row | undefined;
    return r ? str(r.value) : undefined;
  }

  setMeta(key: string, value: string): void {
    this.sql("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(key, value);
  }

  // ---- reads ------------------------------------------------------------------

  getJob(jobId: string): JobRow | undefined {
    const r = this.stmts.getJob.get(jobId.toLowerCase()) as Row | undefined;
    return r ? toJob(r) : undefined;
  }

  listJobs(opts: { status?: JobStatus; limit?: number; offset?: number } = {}): JobRow[] {
    const limit = Math.min(opts.limit ?? 100, 1000);
    const rows = opts.status
      ? this.sql("SELECT * FROM jobs WHERE status = ? ORDER BY created_at DESC, job_id LIMIT ? OFFSET ?").all(
          opts.status,
          limit,
          opts.offset ?? 0,
        )
      : this.sql("SELECT * FROM jobs ORDER BY created_at DESC, job_id LIMIT ? OFFSET ?").all(limit, opts.offset ?? 0);
    return (rows as Row[]).map(toJob);
  }

  /** Running jobs, oldest first: the order the scheduler serves them in. */
  runningJobs(): JobRow[] {
    return (this.sql("SELECT * FROM jobs WHERE status = 'running' ORDER BY created_at, job_id").all() as Row[]).map(toJob);
  }

  countJobs(): Record<JobStatus, number> {
    const out: Record<JobStatus, number> = { running: 0, complete: 0, failed: 0 };
    for (const r of this.sql("SELECT status, COUNT(*) AS n FROM jobs GROUP BY status").all() as Row[]) {
      out[str(r.status) as JobStatus] = num(r.n);
    }
    return out;
  }

  runningJobsOfClient(client: string): number {
    const r = this.sql("SELECT COUNT(*) AS n FROM jobs WHERE client = ? AND status = 'running'").get(client.toLowerCase()) as Row;
    return num(r.n);
  }

  segments(jobId: string): SegmentRow[] {
    return (this.sql("SELECT * FROM segments WHERE job_id = ? ORDER BY idx").all(jobId.toLowerCase()) as Row[]).map(toSegment);
  }

  segment(jobId: string, index: number): SegmentRow | undefined {
    const r = this.stmts.getSegment.get(jobId.toLowerCase(), index) as Row | undefined;
    return r ? toSegment(r) : undefined;
  }

  segmentCounts(jobId: string): Record<SegmentStatus, number> {
    const out: Record<SegmentStatus, number> = { pending: 0, active: 0, delivered: 0, verified: 0, failed: 0 };
    for (const r of this.sql("SELECT status, COUNT(*) AS n FROM segments WHERE job_id = ? GROUP BY status").all(
      jobId.toLowerCase(),
    ) as Row[]) {
      out[str(r.status) as SegmentStatus] = num(r.n);
    }
    return out;
  }

  pendingSegments(jobId: string, limit = 1_000_000): number[] {
    return (
      this.sql("SELECT idx FROM segments WHERE job_id = ? AND status = 'pending' ORDER BY idx LIMIT ?").all(
        jobId.toLowerCase(),
        limit,
      ) as Row[]
    ).map((r) => num(r.idx));
  }

  attempts(jobId: string, segment?: number): AttemptRow[] {
    const rows =
      segment === undefined
        ? this.sql("SELECT * FROM attempts WHERE job_id = ? ORDER BY id").all(jobId.toLowerCase())
        : this.stmts.attemptsOfSegment.all(jobId.toLowerCase(), segment);
    return (rows as Row[]).map(toAttempt);
  }

  attempt(id: number): AttemptRow | undefined {
    const r = this.stmts.getAttempt.get(id) as Row | undefined;
    return r ? toAttempt(r) : undefined;
  }

  /** Attempts rendering right now, across all jobs. */
  activeAttempts(): AttemptRow[] {
    return (this.sql("SELECT * FROM attempts WHERE status = 'active' ORDER BY id").all() as Row[]).map(toAttempt);
  }

  /** Deliveries in front of a client, waiting for its verdict, across running jobs. */
  shownAttempts(): AttemptRow[] {
    return (
      this.sql(
        "SELECT a.* FROM attempts a JOIN jobs j ON j.job_id = a.job_id WHERE a.status = 'shown' AND j.status = 'running' ORDER BY a.id",
      ).all() as Row[]
    ).map(toAttempt);
  }

  /**
   * Asks the client again for its verdict on a copy it was shown: the same
   * `segment-delivered` under a new sequence number, so a client that
   * lost its report (or skipped the event) hears it and reports again.
   */
  reannounce(attemptId: number): boolean {
    return this.transaction(() => {
      const a = this.attempt(attemptId);
      if (!a || a.status !== "shown" || this.getJob(a.jobId)?.status !== "running") return false;
      this.appendDelivered(a);
      return true;
    });
  }

  /** Events with `seq > fromSeq`, in order. */
  events(jobId: string, fromSeq = 0, limit = 10_000): StoredEvent[] {
    return (this.stmts.events.all(jobId.toLowerCase(), fromSeq, limit) as Row[]).map((r) => JSON.parse(str(r.body)) as StoredEvent);
  }

  // ---- job transitions --------------------------------------------------------

  /** Records an accepted job with all its segments pending, and its `job-accepted` event. */
  insertJob(job: NewJob): JobRow {
    return this.transaction(() => {
      const now = this.now();
      const jobId = job.jobId.toLowerCase();
      if (this.getJob(jobId)) throw new InvalidTransitionError(`Job ${jobId} is already known.`);
      this.sql(
        `INSERT INTO jobs (job_id, chain_id, escrow, client, client_peer, spec, spec_hash, model, segments, fps, width, height,
             price_per_second, deadline, policy_version, opened_block, status, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)`,
      ).run(
        jobId,
        job.chainId,
        job.escrow.toLowerCase(),
        job.client.toLowerCase(),
        job.clientPeer,
        canonicalSpec(job.spec),
        job.specHash.toLowerCase(),
        job.spec.model.toLowerCase(),
        job.spec.seconds,
        job.spec.fps,
        job.spec.width,
        job.spec.height,
        job.pricePerSecond.toString(),
        job.deadline,
        job.policyVersion.toString(),
        job.openedBlock,
        now,
        now,
      );
      const ins = this.sql("INSERT INTO segments (job_id, idx, status) VALUES (?, ?, 'pending')");
      for (let i = 0; i < job.spec.seconds; i++) ins.run(jobId, i);
      this.appendEvent(jobId, { type: "job-accepted", segments: job.spec.seconds, policyVersion: job.policyVersion.toString() });
      return this.getJob(jobId)!;
    });
  }

  /** The client that may send verdicts (the last peer to submit the job). */
  setClientPeer(jobId: string, peer: string): void {
    this.sql("UPDATE jobs SET client_peer = ? WHERE job_id = ?").run(peer, jobId.toLowerCase());
  }

  /**
   * Starts one attempt at a segment; counts a try and emits `segment-assigned`
   * with the attempt's number (1, 2, … over every attempt at the segment).
   */
  assign(a: NewAttempt): AttemptRow {
    return this.transaction(() => {
      const jobId = a.jobId.toLowerCase();
      const job = this.requireRunning(jobId);
      const seg = this.segment(jobId, a.segment);
      if (!seg) throw new InvalidTransitionError(`Job ${jobId} has no segment ${a.segment}.`);
      if (seg.tries >= this.maxTries)
        throw new InvalidTransitionError(`Segment ${a.segment} of ${jobId} has used all ${this.maxTries} tries.`);
      if (a.speculative ? seg.status !== "active" : seg.status !== "pending") {
        throw new InvalidTransitionError(
          `Segment ${a.segment} of ${jobId} is ${seg.status}; cannot start a${a.speculative ? " speculative" : "n"} attempt.`,
        );
      }
      const busy = this.stmts.attemptsOfSegment
        .all(jobId, a.segment)
        .map((r) => toAttempt(r as Row))
        .some((x) => x.status === "active" && x.provider === a.provider.toLowerCase());
      if (busy) throw new InvalidTransitionError(`Provider ${a.provider} is already rendering segment ${a.segment} of ${jobId}.`);
      // The attempt's number is its place among every attempt at the segment, refused ones included: a BUSY
      // refusal gives its try back (`segments.tries` counts only the tries that count against `maxTries`) but keeps
      // its row and number, so numbering from `tries` would reuse that number and break UNIQUE (job_id, idx, try).
      const attemptNo = num((this.stmts.lastTry.get(jobId, a.segment) as Row).n) + 1;
      const now = this.now();
      const r = this.sql(
        `INSERT INTO attempts (job_id, idx, try, provider, peer_id, speculative, status, assignment, deadline_ms, expected_ms, started_at)
           VALUES (?, ?, ?, ?, ?, ?, 'active', ?, ?, ?, ?) RETURNING id`,
      ).get(
        jobId,
        a.segment,
        attemptNo,
        a.provider.toLowerCase(),
        a.peerId,
        a.speculative ? 1 : 0,
        JSON.stringify(a.assignment),
        a.deadlineMs,
        a.expectedMs,
        now,
      ) as Row;
      this.sql("UPDATE segments SET tries = tries + 1, status = 'active' WHERE job_id = ? AND idx = ?").run(jobId, a.segment);
      this.appendEvent(job.jobId, {
        type: "segment-assigned",
        segment: a.segment,
        attempt: attemptNo,
        peerId: a.peerId,
        speculative: a.speculative,
        ...wireAssignment(a.assignment),
      });
      return this.attempt(num(r.id))!;
    });
  }

  /** Records render progress of an active attempt and emits `segment-progress`. */
  progress(attemptId: number, framesDone: number, frameCount: number): boolean {
    return this.transaction(() => {
      const a = this.attempt(attemptId);
      if (!a || a.status !== "active" || framesDone <= a.framesDone) return false;
      this.sql("UPDATE attempts SET frames_done = ? WHERE id = ?").run(framesDone, attemptId);
      this.appendEvent(a.jobId, { type: "segment-progress", segment: a.segment, provider: a.provider, framesDone, frameCount });
      return true;
    });
  }

  /**
   * A verified delivery receipt arrived for an attempt. It is shown to the
   * client (`segment-delivered`) unless another copy of the segment is
   * already in front of the client (then it is held back) or verified (then
   * it is superseded). Returns what became of it.
   */
  deliver(attemptId: number, delivery: SignedDelivery, multiaddrs: string[]): "shown" | "held" | "superseded" | "ignored" {
    return this.transaction(() => {
      const a = this.attempt(attemptId);
      if (!a || a.status !== "active") return "ignored";
      const job = this.getJob(a.jobId)!;
      const seg = this.segment(a.jobId, a.segment)!;
      this.sql("UPDATE attempts SET delivery = ?, multiaddrs = ?, frames_done = ? WHERE id = ?").run(
        JSON.stringify(delivery),
        JSON.stringify(multiaddrs),
        delivery.delivery.frameCount,
        attemptId,
      );
      if (job.status !== "running" || seg.status === "verified" || seg.status === "failed") {
        this.setAttemptStatus(attemptId, "superseded");
        return "superseded";
      }
      if (seg.status === "delivered") {
        this.setAttemptStatus(attemptId, "held");
        return "held";
      }
      this.show(a.id);
      return "shown";
    });
  }

  /**
   * The client's verdict on the copy it was shown. `ok` counts the segment
   * (once: a repeated ok is acknowledged and changes nothing); not ok rejects
   * that copy and moves the segment on (a held copy, a running one, a retry
   * or, out of tries, the job's failure).
   */
  verdict(v: { jobId: string; segment: number; provider: string; cid: string; ok: boolean; message?: string }): {
    outcome: "verified" | "already-verified" | "rejected" | "not-current";
  } & TransitionEffects {
    return this.transaction(() => {
      const jobId = v.jobId.toLowerCase();
      const seg = this.segment(jobId, v.segment);
      if (!seg) throw new InvalidTransitionError(`Job ${jobId} has no segment ${v.segment}.`);
      const attempts = this.attempts(jobId, v.segment);
      const matches = (a: AttemptRow) => a.provider === v.provider.toLowerCase() && a.delivery?.delivery.cid === v.cid;
      if (seg.status === "verified") {
        const counted = attempts.find((a) => a.id === seg.verifiedAttempt);
        return { outcome: counted && matches(counted) && v.ok ? "already-verified" : "not-current", cancelled: [], jobEnded: false };
      }
      const shown = attempts.find((a) => a.status === "shown");
      if (!shown || !matches(shown)) return { outcome: "not-current", cancelled: [], jobEnded: false };
      const now = this.now();
      if (v.ok) {
        this.setAttemptStatus(shown.id, "verified");
        this.sql("UPDATE segments SET status = 'verified', verified_attempt = ? WHERE job_id = ? AND idx = ?").run(
          shown.id,
          jobId,
          v.segment,
        );
        const cancelled: number[] = [];
        for (const other of attempts) {
          if (other.id !== shown.id && (other.status === "active" || other.status === "held")) {
            this.setAttemptStatus(other.id, "superseded");
            if (other.status === "active") cancelled.push(other.id);
          }
        }
        this.bumpProvider(shown.provider, true, now);
        const left = num((this.stmts.remaining.get(jobId) as Row).n);
        let jobEnded = false;
        if (left === 0) {
          this.sql("UPDATE jobs SET status = 'complete', updated_at = ? WHERE job_id = ?").run(now, jobId);
          this.appendEvent(jobId, { type: "job-complete" });
          cancelled.push(...this.cancelJobAttempts(jobId));
          jobEnded = true;
        }
        return { outcome: "verified", cancelled, jobEnded };
      }
      this.sql("UPDATE attempts SET fail_code = 'SEGMENT_FAILED', fail_message = ? WHERE id = ?").run(
        v.message ?? "rejected by the client",
        shown.id,
      );
      this.setAttemptStatus(shown.id, "rejected");
      this.bumpProvider(shown.provider, false, now);
      const effects = this.afterAttemptEnded(
        jobId,
        v.segment,
        shown,
        "SEGMENT_FAILED",
        `The client rejected the delivery${v.message ? `: ${v.message}` : "."}`,
      );
      return { outcome: "rejected", ...effects };
    });
  }

  /** An active attempt failed (timeout, disconnect, bad receipt, provider error). */
  failAttempt(attemptId: number, code: ReasonCode, message: string): TransitionEffects & { failed: boolean } {
    return this.transaction(() => {
      const a = this.attempt(attemptId);
      if (!a || a.status !== "active") return { failed: false, cancelled: [], jobEnded: false };
      this.sql("UPDATE attempts SET fail_code = ?, fail_message = ? WHERE id = ?").run(code, message.slice(0, 2000), attemptId);
      this.setAttemptStatus(attemptId, "failed");
      if (code === "BUSY") {
        // Refused before any work began: not a failure of the segment or the
        // provider. The try is given back and the segment waits for a slot.
        this.sql("UPDATE segments SET tries = MAX(tries - 1, 0) WHERE job_id = ? AND idx = ?").run(a.jobId, a.segment);
        const others = this.attempts(a.jobId, a.segment).some((x) => x.status === "active" || x.status === "held" || x.status === "shown");
        const seg = this.segment(a.jobId, a.segment)!;
        if (!others && seg.status === "active") this.stmts.setSegment.run("pending", a.jobId, a.segment);
        return { failed: false, cancelled: [], jobEnded: false };
      }
      this.bumpProvider(a.provider, false, this.now());
      return { failed: true, ...this.afterAttemptEnded(a.jobId, a.segment, a, code, message) };
    });
  }

  /** Ends a running job as failed; every attempt still running is cancelled. */
  failJob(jobId: string, code: ReasonCode, message: string): TransitionEffects {
    return this.transaction(() => {
      const id = jobId.toLowerCase();
      const job = this.getJob(id);
      if (!job || job.status !== "running") return { cancelled: [], jobEnded: false };
      this.sql("UPDATE jobs SET status = 'failed', fail_code = ?, fail_message = ?, updated_at = ? WHERE job_id = ?").run(
        code,
        message.slice(0, 2000),
        this.now(),
        id,
      );
      this.sql("UPDATE segments SET status = 'failed' WHERE job_id = ? AND status IN ('pending','active','delivered')").run(id);
      const cancelled = this.cancelJobAttempts(id);
      this.appendEvent(id, { type: "job-failed", code, message: message.slice(0, 2000) });
      return { cancelled, jobEnded: true };
    });
  }

  // ---- providers --------------------------------------------------------------

  upsertProvider(p: Omit<ProviderRow, "speedFps" | "reliability" | "completed" | "failed">): ProviderRow {
    this.sql(
      `INSERT INTO providers (address, peer_id, ask, models, capacity, benchmark_fps, device, agent, multiaddrs, last_seen)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (address) DO UPDATE SET peer_id = excluded.peer_id, ask = excluded.ask, models = excluded.models,
           capacity = excluded.capacity, benchmark_fps = excluded.benchmark_fps, device = excluded.device,
           agent = excluded.agent, multiaddrs = excluded.multiaddrs, last_seen = excluded.last_seen`,
    ).run(
      p.address.toLowerCase(),
      p.peerId,
      p.ask.toString(),
      JSON.stringify(p.models),
      p.capacity,
      p.benchmarkFps,
      p.device,
      p.agent,
      JSON.stringify(p.multiaddrs),
      p.lastSeen,
    );
    return this.provider(p.address)!;
  }

  provider(address: string): ProviderRow | undefined {
    const r = this.sql("SELECT * FROM providers WHERE address = ?").get(address.toLowerCase()) as Row | undefined;
    return r ? toProvider(r) : undefined;
  }

  providers(): ProviderRow[] {
    return (this.sql("SELECT * FROM providers ORDER BY address").all() as Row[]).map(toProvider);
  }

  /** Folds one measured render speed (reference frames/s per slot) into the provider's EWMA. */
  recordSpeed(address: string, fps: number, alpha = 0.3): void {
    if (!(fps > 0) || !Number.isFinite(fps)) return;
    this.sql(
      "UPDATE providers SET speed_fps = CASE WHEN speed_fps IS NULL THEN ? ELSE speed_fps * (1 - ?) + ? * ? END WHERE address = ?",
    ).run(fps, alpha, alpha, fps, address.toLowerCase());
  }

  // ---- internals --------------------------------------------------------------

  private requireRunning(jobId: string): JobRow {
    const job = this.getJob(jobId);
    if (!job) throw new InvalidTransitionError(`Unknown job ${jobId}.`);
    if (job.status !== "running") throw new InvalidTransitionError(`Job ${jobId} is ${job.status}.`);
    return job;
  }

  private setAttemptStatus(id: number, status: AttemptStatus): void {
    this.stmts.setAttempt.run(status, status === "active" || status === "shown" || status === "held" ? null : this.now(), id);
  }

  private bumpProvider(address: string, ok: boolean, _now: number): void {
    const alpha = 0.2;
    this.sql(
      `UPDATE providers SET reliability = reliability * (1 - ?) + ? * ?, ${ok ? "completed = completed + 1" : "failed = failed + 1"} WHERE address = ?`,
    ).run(alpha, alpha, ok ? 1 : 0, address.toLowerCase());
  }

  /** Puts an attempt's delivery in front of the client. */
  private show(attemptId: number): void {
    const a = this.attempt(attemptId)!;
    this.setAttemptStatus(a.id, "shown");
    this.stmts.setSegment.run("delivered", a.jobId, a.segment);
    this.appendDelivered(a);
  }

  private appendDelivered(a: AttemptRow): void {
    this.appendEvent(a.jobId, {
      type: "segment-delivered",
      segment: a.segment,
      peerId: a.peerId,
      multiaddrs: a.multiaddrs,
      assignment: wireAssignment(a.assignment),
      delivery: a.delivery!,
    });
  }

  /** Where a segment goes after one of its copies ended without being counted. */
  private afterAttemptEnded(jobId: string, segment: number, ended: AttemptRow, code: ReasonCode, message: string): TransitionEffects {
    const seg = this.segment(jobId, segment)!;
    const job = this.getJob(jobId)!;
    if (job.status !== "running" || seg.status === "verified" || seg.status === "failed") return { cancelled: [], jobEnded: false };
    const attempts = this.attempts(jobId, segment);
    const shown = attempts.find((a) => a.status === "shown");
    const held = attempts.find((a) => a.status === "held");
    const active = attempts.some((a) => a.status === "active");
    const willRetry = Boolean(shown || held || active || seg.tries < this.maxTries);
    this.appendEvent(jobId, {
      type: "segment-failed",
      segment,
      provider: ended.provider,
      code,
      message: message.slice(0, 2000),
      willRetry,
    });
    if (shown) return { cancelled: [], jobEnded: false };
    if (held) {
      this.show(held.id);
      return { cancelled: [], jobEnded: false };
    }
    if (active) {
      this.stmts.setSegment.run("active", jobId, segment);
      return { cancelled: [], jobEnded: false };
    }
    if (seg.tries < this.maxTries) {
      this.stmts.setSegment.run("pending", jobId, segment);
      return { cancelled: [], jobEnded: false };
    }
    this.stmts.setSegment.run("failed", jobId, segment);
    return this.failJob(jobId, "SEGMENT_FAILED", `Segment ${segment} failed on ${seg.tries} tries; the last: ${message}`);
  }

  private cancelJobAttempts(jobId: string): number[] {
    const rows = this.sql("SELECT id FROM attempts WHERE job_id = ? AND status IN ('active','held')").all(jobId) as Row[];
    const ids = rows.map((r) => num(r.id));
    for (const id of ids) this.setAttemptStatus(id, "cancelled");
    return ids;
  }

  private appendEvent(jobId: string, body: EventBody): StoredEvent {
    const at = this.now();
    const r = this.stmts.bumpSeq.get(at, jobId) as Row | undefined;
    if (!r) throw new InvalidTransitionError(`Unknown job ${jobId}.`);
    const event = { ...body, seq: num(r.seq), jobId, at } as StoredEvent;
    this.stmts.insertEvent.run(jobId, event.seq, body.type, JSON.stringify(event), at);
    this.pendingEvents.push(event);
    return event;
  }
}
