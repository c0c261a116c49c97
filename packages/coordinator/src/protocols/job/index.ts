import { answerRefusal, JobRequest, MAX_MESSAGE_BYTES, type Logger, type SubmitJob } from "@rendermesh/shared";
import { handleProtocol, type MessageStream, type ProtocolHost, type ProtocolRegistration } from "@rendermesh/shared/net";
import { RefusalError } from "../../errors.js";
import type { CoordinatorStore, JobRow, StoredEvent } from "../../store/index.js";
import { FIRST_MESSAGE_TIMEOUT, MAX_FOLLOWERS, MAX_QUEUED_EVENTS, MAX_STREAMS_PER_PEER, PROTOCOL, REPLAY_BATCH } from "./constants.js";

export interface JobProtocolInit {
  maxStreamsPerPeer?: number;
  maxFollowers?: number;
  maxQueuedEvents?: number;
  busyRetryMs?: number;
}

export interface JobProtocolComponents {
  node: ProtocolHost;
  store: CoordinatorStore;
  /** Intake: checks and records a submission; throws RefusalError. */
  submit: (msg: SubmitJob, peer: string, options: { signal: AbortSignal }) => Promise<{ job: JobRow; fresh: boolean }>;
  /** Called when a new job was accepted. */
  onAccepted: (jobId: string) => void;
  log: Logger;
}

const FINAL = new Set(["job-complete", "job-failed"]);

/**
 * `/rendermesh/job`: the first message is `submit` (intake runs, then the
 * job's events stream) or `watch` (events after `fromSeq` are replayed from
 * the store, then live ones follow). The stream ends after `job-complete`
 * or `job-failed`, or with an error message if the job is refused.
 */
export class JobService {
  private registration: ProtocolRegistration | undefined;
  private readonly listeners = new Map<string, Set<(e: StoredEvent) => void>>();
  private unsubscribe: (() => void) | undefined;
  private followers = 0;

  constructor(private readonly components: JobProtocolComponents, private readonly init: JobProtocolInit = {}) {}

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
        if (this.followers >= (this.init.maxFollowers ?? MAX_FOLLOWERS)) {
          await answerRefusal(stream, new RefusalError("BUSY", "This coordinator is serving as many job streams as it can.", { retryAfterMs: this.init.busyRetryMs ?? 5_000 }));
          return;
        }
        this.followers++;
        try {
          let jobId: string;
          let fromSeq = 0;
          if (req.type === "submit") {
            try {
              const { job, fresh } = await this.components.submit(req, peer, { signal: ctx.signal });
              jobId = job.jobId;
              if (fresh) this.components.onAccepted(jobId);
            } catch (err) {
              await answerRefusal(stream, err);
              return;
            }
          } else {
            const job = store.getJob(req.jobId);
            if (!job) {
              await answerRefusal(stream, new RefusalError("UNKNOWN_JOB", `This coordinator has no job ${req.jobId}.`));
              return;
            }
            jobId = job.jobId;
            fromSeq = req.fromSeq;
          }
          await this.follow(stream, jobId, fromSeq, ctx.signal);
        } finally {
          this.followers--;
        }
      },
      // Long-lived: a job stream lasts as long as the job.
      { timeout: 0, maxStreamsPerPeer: this.init.maxStreamsPerPeer ?? MAX_STREAMS_PER_PEER, maxMessageBytes: MAX_MESSAGE_BYTES, logger: log },
    );
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
