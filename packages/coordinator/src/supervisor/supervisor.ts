import {
  REASON_CODES,
  segmentFrames,
  type AssignmentFields,
  type Logger,
  type ReasonCode,
  type ReferenceWork,
  type RenderDelivered,
  type RenderRequest,
  type SignedAssignment,
} from "@rendermesh/shared";
import type { ChainView } from "../chain/types.js";
import type { LiveProvider, ProviderDirectory } from "../directory/index.js";
import { InvalidTransitionError, RefusalError, RenderError } from "../errors.js";
import { pickProvider, schedule, segmentWork, type SchedulerJob, type SchedulerProvider } from "../scheduler/index.js";
import { verdictBoundMs } from "./verdict-bound.js";
import type { AttemptRow, CoordinatorStore, JobRow, TransitionEffects } from "../store/index.js";

/** Sends one render request to a provider and returns its delivery (the render protocol's client side). */
export interface RenderDispatcher {
  render(
    target: { peerId: string; multiaddrs: string[] },
    request: RenderRequest,
    events: { onProgress?: (framesDone: number, frameCount: number) => void },
    options: { signal: AbortSignal },
  ): Promise<RenderDelivered>;
}

export interface SupervisorInit {
  reference?: ReferenceWork;
  /** Scheduler's minimum share (see `schedule`). */
  minShare?: number;
  /** Segments queued per provider beyond its capacity (default 1). */
  pipelineDepth?: number;
  /** An attempt's deadline: expected time × this (default 3) + `graceMs`. */
  timeoutFactor?: number;
  /** Fixed allowance added to every attempt's deadline (default 20 s). */
  graceMs?: number;
  /** A segment running longer than expected × this, with nothing left to assign, gets a speculative copy (default 1.5). */
  stragglerFactor?: number;
  /** After a restart, how long to wait for a provider with an unfinished attempt to come back (default 20 s). */
  resumeGraceMs?: number;
  /**
   * A delivery shown to the client with no verdict after this long is
   * announced again (and a warning logged), so a verdict lost to a restart
   * of either side is asked for again: `verdictRenderFactor` × the time the
   * segment took to render, and at least this (default 15 s).
   */
  verdictWaitMs?: number;
  /** The verdict bound as a multiple of the segment's render time (default 2; see `verdictBoundMs`). */
  verdictRenderFactor?: number;
  /**
   * A segment rendering longer than its expected time × `stragglerFactor`
   * plus this, or waiting this long for a provider, is logged as a warning
   * (once per attempt, or per wait), so a stuck job shows in the logs before
   * its deadline fails it (default 15 s).
   */
  segmentWaitMs?: number;
  /** Period of the supervision loop (default 500 ms). */
  tickMs?: number;
  /** Minimum spacing of persisted progress events per attempt (default 500 ms). */
  progressIntervalMs?: number;
  now?: () => number;
}

export interface SupervisorComponents {
  store: CoordinatorStore;
  directory: ProviderDirectory;
  chain: Pick<ChainView, "chainId" | "escrow" | "coordinator" | "signAssignment" | "signAllocation" | "recoverDelivery">;
  dispatcher: RenderDispatcher;
  log: Logger;
}

interface Running {
  controller: AbortController;
  /** When this process gives up on the attempt: its deadline, or a short window for one re-sent after a restart. */
  deadlineMs: number;
  dispatchedAt: number;
  queueFactor: number;
  lastProgressAt: number;
}

export interface SupervisorStats {
  decisions: number;
  dispatched: number;
  delivered: number;
  failed: number;
  speculative: number;
  timeouts: number;
}

/**
 * Runs every accepted job to its end: asks the scheduler who renders which
 * segment, signs and sends the assignments, watches heartbeats and
 * per-segment deadlines, moves a segment elsewhere when its provider
 * disconnects, times out or returns a receipt that does not verify (at most
 * `store.maxTries` tries), and starts a speculative copy of a straggler near
 * the end of a job. All state is in the store, so a restarted supervisor
 * picks up where the last one stopped: it re-sends unfinished assignments to
 * providers that come back and gives up on those that do not.
 */
export class Supervisor {
  readonly stats: SupervisorStats = { decisions: 0, dispatched: 0, delivered: 0, failed: 0, speculative: 0, timeouts: 0 };
  private readonly running = new Map<number, Running>();
  private readonly inFlight = new Map<string, number>();
  /** Providers that answered BUSY, and until when (ms) they get no new work. */
  private readonly busyUntil = new Map<string, number>();
  /** Attempts already warned about as rendering past their bound. */
  private readonly slowWarned = new Set<number>();
  /** Since when each pending segment (`jobId:segment`) has waited for a provider, and whether that was warned about. */
  private readonly pendingSince = new Map<string, { since: number; warned: boolean }>();
  /** When each shown delivery was last put to the client (announced, or seen after a restart), and its verdict bound. */
  private readonly askedAt = new Map<number, { at: number; boundMs: number }>();
  /**
   * Segments of each job allocated to each provider (key `jobId:provider`): the store's attempts plus those being
   * signed right now, so concurrent assignments to one provider each sign the count including the others.
   */
  private readonly allocated = new Map<string, Set<number>>();
  /**
   * Dispatch-to-delivery times of the segments this process saw delivered, by job (lower-case id): what a
   * straggler is measured against. A job's segments are the same work on the same model, so they time each
   * other; a provider's advertised speed does not (it is one figure for every model it serves, and a
   * diffusion segment is ~50x the work of a field segment of the same size).
   */
  private readonly deliveryTimes = new Map<string, number[]>();
  private readonly reference: ReferenceWork;
  private readonly opts: Required<Omit<SupervisorInit, "reference" | "now">>;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private startedAt = 0;
  private stopped = true;

  constructor(
    private readonly components: SupervisorComponents,
    init: SupervisorInit = {},
  ) {
    this.reference = init.reference ?? { width: 256, height: 256, fps: 24 };
    this.now = init.now ?? Date.now;
    this.opts = {
      minShare: init.minShare ?? 0.2,
      pipelineDepth: init.pipelineDepth ?? 1,
      timeoutFactor: init.timeoutFactor ?? 3,
      graceMs: init.graceMs ?? 20_000,
      stragglerFactor: init.stragglerFactor ?? 1.5,
      resumeGraceMs: init.resumeGraceMs ?? 20_000,
      verdictWaitMs: init.verdictWaitMs ?? 15_000,
      verdictRenderFactor: init.verdictRenderFactor ?? 2,
      segmentWaitMs: init.segmentWaitMs ?? 15_000,
      tickMs: init.tickMs ?? 500,
      progressIntervalMs: init.progressIntervalMs ?? 500,
    };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.startedAt = this.now();
    this.inFlight.clear();
    this.timer = setInterval(() => this.kick(), this.opts.tickMs);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const r of this.running.values()) r.controller.abort(new Error("coordinator stopping"));
    await this.ticking;
  }

  /** Runs the supervision loop soon (coalesced). */
  kick(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err: unknown) => this.components.log.error({ err }, "supervision tick failed"))
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Waits for the current loop run (tests). */
  async settled(): Promise<void> {
    while (this.ticking) await this.ticking;
  }

  /** Segments in flight per provider address: active attempts plus slots reserved while signing. */
  inFlightOf(address: string): number {
    return (this.activeCount().get(address) ?? 0) + (this.inFlight.get(address) ?? 0);
  }

  private activeCount(): Map<string, number> {
    const out = new Map<string, number>();
    for (const a of this.components.store.activeAttempts()) out.set(a.provider, (out.get(a.provider) ?? 0) + 1);
    return out;
  }

  /** A provider's libp2p connection closed, or it stopped announcing: it loses its segments. */
  providerLost(address: string, why: string): void {
    const a = address.toLowerCase();
    this.components.directory.drop(a);
    for (const attempt of this.components.store.activeAttempts()) {
      if (attempt.provider !== a) continue;
      this.endAttempt(attempt.id, "TIMEOUT", `Provider ${a} ${why}.`);
    }
    this.kick();
  }

  /** A provider (re)announced: resume unfinished attempts addressed to it. */
  providerSeen(_address: string): void {
    this.kick();
  }

  /**
   * Applies the result of a store transition: stop renders that no longer
   * count, and log a job that failed by it (an error, with `detail`; a
   * cancel by the client is only news). Every path that ends a job comes
   * through here: the deadline, a segment out of tries, the client's
   * rejections, a cancel.
   */
  applyEffects(effects: TransitionEffects, jobId?: string, detail: Record<string, unknown> = {}): void {
    for (const id of effects.cancelled) this.cancel(id);
    const job = effects.jobEnded ? this.jobOf(effects, jobId) : undefined;
    // An ended job (complete, failed, cancelled) is assigned nothing more: its allocations are never signed again.
    if (job) this.forgetAllocations(job.jobId);
    if (job?.status === "failed") {
      const line = { jobId: job.jobId, code: job.failCode, err: job.failMessage, segments: job.segments, ...detail };
      if (job.failCode === "CANCELLED") this.components.log.info(line, "job ended: cancelled by its client");
      else this.components.log.error(line, "job failed");
    }
    this.kick();
  }

  /** The job a transition ended: named by the caller, or found from an attempt it cancelled. */
  private jobOf(effects: TransitionEffects, jobId: string | undefined): JobRow | undefined {
    const { store } = this.components;
    if (jobId) return store.getJob(jobId);
    for (const id of effects.cancelled) {
      const a = store.attempt(id);
      if (a) return store.getJob(a.jobId);
    }
    return undefined;
  }

  /** One pass: liveness, deadlines, resumption, stragglers, new assignments. */
  private async tick(): Promise<void> {
    const { store, directory, log } = this.components;
    const now = this.now();
    for (const address of directory.expire()) {
      log.info({ provider: address }, "provider stopped announcing");
      this.providerLost(address, "stopped announcing");
    }
    // Jobs past their escrow deadline cannot be paid by claim any more: end them.
    for (const job of store.runningJobs()) {
      if (job.deadline * 1000 > now) continue;
      const counts = store.segmentCounts(job.jobId);
      this.applyEffects(
        store.failJob(job.jobId, "JOB_FAILED", "The job's escrow deadline passed before every segment was verified."),
        job.jobId,
        {
          verified: counts.verified,
          waiting: counts.delivered,
          active: counts.active,
          pending: counts.pending,
        },
      );
    }
    this.pruneAllocations();
    this.askAgain(now);
    this.warnWaiting(now);
    for (const attempt of store.activeAttempts()) {
      const here = this.running.get(attempt.id);
      if (here) {
        if (now > here.deadlineMs) {
          this.stats.timeouts++;
          this.endAttempt(attempt.id, "TIMEOUT", `No delivery from ${attempt.provider} before the segment's deadline.`);
        }
        continue;
      }
      // Not running here: left over from before a restart. Its provider may hold it finished
      // (journalled while this coordinator was down), even past the deadline: ask it first.
      const provider = directory.get(attempt.provider);
      if (provider) {
        this.launch(attempt, provider, 1, true);
      } else if (now - this.startedAt > this.opts.resumeGraceMs) {
        this.endAttempt(attempt.id, "TIMEOUT", `Provider ${attempt.provider} did not come back after the coordinator restarted.`);
      }
    }
    if (this.stopped) return;
    await this.assignNew();
    if (this.stopped) return;
    await this.speculate();
  }

  /**
   * Warns, once each, of a segment rendering well past its expected time
   * (expected × `stragglerFactor` + `segmentWaitMs`) and of one waiting
   * longer than `segmentWaitMs` for any provider to take it: the job is
   * stuck somewhere, and the line says where, before the deadline fails it.
   */
  private warnWaiting(now: number): void {
    const { store, log } = this.components;
    const active = new Set<number>();
    for (const a of store.activeAttempts()) {
      active.add(a.id);
      const r = this.running.get(a.id);
      if (!r || this.slowWarned.has(a.id)) continue;
      const since = Math.max(a.startedAt, r.dispatchedAt);
      const bound = a.expectedMs * this.opts.stragglerFactor + this.opts.segmentWaitMs;
      if (now - since < bound) continue;
      this.slowWarned.add(a.id);
      log.warn(
        {
          jobId: a.jobId,
          segment: a.segment,
          provider: a.provider,
          attempt: a.attempt,
          speculative: a.speculative,
          framesDone: a.framesDone,
          waitedMs: now - since,
          expectedMs: a.expectedMs,
          deadlineInMs: a.deadlineMs - now,
        },
        "segment still rendering past its bound",
      );
    }
    for (const id of this.slowWarned) if (!active.has(id)) this.slowWarned.delete(id);
    const waiting = new Set<string>();
    for (const job of store.runningJobs()) {
      for (const segment of store.pendingSegments(job.jobId)) {
        const key = `${job.jobId}:${segment}`;
        waiting.add(key);
        const p = this.pendingSince.get(key) ?? { since: now, warned: false };
        this.pendingSince.set(key, p);
        if (p.warned || now - p.since < this.opts.segmentWaitMs) continue;
        p.warned = true;
        log.warn(
          { jobId: job.jobId, segment, waitedMs: now - p.since, liveProviders: this.components.directory.liveProviders().length },
          "segment waits for a provider past its bound",
        );
      }
    }
    for (const key of this.pendingSince.keys()) if (!waiting.has(key)) this.pendingSince.delete(key);
  }

  /** Deliveries waiting for the client's verdict past `verdictWaitMs` are announced again. */
  private askAgain(now: number): void {
    const { store, log } = this.components;
    const shown = store.shownAttempts();
    const live = new Set(shown.map((a) => a.id));
    for (const id of this.askedAt.keys()) if (!live.has(id)) this.askedAt.delete(id);
    for (const a of shown) {
      const asked = this.askedAt.get(a.id);
      if (asked === undefined) {
        // First seen shown: it was delivered about now, so it took `now - startedAt` to render.
        this.askedAt.set(a.id, { at: now, boundMs: verdictBoundMs(now - a.startedAt, this.opts) });
        continue;
      }
      const since = asked.at;
      if (now - since < asked.boundMs) continue;
      this.askedAt.set(a.id, { at: now, boundMs: asked.boundMs });
      log.warn(
        { jobId: a.jobId, segment: a.segment, provider: a.provider, waitedMs: now - since, boundMs: asked.boundMs },
        "segment waits for the client's verdict past its bound; announcing it again",
      );
      store.reannounce(a.id);
    }
  }

  private schedulerProviders(): SchedulerProvider[] {
    const active = this.activeCount();
    const now = this.now();
    return this.components.directory
      .liveProviders()
      .filter((p) => (this.busyUntil.get(p.address) ?? 0) <= now)
      .map((p) => ({
        key: p.address,
        models: p.models,
        ask: p.ask,
        capacity: p.capacity,
        window: p.capacity + this.opts.pipelineDepth,
        inFlight: (active.get(p.address) ?? 0) + (this.inFlight.get(p.address) ?? 0),
        speedFps: p.speedFps,
        reliability: p.reliability,
      }));
  }

  private schedulerJob(job: JobRow, pending: number[]): SchedulerJob {
    const tried = new Map<number, Set<string>>();
    for (const a of this.components.store.attempts(job.jobId)) {
      // A provider that only said BUSY has not tried the segment.
      if (a.failCode === "BUSY") continue;
      let s = tried.get(a.segment);
      if (!s) tried.set(a.segment, (s = new Set()));
      s.add(a.provider);
    }
    return {
      jobId: job.jobId,
      model: job.spec.model,
      pricePerSecond: job.pricePerSecond,
      spec: job.spec,
      segmentWork: segmentWork(job.spec, this.reference),
      pending,
      excluded: (segment, provider) => tried.get(segment)?.has(provider) ?? false,
    };
  }

  private async assignNew(): Promise<void> {
    const { store } = this.components;
    const providers = this.schedulerProviders();
    if (providers.length === 0) return;
    const jobs: SchedulerJob[] = [];
    const rows = new Map<string, JobRow>();
    for (const job of store.runningJobs()) {
      const pending = store.pendingSegments(job.jobId);
      if (pending.length === 0) continue;
      rows.set(job.jobId, job);
      jobs.push(this.schedulerJob(job, pending));
    }
    if (jobs.length === 0) return;
    const decisions = schedule(jobs, providers, { reference: this.reference, minShare: this.opts.minShare });
    this.stats.decisions += decisions.length;
    await Promise.all(
      decisions.map((d) => {
        const queued = this.inFlightOf(d.provider);
        this.bump(d.provider, 1); // reserve the slot while signing
        return this.start1(rows.get(d.jobId)!, d.segment, d.provider, d.expectedMs, false, queued)
          .catch((err: unknown) => {
            // One segment that cannot be assigned must not stop the others (or this tick's stragglers): say which it is.
            this.components.log.error({ err, jobId: d.jobId, segment: d.segment, provider: d.provider }, "cannot assign a segment");
          })
          .finally(() => this.bump(d.provider, -1));
      }),
    );
  }

  /** Near the end of a job (nothing left to assign), a segment running well past the job's typical segment gets a second copy. */
  private async speculate(): Promise<void> {
    const { store } = this.components;
    const now = this.now();
    const providers = this.schedulerProviders();
    if (providers.length < 2) return;
    for (const job of store.runningJobs()) {
      const counts = store.segmentCounts(job.jobId);
      if (counts.pending > 0 || counts.active === 0) continue;
      const attempts = store.attempts(job.jobId);
      const bySegment = new Map<number, AttemptRow[]>();
      for (const a of attempts) {
        let list = bySegment.get(a.segment);
        if (!list) bySegment.set(a.segment, (list = []));
        list.push(a);
      }
      for (const [segment, list] of bySegment) {
        const active = list.filter((a) => a.status === "active");
        if (active.length !== 1 || list.some((a) => a.status === "shown" || a.status === "held" || a.status === "verified")) continue;
        const slow = active[0]!;
        // Only a copy this process sent and watches can straggle: one left over from before a
        // restart is re-sent first (its provider may hold it finished), and timed from then.
        const running = this.running.get(slow.id);
        if (!running) continue;
        // Slow against the job's own delivered segments (their median), and never before one has come back:
        // until then a dead provider is its deadline's business.
        const typicalMs = median(this.deliveryTimes.get(job.jobId.toLowerCase()));
        if (typicalMs === undefined) continue;
        const expectedMs = Math.max(slow.expectedMs, typicalMs);
        if (now - Math.max(slow.startedAt, running.dispatchedAt) < expectedMs * this.opts.stragglerFactor) continue;
        const seg = store.segment(job.jobId, segment);
        if (!seg || seg.status !== "active" || seg.tries >= store.maxTries) continue;
        const sj = this.schedulerJob(job, []);
        const exclude = new Set(list.map((a) => a.provider));
        const pick = pickProvider(sj, providers, { reference: this.reference, minShare: this.opts.minShare }, exclude);
        if (!pick) continue;
        const queued = this.inFlightOf(pick.key);
        pick.inFlight++;
        const copyExpectedMs = Math.max(Math.ceil((1000 * sj.segmentWork) / pick.speedFps), Math.ceil(typicalMs));
        this.bump(pick.key, 1);
        try {
          if (await this.start1(job, segment, pick.key, copyExpectedMs, true, queued)) this.stats.speculative++;
        } finally {
          this.bump(pick.key, -1);
        }
      }
    }
  }

  /** Providers' allocations held in memory for `jobId` (every job without one): what `forgetAllocations` drops. */
  allocationsHeld(jobId?: string): number {
    if (jobId === undefined) return this.allocated.size;
    const prefix = `${jobId.toLowerCase()}:`;
    let n = 0;
    for (const key of this.allocated.keys()) if (key.startsWith(prefix)) n++;
    return n;
  }

  private forgetAllocations(jobId: string): void {
    const prefix = `${jobId.toLowerCase()}:`;
    for (const key of [...this.allocated.keys()]) if (key.startsWith(prefix)) this.allocated.delete(key);
    this.deliveryTimes.delete(jobId.toLowerCase());
  }

  /** Drops the allocations of every job no longer running (ended by a path that did not pass `applyEffects`). */
  private pruneAllocations(): void {
    if (this.allocated.size === 0 && this.deliveryTimes.size === 0) return;
    const running = new Set(this.components.store.runningJobs().map((j) => j.jobId.toLowerCase()));
    for (const key of [...this.allocated.keys()]) if (!running.has(key.slice(0, key.indexOf(":")))) this.allocated.delete(key);
    for (const key of [...this.deliveryTimes.keys()]) if (!running.has(key)) this.deliveryTimes.delete(key);
  }

  /** Adds `segment` to the provider's allocation in the job; returns the allocation's seconds (distinct segments). */
  private allocate(jobId: string, provider: string, segment: number): number {
    const key = `${jobId.toLowerCase()}:${provider.toLowerCase()}`;
    let mine = this.allocated.get(key);
    if (!mine) {
      const { store } = this.components;
      mine = new Set(
        store
          .attempts(jobId)
          .filter((a) => a.provider.toLowerCase() === provider.toLowerCase())
          .map((a) => a.segment),
      );
      this.allocated.set(key, mine);
    }
    mine.add(segment);
    return mine.size;
  }

  /** Signs, records and launches one attempt. */
  private async start1(
    job: JobRow,
    segment: number,
    address: string,
    expectedMs: number,
    speculative: boolean,
    queued: number,
  ): Promise<boolean> {
    const { store, chain, log, directory } = this.components;
    const provider = directory.get(address);
    if (!provider) return false;
    const now = this.now();
    const timeoutMs = expectedMs * this.opts.timeoutFactor + this.opts.graceMs;
    const deadlineMs = Math.min(now + timeoutMs, job.deadline * 1000);
    if (deadlineMs <= now) return false;
    const { firstFrame, frameCount } = segmentFrames(job.spec, segment);
    const fields: AssignmentFields = {
      jobId: job.jobId as `0x${string}`,
      segment,
      firstFrame,
      frameCount,
      provider: provider.address as `0x${string}`,
      deadline: Math.floor(deadlineMs / 1000),
    };
    let signed: SignedAssignment;
    try {
      // Counted before any await, so a concurrent assignment to the same provider counts this one too.
      const allocated = chain.signAllocation ? this.allocate(job.jobId, provider.address, segment) : 0;
      signed = { assignment: fields, signature: await chain.signAssignment(fields) };
      // The provider's allocation: every distinct segment of the job assigned to it, this one included. Vouchers and
      // settle entries pay it at most this many seconds, so a client cannot divert the deposit to an address of its own.
      if (chain.signAllocation) {
        // At least the count at this moment: assignments signed meanwhile may have raised it.
        const seconds = Math.max(allocated, this.allocate(job.jobId, provider.address, segment));
        signed.allocation = { seconds, signature: await chain.signAllocation(job.jobId, provider.address, seconds) };
      }
    } catch (err) {
      log.error({ err, jobId: job.jobId, segment }, "cannot sign an assignment");
      return false;
    }
    if (this.stopped) return false;
    let attempt: AttemptRow;
    try {
      attempt = store.assign({
        jobId: job.jobId,
        segment,
        provider: provider.address,
        peerId: provider.peerId,
        speculative,
        assignment: signed,
        deadlineMs,
        expectedMs,
      });
    } catch (err) {
      if (err instanceof InvalidTransitionError) return false; // the job or segment moved on meanwhile
      throw err;
    }
    this.launch(attempt, provider, Math.max(1, (queued + 1) / provider.capacity));
    return true;
  }

  /** Sends an attempt's assignment to its provider and follows it to a delivery or a failure. */
  private launch(attempt: AttemptRow, provider: LiveProvider, queueFactor: number, resumed = false): void {
    const { store, chain, dispatcher, log, directory } = this.components;
    const job = store.getJob(attempt.jobId);
    if (!job) return;
    const controller = new AbortController();
    // A re-sent attempt gets a short window even past its deadline: a journalled delivery comes back at
    // once, and a provider that has not rendered it refuses an expired assignment at once.
    const deadlineMs = resumed ? Math.max(attempt.deadlineMs, this.now() + RESUME_WINDOW_MS) : attempt.deadlineMs;
    const running: Running = { controller, deadlineMs, dispatchedAt: this.now(), queueFactor, lastProgressAt: 0 };
    this.running.set(attempt.id, running);
    this.stats.dispatched++;
    const remaining = Math.max(1, deadlineMs - this.now());
    const signal = AbortSignal.any([controller.signal, AbortSignal.timeout(remaining)]);
    const request: RenderRequest = {
      type: "render",
      chainId: chain.chainId,
      escrow: chain.escrow as `0x${string}`,
      spec: job.spec,
      assignment: attempt.assignment.assignment,
      signature: attempt.assignment.signature,
      ...(attempt.assignment.allocation ? { allocation: attempt.assignment.allocation } : {}),
    };
    const onProgress = (framesDone: number, frameCount: number) => {
      // A provider busy rendering is alive even if its announcements are late.
      directory.touch(attempt.provider);
      const t = this.now();
      if (framesDone < frameCount && t - running.lastProgressAt < this.opts.progressIntervalMs) return;
      running.lastProgressAt = t;
      store.progress(attempt.id, framesDone, frameCount);
    };
    void dispatcher
      .render({ peerId: provider.peerId, multiaddrs: provider.multiaddrs }, request, { onProgress }, { signal })
      .then((delivered) => {
        if (controller.signal.aborted) return;
        this.checkDelivery(attempt, delivered);
        const elapsedMs = this.now() - running.dispatchedAt;
        const elapsedS = elapsedMs / 1000;
        const key = attempt.jobId.toLowerCase();
        const times = this.deliveryTimes.get(key);
        if (times) times.push(elapsedMs);
        else this.deliveryTimes.set(key, [elapsedMs]);
        const work = segmentWork(job.spec, this.reference);
        if (elapsedS > 0) store.recordSpeed(attempt.provider, (work * running.queueFactor) / elapsedS);
        const outcome = store.deliver(attempt.id, { delivery: delivered.delivery, signature: delivered.signature }, delivered.multiaddrs);
        this.stats.delivered++;
        log.debug({ jobId: attempt.jobId, segment: attempt.segment, provider: attempt.provider, outcome }, "segment delivered");
      })
      .catch((err: unknown) => {
        if (controller.signal.aborted) return; // cancelled by us: the store already moved on
        const code = failureCode(err, signal);
        const message = err instanceof Error ? ((err as { shortMessage?: string }).shortMessage ?? err.message) : String(err);
        log.info({ jobId: attempt.jobId, segment: attempt.segment, provider: attempt.provider, code, err: message }, "attempt failed");
        if (code === "BUSY") {
          // Honour the provider's retry hint before offering it work again.
          const retryAfterMs = (err as { retryAfterMs?: unknown }).retryAfterMs;
          this.busyUntil.set(attempt.provider, this.now() + (typeof retryAfterMs === "number" ? Math.min(retryAfterMs, 30_000) : 1_000));
          setTimeout(() => this.kick(), typeof retryAfterMs === "number" ? Math.min(retryAfterMs, 30_000) : 1_000).unref();
        }
        this.endAttempt(attempt.id, code, message);
      })
      .finally(() => {
        if (this.running.get(attempt.id) === running) this.running.delete(attempt.id);
        directory.refresh(attempt.provider);
        this.kick();
      });
  }

  /** A receipt counts only if the assigned provider signed it and it matches the assignment. */
  private checkDelivery(attempt: AttemptRow, delivered: RenderDelivered): void {
    const a = attempt.assignment.assignment;
    const d = delivered.delivery;
    if (d.jobId.toLowerCase() !== a.jobId.toLowerCase() || d.segment !== a.segment || d.frameCount !== a.frameCount) {
      throw new RenderError(
        "BAD_SIGNATURE",
        `The receipt is for job ${d.jobId} segment ${d.segment} (${d.frameCount} frames), not the assignment's.`,
      );
    }
    let signer: string;
    try {
      signer = this.components.chain.recoverDelivery({ delivery: d, signature: delivered.signature }, attempt.provider).toLowerCase();
    } catch (cause) {
      throw new RenderError("BAD_SIGNATURE", "The delivery receipt's signature cannot be recovered.", { cause });
    }
    if (signer !== attempt.provider.toLowerCase()) {
      throw new RenderError(
        "BAD_SIGNATURE",
        `The delivery receipt is signed by ${signer}, not by the assigned provider ${attempt.provider}.`,
      );
    }
  }

  private endAttempt(id: number, code: ReasonCode, message: string): void {
    const r = this.components.store.failAttempt(id, code, message);
    if (r.failed) this.stats.failed++;
    const a = r.jobEnded ? this.components.store.attempt(id) : undefined;
    this.cancel(id);
    this.applyEffects(r, a?.jobId, a ? { segment: a.segment, lastAttempt: { provider: a.provider, code, err: message } } : {});
  }

  private cancel(attemptId: number): void {
    const r = this.running.get(attemptId);
    if (!r) return;
    this.running.delete(attemptId);
    r.controller.abort(new Error("attempt no longer needed"));
  }

  private bump(address: string, delta: number): void {
    const n = (this.inFlight.get(address) ?? 0) + delta;
    if (n > 0) this.inFlight.set(address, n);
    else this.inFlight.delete(address);
  }
}

/** The median of `values`, or undefined when there are none. */
function median(values: readonly number[] | undefined): number | undefined {
  if (!values || values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** How long an attempt re-sent after a restart may take past its deadline to come back from the provider's journal. */
const RESUME_WINDOW_MS = 10_000;

/** The reason code an attempt failed with, from what the render call threw. */
function failureCode(err: unknown, signal: AbortSignal): ReasonCode {
  if (err instanceof RenderError || err instanceof RefusalError) return err.reason;
  if (signal.aborted) return "TIMEOUT";
  const code = (err as { code?: unknown } | null)?.code;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === "TimeoutError") return "TIMEOUT";
  if (name === "InvalidMessageError" || name === "MessageTooLargeError") return "BAD_MESSAGE";
  if (name === "RemoteError" && typeof code === "string")
    return (REASON_CODES as readonly string[]).includes(code) ? (code as ReasonCode) : "INTERNAL";
  return "TIMEOUT";
}
