import { join } from "node:path";
import { getAddress } from "ethers";
import { isRetryable, type JobEvent } from "@rendermesh/shared";
import type { RendermeshClient } from "../client.js";
import { resumeJournalled, sendJournalled } from "../chain/tx.js";
import type { JobFailedError } from "../errors.js";
import { ChainError, JobStateError, NetworkError, PeerRefusedError } from "../errors.js";
import { progress, type JobProgressEvent, type ProgressOptions } from "../events.js";
import type { JournalJob, VerdictRecord } from "../journal/journal.js";
import type { DeliveredSegment } from "../verify/types.js";
import { assembleVideo, writeFileAtomic, type AssembleVideoReturnType } from "./assembleVideo.js";
import { credentialVideo } from "./credentialVideo.js";
import { getJob } from "./getJob.js";
import { completeOpen } from "./openJob.js";
import type { Payments } from "./payments.js";
import { reportVerdict } from "./reportVerdict.js";
import { sendVoucher } from "./sendVoucher.js";
import { settleJob } from "./settleJob.js";
import { attributeClaims } from "./attributeClaims.js";
import { signVoucher } from "./signVoucher.js";
import { submitJob } from "./submitJob.js";
import { verifySegment } from "./verifySegment.js";
import { watchJob } from "./watchJob.js";
import { writeManifest } from "./writeManifest.js";

export interface RunJobParameters extends ProgressOptions {
  /** The job's escrow id or journal ref (the open transaction's hash). */
  jobId: string;
  signal?: AbortSignal | undefined;
  /** Reconnects to the coordinator before giving up (default 5). */
  reconnects?: number | undefined;
  /** Idle time after which a silent event stream is re-opened (default 2 min). */
  idleTimeoutMs?: number | undefined;
  /** Segments verified at once (default 4); a frozen provider's segment holds one slot, never all. */
  verifyConcurrency?: number | undefined;
}

export interface RunJobReturnType {
  jobId: `0x${string}`;
  status: "settled" | "failed";
  video: AssembleVideoReturnType | undefined;
  manifestPath: string;
  settleTx: `0x${string}`;
  payments: Payments;
  /** Segments verified and paid, and deliveries rejected. */
  verified: number;
  rejected: number;
  /** Segments not verified (empty when the job completed), and why the network gave up on them. */
  missing: number[];
  failure: string | undefined;
  gasUsed: { open: bigint | undefined; settle: bigint };
}

export type RunJobErrorType = PeerRefusedError | NetworkError | ChainError | JobStateError | JobFailedError;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(t), reject(signal.reason as Error)), { once: true });
  });

/**
 * Takes an opened job to the end, from wherever the journal says it is:
 * submits it (or, after a restart, replays the coordinator's events after
 * the last one applied), verifies every delivered segment, reports each
 * verdict, signs and sends a cumulative voucher for each verified second,
 * then joins the video, settles once, embeds the video's Content
 * Credentials (naming the settle transaction), and writes the manifest. Every step
 * is journalled first, so running it again after a crash at any point
 * continues the job without paying twice or losing a verified segment.
 *
 * A job the coordinator refuses is closed at once (`settle` with no
 * providers refunds the whole deposit) and the refusal is thrown. A job
 * that fails on the network is settled for what was verified, and the
 * result has `status: "failed"`.
 *
 * @example
 * const result = await runJob(client, { jobId, onProgress: (e) => console.log(e.type) });
 * console.log(result.video?.path, result.manifestPath);
 */
/** One `attributeClaims` pass; a failure is logged, never the run's end (the claim window stays open for a retry). */
async function attributeQuietly(client: RendermeshClient, jobId: `0x${string}`): Promise<void> {
  try {
    const r = await attributeClaims(client, { jobId });
    for (const a of r.attributed)
      client.logger.info({ jobId, segment: a.segment, provider: a.provider, dropped: a.dropped, tx: a.txHash }, "segment attributed");
    for (const w of r.waiting)
      client.logger.warn(
        { jobId, segment: w.segment, claimant: w.claimant, reason: w.reason },
        "claim on a verified segment not attributable yet",
      );
  } catch (err) {
    client.logger.warn({ jobId, err: (err as Error).message }, "attributing claims failed");
  }
}

export async function runJob(client: RendermeshClient, params: RunJobParameters): Promise<RunJobReturnType> {
  const emit = (e: JobProgressEvent) => params.onProgress?.(e);
  let job = client.journal.getJob(params.jobId);
  if (job.phase === "opening") job = await finishOpening(client, job);
  const jobId = job.jobId!;

  const onChain = await getJob(client, { jobId });
  if (onChain.status === "refunded") throw new JobStateError(`Job ${jobId} was refunded; there is nothing left to run.`);
  if (onChain.status === "settled" && !["settled", "settling", "assembled", "complete", "failed", "closed"].includes(job.phase)) {
    // Settled from elsewhere: record it, and finish the paperwork below.
    job = client.journal.setPhase(job.ref, "complete");
  }

  if (job.phase === "closed")
    throw new JobStateError(`Job ${jobId} was refused by the coordinator and closed${job.failure ? `: ${job.failure}` : ""}.`);
  if (job.phase === "open" || job.phase === "submitted") {
    job = await follow(client, job, onChain.coordinator, params, emit);
  }

  // Complete (or failed): join what was verified, settle once, write the manifest.
  let video: AssembleVideoReturnType | undefined;
  let assemblyError: unknown;
  // Every segment verified is a complete video, whatever the coordinator said about the job.
  const complete = client.journal.verifiedSegments(job.ref).length === job.spec.seconds;
  const failed = !complete && (job.phase === "failed" || job.failure !== undefined);
  if (complete) {
    try {
      video = await assembleVideo(client, { jobId: job.ref, signal: params.signal });
      emit(progress("video:assembled", { path: video.path, cid: video.cid, bytes: video.bytes }));
      if (job.phase === "complete") job = client.journal.setPhase(job.ref, "assembled");
    } catch (err) {
      // Providers are owed for verified seconds whatever happens on this disk: settle anyway.
      assemblyError = err;
    }
  }
  params.signal?.throwIfAborted();
  // A speculative copy's provider may have claimed a segment this client verified from another provider and paid by
  // voucher: attribute it first (its reserved second would otherwise stand in the settle's way), and again once a
  // settle has recorded the providers' seconds (a closing job's claims are still open).
  await attributeQuietly(client, jobId);
  // (Only while the job is open: once settled, from here or elsewhere, an acknowledgement changes nothing.)
  if ((await getJob(client, { jobId })).status === "open") await acknowledgeVouchers(client, job, params, emit);
  const settled = await settleJob(client, { jobId: job.ref, onProgress: params.onProgress });
  if (settled.alreadySettled) emit(progress("settle:skipped", { reason: "the job was already settled" }));
  if (settled.payments.closing) await attributeQuietly(client, jobId);
  if (assemblyError) throw assemblyError;
  let credentialError: unknown;
  if (video) {
    // Signed after the settle, so the credentials can name the transaction that paid for the video.
    try {
      const signed = await credentialVideo(client, { jobId: job.ref, video, settleTx: settled.txHash, signal: params.signal });
      video = signed;
      emit(progress("video:credentialed", { path: signed.path, cid: signed.cid, signer: signed.signer }));
    } catch (err) {
      // The job is paid for: write its manifest anyway; `job resume` signs the video again.
      credentialError = err;
    }
  }
  const { path } = await writeManifest(client, {
    jobId: job.ref,
    payments: settled.payments,
    video,
    status: failed ? "failed" : "settled",
  });
  emit(progress("manifest:written", { path }));
  if (credentialError) throw credentialError;
  job = client.journal.getJob(job.ref);
  return {
    jobId,
    status: failed ? "failed" : "settled",
    video,
    manifestPath: path,
    settleTx: settled.txHash,
    payments: settled.payments,
    verified: client.journal.verifiedSegments(job.ref).length,
    rejected: client.journal.rejections(job.ref).length,
    missing: missingSegments(client, job),
    failure: failed ? job.failure : undefined,
    gasUsed: { open: client.journal.lastTx(job.ref, "open")?.gasUsed, settle: settled.gasUsed },
  };
}

/** A job whose open transaction was journalled but whose receipt was never seen. */
async function finishOpening(client: RendermeshClient, job: JournalJob): Promise<JournalJob> {
  const tx = client.journal.lastTx(job.ref, "open");
  if (!tx) throw new JobStateError(`Job ${job.ref} has no open transaction in the journal.`);
  const receipt = await resumeJournalled(tx, client.wallet, client.journal, { iface: client.contracts.escrow.interface });
  if (!receipt) {
    // The predicted job id was never taken: free it for the next open.
    client.journal.setPhase(job.ref, "failed", { failure: "the open transaction was replaced and never mined", jobId: undefined });
    throw new JobStateError(
      `The open transaction ${tx.hash} of this job was never mined (its nonce was used by another transaction); no deposit was taken.`,
      {
        hint: "Submit the job again with `rendermesh job submit`.",
      },
    );
  }
  if (receipt.status !== 1) {
    client.journal.setPhase(job.ref, "failed", { failure: "the open transaction reverted", jobId: undefined });
    throw new ChainError(`The open transaction ${tx.hash} reverted; no deposit was taken.`);
  }
  return completeOpen(client, job.ref, receipt);
}

/** Submits or watches the job and applies its events until it completes or fails. */
async function follow(
  client: RendermeshClient,
  initial: JournalJob,
  coordinator: string,
  params: RunJobParameters,
  emit: (e: JobProgressEvent) => void,
): Promise<JournalJob> {
  let job = initial;
  const jobId = job.jobId!;
  const maxReconnects = params.reconnects ?? 60;
  let failures = 0;
  let lastError: unknown;
  const addrs = job.coordinatorPeer.multiaddrs.length > 0 ? job.coordinatorPeer.multiaddrs : client.coordinator;
  const cursor = new EventCursor(client, job.ref, job.lastSeq);
  const pool = new VerifyPool(params.verifyConcurrency ?? 4);

  while (failures <= maxReconnects) {
    params.signal?.throwIfAborted();
    const submitting = job.phase === "open";
    try {
      const stream = submitting
        ? await submitJob(client, { jobId, spec: job.spec, coordinator: addrs, signal: params.signal, idleTimeoutMs: params.idleTimeoutMs })
        : await watchJob(client, {
            jobId,
            fromSeq: cursor.committed,
            coordinator: addrs,
            signal: params.signal,
            idleTimeoutMs: params.idleTimeoutMs,
          });
      if (!submitting) emit(progress("job:submitted", { jobId, segments: job.spec.seconds, resumed: true }));
      // The coordinator answers again: whatever it has not acknowledged yet goes first (at least once).
      if (!submitting) pool.background(() => flushVerdicts(client, job, params));
      for await (const event of stream) {
        if (job.phase === "open") {
          job = client.journal.setPhase(job.ref, "submitted", { submittedAt: Date.now() });
          emit(progress("job:submitted", { jobId, segments: job.spec.seconds, resumed: false }));
        }
        failures = 0;
        pool.throwIfFailed();
        // Seen already in this run (applied, or being verified right now): a replay after a reconnect.
        if (event.seq <= cursor.highest) continue;
        if (event.type === "segment-delivered") {
          const k = `${event.segment}/${event.delivery.delivery.cid}`;
          cursor.begin(event.seq);
          await pool.run(
            k,
            () => onDelivered(client, job, coordinator, event, params, emit),
            () => cursor.end(event.seq),
          );
          continue;
        }
        cursor.begin(event.seq);
        await apply(client, job, event, emit);
        if (event.type === "job-complete" || event.type === "job-failed") {
          // Verifications still running finish (and are journalled) before the job is closed.
          await pool.drain();
        }
        cursor.end(event.seq);
        job = client.journal.getJob(job.ref);
        if (event.type === "job-complete") {
          emit(progress("job:complete", { jobId }));
          return client.journal.setPhase(job.ref, "complete", { completedAt: Date.now() });
        }
        if (event.type === "job-failed") {
          return client.journal.setPhase(job.ref, "failed", { completedAt: Date.now(), failure: `${event.code}: ${event.message}` });
        }
      }
      // The stream ended without the job ending: follow it again.
      lastError = new NetworkError("The coordinator closed the job stream before the job ended.");
      failures++;
    } catch (err) {
      params.signal?.throwIfAborted();
      if (err instanceof PeerRefusedError) {
        if (!submitting && err.reason === "UNKNOWN_JOB") {
          // The coordinator lost the job (or never got it): submit it again.
          job = client.journal.setPhase(job.ref, "open");
          failures++;
          lastError = err;
          continue;
        }
        if (isRetryable(err.reason)) {
          failures++;
          lastError = err;
          await sleep(err.retryAfterMs ?? backoff(failures), params.signal);
          continue;
        }
        if (submitting) {
          await pool.drain().catch(() => undefined);
          await closeRefused(client, job, err, emit);
        }
        throw err;
      }
      if (!(err instanceof NetworkError)) {
        await pool.drain().catch(() => undefined);
        throw err;
      }
      failures++;
      lastError = err;
      client.logger.warn({ err: err.shortMessage, failures }, "job stream broke; reconnecting");
      await sleep(backoff(failures), params.signal);
    }
  }
  await pool.drain().catch(() => undefined);
  throw missingError(client, job, lastError);
}

/** Reconnect backoff: quick at first, never more than 2 s apart, so a restarted coordinator is found again within 2 s. */
const backoff = (failures: number) => Math.min(250 * 2 ** Math.min(failures, 4), 2000);

/** What a job still lacks, said exactly, when the coordinator cannot be reached any more. */
function missingError(client: RendermeshClient, job: JournalJob, cause: unknown): NetworkError {
  const missing = missingSegments(client, job);
  const verified = { size: job.spec.seconds - missing.length };
  const unacked = client.journal.unackedVerdicts(job.ref).length;
  return new NetworkError(
    `Lost the coordinator with ${verified.size} of ${job.spec.seconds} segments verified; missing segment${missing.length === 1 ? "" : "s"} ${formatList(missing)}${unacked > 0 ? `, and ${unacked} verdict${unacked === 1 ? "" : "s"} not yet acknowledged` : ""}.`,
    {
      cause,
      hint: `Nothing is lost: run \`rendermesh job resume ${job.jobId}\` when the coordinator answers again.`,
    },
  );
}

function missingSegments(client: RendermeshClient, job: JournalJob): number[] {
  const verified = new Set(client.journal.verifiedSegments(job.ref).map((s) => s.segment));
  const missing: number[] = [];
  for (let i = 0; i < job.spec.seconds; i++) if (!verified.has(i)) missing.push(i);
  return missing;
}

const formatList = (xs: number[]) => (xs.length <= 20 ? xs.join(", ") : `${xs.slice(0, 20).join(", ")} … (${xs.length} in all)`);

/**
 * The journal's event cursor. Deliveries are verified in parallel, so an
 * event counts as applied only when every event before it is applied too:
 * `committed` (what is journalled, and where a watch resumes) is the highest
 * sequence number below which nothing is still being verified. A client
 * killed mid-verification replays that delivery instead of skipping it.
 */
class EventCursor {
  highest: number;
  committed: number;
  private readonly open = new Set<number>();
  constructor(
    private readonly client: RendermeshClient,
    private readonly ref: string,
    start: number,
  ) {
    this.highest = start;
    this.committed = start;
  }
  begin(seq: number): void {
    this.open.add(seq);
    this.highest = Math.max(this.highest, seq);
  }
  end(seq: number): void {
    this.open.delete(seq);
    const next = this.open.size === 0 ? this.highest : Math.min(...this.open) - 1;
    if (next > this.committed) {
      this.committed = next;
      this.client.journal.setLastSeq(this.ref, next);
    }
  }
}

/**
 * Runs segment verifications side by side, at most `limit` at once: one
 * segment from a dead or frozen provider holds one slot until its fetch times
 * out, never the others. The same delivery is never verified twice at once.
 */
class VerifyPool {
  private readonly tasks = new Set<Promise<void>>();
  private readonly keys = new Set<string>();
  private error: unknown;
  constructor(private readonly limit: number) {}

  /** Starts `fn` when a slot is free (waits for one); `done` runs when it ends, however it ends. */
  async run(key: string, fn: () => Promise<void>, done: () => void): Promise<void> {
    if (this.keys.has(key)) {
      done();
      return;
    }
    while (this.keys.size >= this.limit) await Promise.race(this.tasks);
    this.throwIfFailed();
    this.keys.add(key);
    const task: Promise<void> = fn()
      .then(done, (err: unknown) => {
        this.error ??= err;
      })
      .finally(() => {
        this.keys.delete(key);
        this.tasks.delete(task);
      });
    this.tasks.add(task);
  }

  /** Work that takes no verification slot (resending verdicts). */
  background(fn: () => Promise<void>): void {
    const task: Promise<void> = fn()
      .catch((err: unknown) => {
        this.error ??= err;
      })
      .finally(() => this.tasks.delete(task));
    this.tasks.add(task);
  }

  throwIfFailed(): void {
    if (this.error !== undefined) throw this.error;
  }

  async drain(): Promise<void> {
    while (this.tasks.size > 0) await Promise.race(this.tasks);
    this.throwIfFailed();
  }
}

/** Resends every verdict the coordinator has not acknowledged; stops at the first one it cannot deliver (the next reconnect retries). */
async function flushVerdicts(client: RendermeshClient, job: JournalJob, params: RunJobParameters): Promise<void> {
  for (const v of client.journal.unackedVerdicts(job.ref)) {
    if (!(await report(client, job, v, params))) return;
  }
}

/**
 * A refused job: settle it with nobody listed, then report the refusal. Nothing proves on-chain that nobody
 * rendered, so the deposit returns with `refundJob` once the challenge window this starts has passed.
 */
async function closeRefused(
  client: RendermeshClient,
  job: JournalJob,
  err: PeerRefusedError,
  emit: (e: JobProgressEvent) => void,
): Promise<void> {
  const onChain = await getJob(client, { jobId: job.jobId! });
  if (onChain.status === "open") {
    const iface = client.contracts.escrow.interface;
    await sendJournalled(
      { to: client.deployment.escrow, data: iface.encodeFunctionData("settle", [job.jobId!, []]) },
      {
        journal: client.journal,
        ref: job.ref,
        kind: "settle",
        wallet: client.wallet,
        iface,
        onSigned: (hash) => emit(progress("settle:sent", { txHash: hash })),
      },
    );
  }
  client.journal.setPhase(job.ref, "closed", { failure: `${err.reason}: ${err.shortMessage}`, settledAt: Date.now() });
}

/** Applies one coordinator event. Idempotent: a replayed event changes nothing twice. */
async function apply(client: RendermeshClient, job: JournalJob, event: JobEvent, emit: (e: JobProgressEvent) => void): Promise<void> {
  switch (event.type) {
    case "job-accepted":
      emit(progress("job:accepted", { jobId: job.jobId!, segments: event.segments }));
      return;
    case "segment-assigned":
      emit(
        progress("segment:assigned", {
          segment: event.segment,
          provider: getAddress(event.assignment.provider),
          attempt: event.attempt,
          speculative: event.speculative,
        }),
      );
      return;
    case "segment-progress":
      emit(
        progress("segment:progress", {
          segment: event.segment,
          provider: getAddress(event.provider),
          framesDone: event.framesDone,
          frameCount: event.frameCount,
        }),
      );
      return;
    case "segment-failed":
      emit(
        progress("segment:failed", {
          segment: event.segment,
          provider: getAddress(event.provider),
          code: event.code,
          message: event.message,
          willRetry: event.willRetry,
        }),
      );
      return;
    default:
      return;
  }
}

type DeliveredEvent = Extract<JobEvent, { type: "segment-delivered" }>;

async function onDelivered(
  client: RendermeshClient,
  job: JournalJob,
  coordinator: string,
  event: DeliveredEvent,
  params: RunJobParameters,
  emit: (e: JobProgressEvent) => void,
): Promise<void> {
  const jobId = job.jobId!;
  const provider = getAddress(event.assignment.assignment.provider);
  const cid = event.delivery.delivery.cid;
  const known = client.journal.verifiedSegment(job.ref, event.segment);
  if (known) {
    if (known.cid === cid && known.provider === provider.toLowerCase()) {
      // A replay (or the coordinator asking again) of a segment verified before: make sure the coordinator and the provider heard.
      const v = client.journal.verdict(job.ref, { segment: event.segment, provider, cid });
      await report(client, job, v ?? { segment: event.segment, provider, cid, ok: true, at: Date.now() }, params);
      await deliverVoucher(client, job, provider, event, params, emit);
    } else {
      emit(progress("segment:duplicate", { segment: event.segment, provider, cid }));
    }
    return;
  }
  const judged = client.journal.verdict(job.ref, { segment: event.segment, provider, cid });
  if (judged && !judged.ok) {
    // Rejected before: the coordinator is still waiting for that verdict.
    await report(client, job, judged, params);
    return;
  }
  emit(progress("segment:delivered", { segment: event.segment, provider, cid }));
  const delivered: DeliveredSegment = {
    jobId,
    segment: event.segment,
    peerId: event.peerId,
    multiaddrs: event.multiaddrs,
    assignment: event.assignment,
    delivery: event.delivery,
  };
  const deliveredAt = Date.now();
  const result = await verifySegment(client, { jobId, spec: job.spec, coordinator, segment: delivered, signal: params.signal });
  if (!result.ok) {
    const verdict = {
      segment: event.segment,
      provider,
      cid,
      ok: false,
      check: result.failure.check,
      message: result.failure.message,
      at: Date.now(),
    };
    client.journal.transaction(() => {
      client.journal.addRejection(job.ref, {
        segment: event.segment,
        provider,
        cid,
        check: result.failure.check,
        message: result.failure.message,
        at: verdict.at,
      });
      client.journal.putVerdict(job.ref, verdict);
    });
    emit(
      progress("segment:rejected", { segment: event.segment, provider, cid, check: result.failure.check, message: result.failure.message }),
    );
    await report(client, job, verdict, params);
    return;
  }

  const file = join(job.outDir, "segments", `${String(event.segment).padStart(5, "0")}.mp4`);
  await writeFileAtomic(file, result.bytes);
  const seconds = (client.journal.verifiedSecondsByProvider(job.ref).get(provider.toLowerCase()) ?? 0) + 1;
  const signature = await signVoucher(client, { jobId, provider, seconds });
  // The verified segment and the voucher it earns land together, or not at all.
  client.journal.transaction(() => {
    const added = client.journal.addVerified(job.ref, {
      segment: event.segment,
      provider: provider.toLowerCase(),
      peerId: event.peerId,
      multiaddrs: event.multiaddrs,
      cid,
      sha256: event.delivery.delivery.sha256,
      assignment: event.assignment,
      delivery: event.delivery,
      psnrDb: result.psnrDb,
      sampledFrames: result.sampledFrames,
      file,
      bytes: result.bytes.byteLength,
      deliveredAt,
      fetchMs: result.timings.fetchMs,
      verifyMs: result.timings.totalMs,
      verifiedAt: Date.now(),
    });
    if (added) {
      client.journal.putVoucher(job.ref, { provider, seconds, signature, signedAt: Date.now(), ackedAt: undefined });
      client.journal.putVerdict(job.ref, { segment: event.segment, provider, cid, ok: true, at: Date.now() });
    }
  });
  emit(progress("segment:verified", { segment: event.segment, provider, cid, psnrDb: result.psnrDb, verifyMs: result.timings.totalMs }));
  emit(progress("voucher:signed", { provider, seconds }));
  await report(client, job, { segment: event.segment, provider, cid, ok: true, at: Date.now() }, params);
  await deliverVoucher(client, job, provider, event, params, emit);
}

/**
 * Reports a journalled verdict once. The verdict stays in the journal's
 * outbox until the coordinator answers it, and is resent after every
 * reconnect and whenever the coordinator asks again (it re-announces a
 * segment whose verdict it waits for), so it is delivered at least once; the
 * coordinator counts a repeat once. A refusal is an answer too (the verdict
 * is for a copy no longer current): it is not resent. Returns whether the
 * coordinator answered.
 */
async function report(client: RendermeshClient, job: JournalJob, v: VerdictRecord, params: RunJobParameters): Promise<boolean> {
  const addrs = job.coordinatorPeer.multiaddrs.length > 0 ? job.coordinatorPeer.multiaddrs : client.coordinator;
  try {
    await reportVerdict(client, {
      verdict: {
        jobId: job.jobId!,
        segment: v.segment,
        provider: v.provider as `0x${string}`,
        cid: v.cid,
        ok: v.ok,
        ...(v.check ? { check: v.check } : {}),
        ...(v.message ? { message: v.message } : {}),
      },
      coordinator: addrs,
      signal: params.signal,
    });
  } catch (err) {
    params.signal?.throwIfAborted();
    // A coordinator that does not know the job (yet) has not heard the verdict either.
    if (!(err instanceof PeerRefusedError) || isRetryable(err.reason) || err.reason === "UNKNOWN_JOB") {
      client.logger.warn(
        { err: (err as Error).message, segment: v.segment },
        "could not report a verdict; it is resent when the coordinator answers again",
      );
      return false;
    }
    client.logger.debug({ err: err.shortMessage, segment: v.segment }, "verdict refused");
  }
  client.journal.ackVerdict(job.ref, v);
  return true;
}

/**
 * Sends the provider its latest voucher once. "acked": it answered (or had
 * already); "refused": it will not take it, and asking again changes
 * nothing; "unanswered": no answer came (a network failure, a lost
 * acknowledgement, a provider busy for now) and it is worth sending again.
 */
async function deliverVoucher(
  client: RendermeshClient,
  job: JournalJob,
  provider: string,
  event: Pick<DeliveredEvent, "multiaddrs" | "peerId">,
  params: RunJobParameters,
  emit: (e: JobProgressEvent) => void,
): Promise<"acked" | "refused" | "unanswered"> {
  const v = client.journal.voucher(job.ref, provider);
  if (!v || v.ackedAt !== undefined) return "acked";
  try {
    const answer = await sendVoucher(client, {
      jobId: job.jobId!,
      provider,
      seconds: v.seconds,
      signature: v.signature,
      multiaddrs: event.multiaddrs,
      peerId: event.peerId,
      signal: params.signal,
    });
    client.journal.markVoucherAcked(job.ref, provider, v.seconds, Date.now(), answer.acknowledgement);
    emit(progress("voucher:sent", { provider, seconds: v.seconds, acknowledged: true }));
    return "acked";
  } catch (err) {
    params.signal?.throwIfAborted();
    emit(progress("voucher:sent", { provider, seconds: v.seconds, acknowledged: false, error: (err as Error).message }));
    return err instanceof PeerRefusedError && !isRetryable(err.reason) ? "refused" : "unanswered";
  }
}

/** Sends of an unacknowledged voucher before the settle, and the wait before the second (doubling after each). */
const VOUCHER_RESEND_ATTEMPTS = 4;
const VOUCHER_RESEND_BACKOFF_MS = 250;

/**
 * Before the settle: each provider whose latest voucher has no answer yet
 * (its acknowledgement was lost, or it was unreachable when the segment was
 * verified) is sent it again, with backoff, until it answers, refuses, or
 * VOUCHER_RESEND_ATTEMPTS sends went unanswered. Its acknowledgement is what
 * lets the settle close the job at once instead of opening the challenge
 * window; a provider that never answers is still paid by the settle.
 */
async function acknowledgeVouchers(
  client: RendermeshClient,
  job: JournalJob,
  params: RunJobParameters,
  emit: (e: JobProgressEvent) => void,
): Promise<void> {
  // Where to reach each provider: the addresses of the last segment of its that was verified.
  const reach = new Map<string, Pick<DeliveredEvent, "multiaddrs" | "peerId">>();
  for (const s of client.journal.verifiedSegments(job.ref)) reach.set(s.provider.toLowerCase(), s);
  await Promise.all(
    client.journal
      .vouchers(job.ref)
      .filter((v) => v.ackedAt === undefined && reach.has(v.provider.toLowerCase()))
      .map(async (v) => {
        for (let attempt = 1; ; attempt++) {
          const outcome = await deliverVoucher(client, job, v.provider, reach.get(v.provider.toLowerCase())!, params, emit);
          if (outcome !== "unanswered" || attempt >= VOUCHER_RESEND_ATTEMPTS) return;
          await sleep(VOUCHER_RESEND_BACKOFF_MS * 2 ** (attempt - 1), params.signal);
        }
      }),
  );
}
