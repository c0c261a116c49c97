import {
  answerRefusal,
  JOB_SEGMENT_ATTEMPTS,
  JOB_SEGMENTS_PAGE,
  JobRequest,
  type JobSegments,
  MAX_MESSAGE_BYTES,
  type JobRequest as JobRequestMessage,
  type JobSummary,
  type Logger,
  type SubmitJob,
} from "@rendermesh/shared";
import { handleProtocol, type MessageStream, type ProtocolHost, type ProtocolRegistration } from "@rendermesh/shared/net";
import { RefusalError } from "../../errors.js";
import type { CoordinatorStore, JobRow, StoredEvent } from "../../store/index.js";
import {
  FIRST_MESSAGE_TIMEOUT,
  MAX_FOLLOWERS,
  MAX_FOLLOWERS_PER_JOB,
  MAX_QUEUED_EVENTS,
  MAX_STREAMS_PER_PEER,
  PROTOCOL,
  REPLAY_BATCH,
} from "./constants.js";

export interface JobProtocolInit {
  maxStreamsPerPeer?: number;
  /** Job streams following a job, in total (default 1024). */
  maxFollowers?: number;
  /** Authenticated followers of one job (default 4). */
  maxFollowersPerJob?: number;
  maxQueuedEvents?: number;
  busyRetryMs?: number;
}

export interface JobProtocolComponents {
  node: ProtocolHost;
  store: CoordinatorStore;
  /** Intake: checks the client's auth, checks and records a submission; throws RefusalError. */
  submit: (msg: SubmitJob, peer: string, options: { signal: AbortSignal }) => Promise<{ job: JobRow; fresh: boolean }>;
  /** Whether `auth` is the job's on-chain client's signature for `peer`. */
  authorized: (job: JobRow, peer: string, auth: string | undefined, options: { signal: AbortSignal }) => Promise<boolean>;
  /** Ends a running job as cancelled by its client. */
  cancel: (jobId: string) => void;
  /** Called when a new job was accepted. */
  onAccepted: (jobId: string) => void;
  log: Logger;
}

const FINAL = new Set(["job-complete", "job-failed"]);

/**
 * `/rendermesh/job`: the first message is `submit` (intake runs, then the
 * job's events stream), `watch` (events after `fromSeq` are replayed from
 * the store, then live ones follow), `cancel` or `segments` (one page of the
 * job's segment states, then the stream ends). Submit, cancel and a full
 * watch need the job's client's `auth`; a watch without it gets one public
 * `job-summary`. Each job has a bounded number of followers, so strangers
 * cannot lock its client out. The stream ends after `job-complete` or
 * `job-failed`, or with an error message if the request is refused.
 */
export class JobService {
  private registration: ProtocolRegistration | undefined;
  private readonly listeners = new Map<string, Set<(e: StoredEvent) => void>>();
  private unsubscribe: (() => void) | undefined;
  private followers = 0;
  private readonly followersOfJob = new Map<string, number>();

  constructor(
    private readonly components: JobProtocolComponents,
    private readonly init: JobProtocolInit = {},
  ) {}

  get activeFollowers(): number {
    return this.followers;
  }

  async start(): Promise<void> {
    const { store, log } = this.components;
    this.unsubscribe = store.onEvent((e) => {
      for (const l of this.listeners.get(e.jobId) ?? []) l(e);
    });
    this.registration = await handleProtocol(
      this.components.node,
      PROTOCOL,
      async (stream, ctx) => {
        const req = await stream.read(JobRequest, { timeout: FIRST_MESSAGE_TIMEOUT });
        const peer = ctx.remotePeer.toString();
        try {
          await this.serve(stream, req, peer, ctx.signal);
        } catch (err) {
          await answerRefusal(stream, err);
        }
      },
      // Long-lived: a job stream lasts as long as the job.
      {
        timeout: 0,
        maxStreamsPerPeer: this.init.maxStreamsPerPeer ?? MAX_STREAMS_PER_PEER,
        maxMessageBytes: MAX_MESSAGE_BYTES,
        logger: log,
      },
    );
  }

  private async serve(stream: MessageStream, req: JobRequestMessage, peer: string, signal: AbortSignal): Promise<void> {
    const { store } = this.components;
    let jobId: string;
    let fromSeq = 0;
    if (req.type === "submit") {
      this.admitFollower(req.jobId);
      try {
        const { job, fresh } = await this.components.submit(req, peer, { signal });
        jobId = job.jobId;
        if (fresh) this.components.onAccepted(jobId);
      } catch (err) {
        this.releaseFollower(req.jobId);
        throw err;
      }
    } else {
      const job = store.getJob(req.jobId);
      if (!job) throw new RefusalError("UNKNOWN_JOB", `This coordinator has no job ${req.jobId}.`);
      jobId = job.jobId;
      const authorized = await this.components.authorized(job, peer, req.auth, { signal });
      if (req.type === "segments") {
        // Public: statuses and verified copies. The attempts (who tried, how it ended) only for the job's client.
        if (req.auth && !authorized) throw notClient(job, peer, req.auth, "segments query");
        await stream.write(this.segmentsPage(job, req.from, authorized), { signal });
        return;
      }
      if (req.type === "cancel") {
        if (!authorized) throw notClient(job, peer, req.auth, "cancel");
        // Answer with the events from the cancel on (or the final one of a
        // job that had already ended), without taking a follower slot.
        const from = job.status === "running" ? job.nextSeq - 1 : job.nextSeq - 2;
        if (job.status === "running") this.components.cancel(jobId);
        for (const e of store.events(jobId, Math.max(0, from), REPLAY_BATCH)) await stream.write(e, { signal });
        return;
      } else if (!authorized) {
        if (req.auth) throw notClient(job, peer, req.auth, "watch");
        await stream.write(this.summary(job));
        return;
      } else {
        this.admitFollower(jobId);
        if (req.type === "watch") fromSeq = req.fromSeq;
      }
    }
    try {
      await this.follow(stream, jobId, fromSeq, signal);
    } finally {
      this.releaseFollower(jobId);
    }
  }

  /** Takes a follower slot for `jobId`, or throws BUSY. */
  private admitFollower(jobId: string): void {
    const id = jobId.toLowerCase();
    const perJob = this.followersOfJob.get(id) ?? 0;
    const retryAfterMs = this.init.busyRetryMs ?? 5_000;
    if (perJob >= (this.init.maxFollowersPerJob ?? MAX_FOLLOWERS_PER_JOB)) {
      throw new RefusalError(
        "BUSY",
        `Job ${id} already has ${perJob} streams following it; close one (a crashed client's old stream is dropped when its connection closes).`,
        { retryAfterMs },
      );
    }
    if (this.followers >= (this.init.maxFollowers ?? MAX_FOLLOWERS)) {
      throw new RefusalError("BUSY", "This coordinator is serving as many job streams as it can.", { retryAfterMs });
    }
    this.followersOfJob.set(id, perJob + 1);
    this.followers++;
  }

  private releaseFollower(jobId: string): void {
    const id = jobId.toLowerCase();
    const left = (this.followersOfJob.get(id) ?? 1) - 1;
    if (left > 0) this.followersOfJob.set(id, left);
    else this.followersOfJob.delete(id);
    this.followers--;
  }

  private summary(job: JobRow): JobSummary {
    const counts = this.components.store.segmentCounts(job.jobId);
    return {
      type: "job-summary",
      jobId: job.jobId as `0x${string}`,
      status: job.status,
      segments: job.segments,
      verified: counts.verified ?? 0,
      lastSeq: Math.max(0, job.nextSeq - 1),
    };
  }

  /** One page of the job's segments from `from`: status, tries, the verified copy, and (for its client) the attempts. */
  private segmentsPage(job: JobRow, from: number, withAttempts: boolean): JobSegments {
    const { store } = this.components;
    const rows = store.segments(job.jobId).filter((s) => s.index >= from);
    const page = rows.slice(0, JOB_SEGMENTS_PAGE);
    const attempts = store.attempts(job.jobId);
    const items = page.map((s) => {
      const mine = attempts.filter((a) => a.segment === s.index);
      const counted = s.verifiedAttempt === null ? undefined : mine.find((a) => a.id === s.verifiedAttempt);
      return {
        segment: s.index,
        status: s.status,
        tries: s.tries,
        ...(counted?.delivery ? { verified: { provider: counted.provider as `0x${string}`, cid: counted.delivery.delivery.cid } } : {}),
        ...(withAttempts
          ? {
              attempts: mine.slice(-JOB_SEGMENT_ATTEMPTS).map((a) => ({
                attempt: a.attempt,
                provider: a.provider as `0x${string}`,
                status: a.status,
                speculative: a.speculative,
                framesDone: a.framesDone,
                startedAt: a.startedAt,
                ...(a.finishedAt !== null ? { finishedAt: a.finishedAt } : {}),
                ...(a.delivery ? { cid: a.delivery.delivery.cid } : {}),
                ...(a.failCode ? { failCode: a.failCode } : {}),
                ...(a.failMessage ? { failMessage: a.failMessage.slice(0, 500) } : {}),
              })),
            }
          : {}),
      };
    });
    return {
      type: "job-segments",
      jobId: job.jobId as `0x${string}`,
      status: job.status,
      segments: job.segments,
      ...(job.failCode ? { failCode: job.failCode } : {}),
      ...(job.failMessage ? { failMessage: job.failMessage.slice(0, 2000) } : {}),
      lastSeq: Math.max(0, job.nextSeq - 1),
      items,
      ...(rows.length > page.length ? { next: page[page.length - 1]!.index + 1 } : {}),
    };
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.registration?.unhandle();
    this.registration = undefined;
  }

  /** Replays stored events after `fromSeq`, then forwards live ones until the job ends or the stream closes. */
  private async follow(stream: MessageStream, jobId: string, fromSeq: number, signal: AbortSignal): Promise<void> {
    const queue: StoredEvent[] = [];
    let wake: (() => void) | undefined;
    let overflow = false;
    const listener = (e: StoredEvent) => {
      if (queue.length >= (this.init.maxQueuedEvents ?? MAX_QUEUED_EVENTS)) overflow = true;
      else queue.push(e);
      wake?.();
    };
    let set = this.listeners.get(jobId);
    if (!set) this.listeners.set(jobId, (set = new Set()));
    set.add(listener);
    let closed = false;
    const onClose = () => {
      closed = true;
      wake?.();
    };
    stream.stream.addEventListener("close", onClose, { once: true });
    signal.addEventListener("abort", onClose, { once: true });
    try {
      let last = fromSeq;
      // Replay: what happened while the client was away.
      for (;;) {
        const batch = this.components.store.events(jobId, last, REPLAY_BATCH);
        for (const e of batch) {
          await stream.write(e, { signal });
          last = e.seq;
          if (FINAL.has(e.type)) return;
        }
        if (batch.length < REPLAY_BATCH) break;
      }
      // Live.
      while (!closed) {
        if (overflow) {
          stream.abort(new Error("client too slow to follow the job's events"));
          return;
        }
        const e = queue.shift();
        if (!e) {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (e.seq <= last) continue;
        await stream.write(e, { signal });
        last = e.seq;
        if (FINAL.has(e.type)) return;
      }
    } finally {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(jobId);
      stream.stream.removeEventListener("close", onClose);
      signal.removeEventListener("abort", onClose);
    }
  }
}

function notClient(job: JobRow, peer: string, auth: string | undefined, what: string): RefusalError {
  return new RefusalError(
    "NOT_JOB_CLIENT",
    auth
      ? `The auth signature on this ${what} is not by job ${job.jobId}'s client ${job.client} for peer ${peer}.`
      : `A ${what} of job ${job.jobId} must carry auth: its client's signature for peer ${peer}.`,
  );
}
