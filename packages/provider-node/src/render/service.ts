import type { Logger } from "@rendermesh/shared";
import { deadline } from "@rendermesh/shared/net";
import { refusalMessage, specHash, type ErrorMessage, type RenderRequest } from "@rendermesh/shared";
import type { ChainReader, SignatureChecker } from "../chain/types.js";
import { RefusalError } from "../errors.js";
import type { AssignmentRow, Journal } from "../journal/index.js";
import type { ProviderMetrics } from "../metrics.js";
import { checkAssignment, PolicyCache, type AcceptanceComponents } from "./acceptance.js";
import { RenderOverlap } from "./overlap.js";
import { produceSegment, type PipelineComponents, type ProducedSegment } from "./pipeline.js";

/** Messages the provider writes on a render stream (RenderResponse before zod parsing). */
export type RenderReplyMessage =
  | { type: "accepted"; jobId: string; segment: number }
  | { type: "progress"; jobId: string; segment: number; framesDone: number; frameCount: number }
  | { type: "delivered"; delivery: ProducedSegment["delivery"]; signature: string; multiaddrs: string[] }
  | ErrorMessage;

/** The coordinator's end of one render stream. */
export interface RenderReply {
  send(message: RenderReplyMessage): Promise<void>;
  /** Aborts when the peer goes away; the work is then given back (see `peerConnected`). */
  signal?: AbortSignal | undefined;
  /**
   * Whether the sender is still connected. A stream closed on a live
   * connection is the coordinator cancelling the copy (another one won): the
   * work is given back at once. A stream lost with its connection (the
   * coordinator died) keeps rendering for `orphanGraceMs`.
   */
  peerConnected?: (() => boolean) | undefined;
}

export interface RenderContext {
  /** libp2p peer id of the sender. */
  peer?: string | undefined;
  /** The coordinator address that peer proved in its announce ack, if any. */
  coordinator?: string | undefined;
}

export interface RenderServiceComponents {
  address: string;
  chain: Pick<ChainReader, "chainId" | "escrowAddress" | "getJob" | "jobOpenedBlock" | "readPolicy">;
  signatures: Pick<SignatureChecker, "recoverAssignmentSigner">;
  journal: Journal;
  metrics: ProviderMetrics;
  logger: Logger;
  /** Pipelines by model id (lower-case). */
  pipelines: ReadonlyMap<string, PipelineComponents>;
  /** Addresses that the delivered segment can be fetched from over bitswap. */
  multiaddrs(): string[];
  /** The ask and each model's reference size, for the price check. */
  pricing?: AcceptanceComponents["pricing"];
  now?: () => number;
}

export interface RenderServiceInit {
  /**
   * Segments rendered at once (default 1). Each render slot also has a
   * finish slot: a segment whose frames are all made encodes, pins and signs
   * while the next segment renders (at most one finishing per render slot).
   */
  concurrency?: number;
  /**
   * Assignments accepted beyond `concurrency` that wait their turn (default:
   * as many as `concurrency`), so the coordinator can keep several segments
   * in flight per provider and the device never idles between segments.
   */
  queueDepth?: number;
  /** Give a segment back if it has not finished in this time (default 10 minutes). */
  segmentTimeoutMs?: number;
  /** Progress messages per segment, at most (default 8, plus the last frame). */
  progressSteps?: number;
  /**
   * How long a render whose coordinator stream went away keeps going, waiting
   * for the coordinator to ask again (default 60 s). A coordinator that
   * restarts re-sends its unfinished assignments; work finished meanwhile is
   * journalled and answered from the journal, never thrown away. Past this,
   * unfinished work nobody asked for again is given back.
   */
  orphanGraceMs?: number;
}

interface InFlight {
  promise: Promise<ProducedSegment>;
  controller: AbortController;
  /** Streams still waiting for this segment; the work is given back when the last one leaves. */
  waiters: number;
  /** Frame-count listeners of the streams waiting. */
  listeners: Set<(framesDone: number) => void>;
  /** Set while no stream waits: gives the work back when it fires. */
  orphanTimer?: NodeJS.Timeout | undefined;
}

/** What `RenderService.events` dispatches, as `CustomEvent`s with this detail. */
export interface SegmentEventDetail {
  jobId: string;
  segment: number;
  /** Why a segment was given back (`segment:released` only). */
  reason?: "stopping" | "coordinator-gone" | "timeout" | "failed";
}

/**
 * Events of the segments in flight, after the journal has recorded each step
 * and the capacity counts are up to date: `segment:accepted` (journalled, in
 * flight), `segment:delivered` and `segment:released` (no longer in flight).
 * Metrics and tests follow the work through these instead of polling.
 */
export type RenderServiceEvent = "segment:accepted" | "segment:delivered" | "segment:released";

/** How long after its render stream closes the coordinator's connection is looked at, to tell a cancel from a crash. */
const CANCEL_PROBE_MS = 1_000;

/** How long the acceptance checks may wait for the chain before the assignment is answered BUSY. */
const CHAIN_CHECK_TIMEOUT_MS = 10_000;

class ChainStalledError extends Error {
  override name = "ChainStalledError";
  constructor() {
    super(`no answer within ${CHAIN_CHECK_TIMEOUT_MS / 1000} s`);
  }
}

const key = (jobId: string, segment: number) => `${jobId.toLowerCase()}/${segment}`;

/**
 * The render protocol's logic, free of libp2p: checks an assignment, keeps
 * capacity, journals each step, runs the pipeline and streams progress and
 * the signed delivery back. Idempotent per (job, segment): a re-sent
 * assignment joins the work in flight or is answered from the journal with
 * the same receipt, never a second different one.
 */
export class RenderService {
  readonly #c: RenderServiceComponents;
  readonly #concurrency: number;
  readonly #queueDepth: number;
  readonly #overlap: RenderOverlap;
  readonly #segmentTimeoutMs: number;
  readonly #progressSteps: number;
  readonly #orphanGraceMs: number;
  readonly #inFlight = new Map<string, InFlight>();
  readonly #policyCache = new PolicyCache();
  readonly #stopping = new AbortController();
  #avgSegmentMs: number | undefined;
  /** `segment:accepted`, `segment:delivered`, `segment:released` (see `RenderServiceEvent`). */
  readonly events = new EventTarget();

  constructor(components: RenderServiceComponents, init: RenderServiceInit = {}) {
    this.#c = components;
    this.#concurrency = init.concurrency ?? 1;
    this.#queueDepth = init.queueDepth ?? this.#concurrency;
    this.#overlap = new RenderOverlap(this.#concurrency);
    this.#segmentTimeoutMs = init.segmentTimeoutMs ?? 600_000;
    this.#progressSteps = init.progressSteps ?? 8;
    this.#orphanGraceMs = init.orphanGraceMs ?? 60_000;
  }

  /** Segments being rendered now. */
  get active(): number {
    return this.#inFlight.size;
  }

  get capacity(): number {
    return this.#concurrency;
  }

  /** Aborts work in flight (its rows are released) and waits for it to unwind. */
  async stop(): Promise<void> {
    this.#stopping.abort(new Error("provider stopping"));
    await Promise.allSettled([...this.#inFlight.values()].map((f) => f.promise));
  }

  #now(): number {
    return Math.floor((this.#c.now?.() ?? Date.now()) / 1000);
  }

  /** Handles one render request to the end: every outcome is a message on `reply`. */
  async handle(request: RenderRequest, reply: RenderReply, context: RenderContext = {}): Promise<void> {
    const { assignment } = request;
    const log = this.#c.logger.child({ job: assignment.jobId, segment: assignment.segment, peer: context.peer });
    try {
      const delivered = this.#fromJournal(request);
      if (delivered) {
        log.info({ cid: delivered.cid }, "assignment re-sent; answering with the journalled delivery");
        await reply.send({ type: "accepted", jobId: assignment.jobId, segment: assignment.segment });
        await this.#sendDelivered(reply, delivered.delivery!, delivered.providerSig!);
        this.#c.journal.markReported(assignment.jobId, assignment.segment);
        return;
      }
      const running = this.#inFlight.get(key(assignment.jobId, assignment.segment));
      if (running) {
        // Same coordinator asking again (its stream broke): verify, then join the work.
        await this.#check(request, context);
        await reply.send({ type: "accepted", jobId: assignment.jobId, segment: assignment.segment });
        await this.#await(running, request, reply);
        return;
      }
      if (this.#inFlight.size >= this.#concurrency + this.#queueDepth) {
        throw new RefusalError(
          "BUSY",
          `This provider holds ${this.#inFlight.size} segments (${this.#concurrency} rendering, ${this.#queueDepth} queued), its limit.`,
          {
            retryAfterMs: Math.max(250, Math.round(this.#avgSegmentMs ?? 1_000)),
          },
        );
      }
      const checked = await this.#check(request, context);
      // Checks are async: another request may have taken the slot or the segment meanwhile.
      const raced = this.#inFlight.get(key(assignment.jobId, assignment.segment));
      if (raced) {
        await reply.send({ type: "accepted", jobId: assignment.jobId, segment: assignment.segment });
        await this.#await(raced, request, reply);
        return;
      }
      if (this.#inFlight.size >= this.#concurrency + this.#queueDepth) {
        throw new RefusalError(
          "BUSY",
          `This provider holds ${this.#inFlight.size} segments (${this.#concurrency} rendering, ${this.#queueDepth} queued), its limit.`,
          {
            retryAfterMs: Math.max(250, Math.round(this.#avgSegmentMs ?? 1_000)),
          },
        );
      }
      this.#c.journal.upsertJob({
        jobId: assignment.jobId,
        chainId: request.chainId,
        escrow: request.escrow,
        client: checked.job.client,
        coordinator: checked.job.coordinator,
        deadline: checked.job.deadline,
        seconds: checked.job.seconds,
        pricePerSecond: checked.job.pricePerSecond,
        openedBlock: checked.openedBlock,
        spec: request.spec,
      });
      // The coordinator's allocation as of this assignment: a redeem of this job's vouchers needs the highest.
      if (request.allocation) this.#c.journal.recordAllocation(assignment.jobId, request.allocation);
      if (!this.#c.journal.recordAccepted({ assignment, coordinatorSig: request.signature, coordinatorPeer: context.peer })) {
        // Delivered between the journal look-up and now (another stream finished it).
        const row = this.#fromJournal(request);
        if (row) {
          await reply.send({ type: "accepted", jobId: assignment.jobId, segment: assignment.segment });
          await this.#sendDelivered(reply, row.delivery!, row.providerSig!);
          this.#c.journal.markReported(assignment.jobId, assignment.segment);
          return;
        }
        throw new RefusalError("BUSY", `Segment ${assignment.segment} of job ${assignment.jobId} is already being rendered here.`, {
          retryAfterMs: 1_000,
        });
      }
      const flight = this.#start(request, log);
      this.#c.metrics.queueDepth.set(this.#inFlight.size);
      this.#emit("segment:accepted", { jobId: assignment.jobId, segment: assignment.segment });
      log.info({ model: request.spec.model, frames: assignment.frameCount }, "assignment accepted");
      await reply.send({ type: "accepted", jobId: assignment.jobId, segment: assignment.segment }).catch(() => undefined);
      await this.#await(flight, request, reply);
    } catch (err) {
      await this.#refuse(err, reply, log);
    }
  }

  /**
   * The acceptance checks, with the chain's share bounded: a chain that does
   * not answer (stalled, restarting) is answered BUSY with a retry hint, which
   * costs the segment no try and this provider no reliability — it is the
   * chain stalling, not the provider failing.
   */
  async #check(request: RenderRequest, context: RenderContext) {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new ChainStalledError()), CHAIN_CHECK_TIMEOUT_MS);
      timer.unref();
    });
    try {
      return await Promise.race([this.#checkOnChain(request, context), stalled]);
    } catch (err) {
      if (err instanceof RefusalError) throw err;
      this.#c.logger.warn(
        { err: (err as Error).message, job: request.assignment.jobId, segment: request.assignment.segment },
        "cannot read the job on-chain; answering BUSY",
      );
      throw new RefusalError("BUSY", `The chain did not answer the assignment's checks (${(err as Error).message}); try again shortly.`, {
        retryAfterMs: 2_000,
        cause: err,
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async #checkOnChain(request: RenderRequest, context: RenderContext) {
    return checkAssignment(request, {
      address: this.#c.address,
      chain: this.#c.chain,
      signatures: this.#c.signatures,
      models: new Set(this.#c.pipelines.keys()),
      now: () => this.#now(),
      senderCoordinator: context.coordinator,
      policyCache: this.#policyCache,
      pricing: this.#c.pricing,
    });
  }

  /**
   * A delivered row for this (job, segment), if the request is genuinely the
   * same work: signed by the job's coordinator (as journalled) for this
   * provider, with the spec of the job. Anything else goes through the full
   * checks and is refused there.
   */
  #fromJournal(request: RenderRequest): AssignmentRow | undefined {
    const { assignment } = request;
    const row = this.#c.journal.getAssignment(assignment.jobId, assignment.segment);
    if (row?.state !== "delivered" || row.delivery === null || row.providerSig === null) return undefined;
    const job = this.#c.journal.getJob(assignment.jobId);
    if (!job) return undefined;
    // The journal is keyed by job id alone: a replay naming another chain or
    // escrow is not the same work, and goes through the full checks (WRONG_CHAIN).
    if (request.chainId !== job.chainId || request.escrow.toLowerCase() !== job.escrow.toLowerCase()) return undefined;
    if (assignment.provider.toLowerCase() !== this.#c.address.toLowerCase()) return undefined;
    if (specHash(request.spec) !== specHash(job.spec)) return undefined;
    if (assignment.firstFrame !== row.assignment.firstFrame || assignment.frameCount !== row.assignment.frameCount) return undefined;
    let signer: string;
    try {
      signer = this.#c.signatures.recoverAssignmentSigner(assignment, request.signature, job.coordinator).toLowerCase();
    } catch {
      return undefined;
    }
    return signer === job.coordinator ? row : undefined;
  }

  #start(request: RenderRequest, log: Logger): InFlight {
    const { assignment, spec } = request;
    const pipeline = this.#c.pipelines.get(spec.model.toLowerCase())!;
    const controller = new AbortController();
    const deadlineMs = Math.min(this.#segmentTimeoutMs, Math.max(0, assignment.deadline * 1000 - (this.#c.now?.() ?? Date.now())));
    // Not AbortSignal.any: it would leave a dependent on the long-lived stopping signal per segment.
    const limit = deadline({ timeout: Math.max(1, deadlineMs) }, 0, controller.signal, this.#stopping.signal);
    const signal = limit.signal;
    const started = performance.now();
    const listeners = new Set<(framesDone: number) => void>();
    let lastFrames = 0;
    let outcome: { type: RenderServiceEvent; detail: SegmentEventDetail } | undefined;
    const promise = (async () => {
      try {
        // Queued work waits here for a render slot; it hands the slot on once its last frame is made.
        const turn = await this.#overlap.enter(signal);
        let produced: ProducedSegment;
        try {
          produced = await produceSegment(
            {
              jobId: assignment.jobId,
              segment: assignment.segment,
              spec,
              firstFrame: assignment.firstFrame,
              frameCount: assignment.frameCount,
            },
            pipeline,
            {
              signal,
              onProgress: (event) => {
                if (event.type !== "render:frame") return;
                this.#c.metrics.framesRendered.inc({ model: spec.model }, event.framesDone - lastFrames);
                lastFrames = event.framesDone;
                for (const l of listeners) l(event.framesDone);
              },
              onRendered: () => turn.rendered(),
            },
          );
        } finally {
          turn.leave();
        }
        this.#c.journal.recordDelivered(assignment.jobId, assignment.segment, {
          delivery: produced.delivery,
          providerSig: produced.signature,
          bytes: produced.bytes,
        });
        const ms = performance.now() - started;
        this.#avgSegmentMs = this.#avgSegmentMs === undefined ? ms : 0.8 * this.#avgSegmentMs + 0.2 * ms;
        this.#c.metrics.renderSeconds.observe(ms / 1000);
        this.#c.metrics.segmentsDelivered.inc();
        log.info({ cid: produced.delivery.cid, bytes: produced.bytes, ms: Math.round(ms), timings: produced.timings }, "segment delivered");
        outcome = { type: "segment:delivered", detail: { jobId: assignment.jobId, segment: assignment.segment } };
        return produced;
      } catch (err) {
        const reason = this.#stopping.signal.aborted
          ? "stopping"
          : controller.signal.aborted
            ? "coordinator-gone"
            : signal.aborted
              ? "timeout"
              : "failed";
        this.#c.journal.release(assignment.jobId, assignment.segment, reason);
        this.#c.metrics.segmentsFailed.inc({ reason });
        if (reason === "failed" || reason === "timeout") log.warn({ err, reason }, "segment given back");
        else log.info({ reason }, "segment given back");
        outcome = { type: "segment:released", detail: { jobId: assignment.jobId, segment: assignment.segment, reason } };
        throw err;
      } finally {
        clearTimeout(this.#inFlight.get(key(assignment.jobId, assignment.segment))?.orphanTimer);
        limit.clear();
        this.#inFlight.delete(key(assignment.jobId, assignment.segment));
        this.#c.metrics.queueDepth.set(this.#inFlight.size);
        if (outcome) this.#emit(outcome.type, outcome.detail);
      }
    })();
    promise.catch(() => undefined);
    const flight: InFlight = { promise, controller, waiters: 0, listeners };
    this.#inFlight.set(key(assignment.jobId, assignment.segment), flight);
    return flight;
  }

  #emit(type: RenderServiceEvent, detail: SegmentEventDetail): void {
    this.events.dispatchEvent(new CustomEvent<SegmentEventDetail>(type, { detail }));
  }

  /** Streams progress of `flight` to `reply` and ends with the delivery. */
  async #await(flight: InFlight, request: RenderRequest, reply: RenderReply): Promise<void> {
    const { assignment } = request;
    const { listeners } = flight;
    const step = Math.max(1, Math.floor(assignment.frameCount / this.#progressSteps));
    let sending = Promise.resolve();
    const onFrames = (framesDone: number) => {
      if (framesDone % step !== 0 && framesDone !== assignment.frameCount) return;
      // Progress is best effort and ordered; a slow peer never stalls the render.
      sending = sending.then(() =>
        reply
          .send({ type: "progress", jobId: assignment.jobId, segment: assignment.segment, framesDone, frameCount: assignment.frameCount })
          .catch(() => undefined),
      );
    };
    listeners.add(onFrames);
    flight.waiters++;
    clearTimeout(flight.orphanTimer);
    flight.orphanTimer = undefined;
    const onGone = () => {
      flight.waiters--;
      listeners.delete(onFrames);
      if (flight.waiters > 0) return;
      // A connection that outlives its stream by a moment is the coordinator cancelling this copy:
      // give the work back. (A lost connection closes its streams first, then itself.)
      if (reply.peerConnected) {
        const connected = reply.peerConnected;
        setTimeout(() => {
          if (flight.waiters === 0 && connected()) flight.controller.abort(new Error("coordinator cancelled"));
        }, CANCEL_PROBE_MS).unref();
      }
      // The stream broke (a coordinator restart, a network blip): keep rendering for a while, so
      // the coordinator that asks again gets the work, finished or in flight, not a fresh start.
      flight.orphanTimer = setTimeout(() => {
        if (flight.waiters === 0) flight.controller.abort(new Error("coordinator gone"));
      }, this.#orphanGraceMs);
      flight.orphanTimer.unref();
    };
    reply.signal?.addEventListener("abort", onGone, { once: true });
    if (reply.signal?.aborted) onGone();
    try {
      const produced = await flight.promise;
      await sending;
      await this.#sendDelivered(reply, produced.delivery, produced.signature);
      this.#c.journal.markReported(assignment.jobId, assignment.segment);
    } finally {
      listeners.delete(onFrames);
      reply.signal?.removeEventListener("abort", onGone);
      if (!reply.signal?.aborted) flight.waiters--;
    }
  }

  async #sendDelivered(reply: RenderReply, delivery: ProducedSegment["delivery"], signature: string): Promise<void> {
    await reply.send({ type: "delivered", delivery, signature, multiaddrs: this.#c.multiaddrs().slice(0, 16) });
  }

  async #refuse(err: unknown, reply: RenderReply, log: Logger): Promise<void> {
    if (reply.signal?.aborted && !(err instanceof RefusalError)) {
      log.debug({ reason: (err as Error)?.message }, "render stream gone");
      return;
    }
    let message: ErrorMessage;
    if (err instanceof RefusalError) {
      message = refusalMessage(err);
      this.#c.metrics.refusals.inc({ code: err.reason });
      log.info({ code: err.reason, reason: err.shortMessage }, "assignment refused");
    } else {
      const timedOut = this.#stopping.signal.aborted ? false : (err as { name?: string })?.name === "TimeoutError";
      message = {
        type: "error",
        code: timedOut ? "TIMEOUT" : "INTERNAL",
        message: (timedOut
          ? "Rendering the segment took longer than allowed."
          : `Rendering the segment failed: ${(err as Error)?.message ?? String(err)}`
        ).slice(0, 2000),
      };
      log.warn({ err }, "render failed");
    }
    if (reply.signal?.aborted) return;
    await reply.send(message).catch(() => undefined);
  }
}
