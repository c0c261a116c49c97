import { join } from "node:path";
import { getAddress } from "ethers";
import { isRetryable, type JobEvent } from "@rendermesh/shared";
import type { RendermeshClient } from "../client.js";
import { resumeJournalled, sendJournalled } from "../chain/tx.js";
import type { JobFailedError} from "../errors.js";
import { ChainError, JobStateError, NetworkError, PeerRefusedError } from "../errors.js";
import { progress, type JobProgressEvent, type ProgressOptions } from "../events.js";
import type { JournalJob } from "../journal/journal.js";
import type { DeliveredSegment } from "../verify/types.js";
import { assembleVideo, writeFileAtomic, type AssembleVideoReturnType } from "./assembleVideo.js";
import { credentialVideo } from "./credentialVideo.js";
import { getJob } from "./getJob.js";
import { completeOpen } from "./openJob.js";
import type { Payments } from "./payments.js";
import { reportVerdict } from "./reportVerdict.js";
import { sendVoucher } from "./sendVoucher.js";
import { settleJob } from "./settleJob.js";
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

  if (job.phase === "closed") throw new JobStateError(`Job ${jobId} was refused by the coordinator and closed${job.failure ? `: ${job.failure}` : ""}.`);
  if (job.phase === "open" || job.phase === "submitted") {
    job = await follow(client, job, onChain.coordinator, params, emit);
  }

  // Complete (or failed): join what was verified, settle once, write the manifest.
  let video: AssembleVideoReturnType | undefined;
  let assemblyError: unknown;
  const failed = job.phase === "failed" || job.failure !== undefined;
  const complete = !failed && client.journal.verifiedSegments(job.ref).length === job.spec.seconds;
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
  const settled = await settleJob(client, { jobId: job.ref, onProgress: params.onProgress });
  if (settled.alreadySettled) emit(progress("settle:skipped", { reason: "the job was already settled" }));
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
  const { path } = await writeManifest(client, { jobId: job.ref, payments: settled.payments, video, status: failed ? "failed" : "settled" });
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
    throw new JobStateError(`The open transaction ${tx.hash} of this job was never mined (its nonce was used by another transaction); no deposit was taken.`, {
      hint: "Submit the job again with `rendermesh job submit`.",
    });
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
  const maxReconnects = params.reconnects ?? 5;
  let failures = 0;
  let lastError: unknown;
  const addrs = job.coordinatorPeer.multiaddrs.length > 0 ? job.coordinatorPeer.multiaddrs : client.coordinator;

  while (failures <= maxReconnects) {
    params.signal?.throwIfAborted();
    const submitting = job.phase === "open";
    try {
      const stream = submitting
        ? await submitJob(client, { jobId, spec: job.spec, coordinator: addrs, signal: params.signal, idleTimeoutMs: params.idleTimeoutMs })
        : await watchJob(client, { jobId, fromSeq: job.lastSeq, coordinator: addrs, signal: params.signal, idleTimeoutMs: params.idleTimeoutMs });
      if (!submitting) emit(progress("job:submitted", { jobId, segments: job.spec.seconds, resumed: true }));
      for await (const event of stream) {
        if (job.phase === "open") {
          job = client.journal.setPhase(job.ref, "submitted", { submittedAt: Date.now() });
          emit(progress("job:submitted", { jobId, segments: job.spec.seconds, resumed: false }));
        }
        failures = 0;
        if (event.seq <= job.lastSeq) continue;
        await apply(client, job, coordinator, event, params, emit);
        client.journal.setLastSeq(job.ref, event.seq);
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
          await sleep(err.retryAfterMs ?? 1000 * 2 ** Math.min(failures, 5), params.signal);
          continue;
        }
        if (submitting) {
          await closeRefused(client, job, err, emit);
        }
        throw err;
      }
      if (!(err instanceof NetworkError)) throw err;
      failures++;
      lastError = err;
      client.logger.warn({ err: err.shortMessage, failures }, "job stream broke; reconnecting");
      await sleep(500 * 2 ** Math.min(failures, 5), params.signal);
    }
  }
  throw lastError instanceof Error ? lastError : new NetworkError("Lost the coordinator.");
}

/**
 * A refused job: settle it with nobody listed, then report the refusal. Nothing proves on-chain that nobody
 * rendered, so the deposit returns with `refundJob` once the challenge window this starts has passed.
 */
async function closeRefused(client: RendermeshClient, job: JournalJob, err: PeerRefusedError, emit: (e: JobProgressEvent) => void): Promise<void> {
  const onChain = await getJob(client, { jobId: job.jobId! });
  if (onChain.status === "open") {
    const iface = client.contracts.escrow.interface;
    await sendJournalled(
      { to: client.deployment.escrow, data: iface.encodeFunctionData("settle", [job.jobId!, []]) },
      { journal: client.journal, ref: job.ref, kind: "settle", wallet: client.wallet, iface, onSigned: (hash) => emit(progress("settle:sent", { txHash: hash })) },
    );
  }
  client.journal.setPhase(job.ref, "closed", { failure: `${err.reason}: ${err.shortMessage}`, settledAt: Date.now() });
}

/** Applies one coordinator event. Idempotent: a replayed event changes nothing twice. */
async function apply(
  client: RendermeshClient,
  job: JournalJob,
  coordinator: string,
  event: JobEvent,
  params: RunJobParameters,
  emit: (e: JobProgressEvent) => void,
): Promise<void> {
  switch (event.type) {
    case "job-accepted":
      emit(progress("job:accepted", { jobId: job.jobId!, segments: event.segments }));
      return;
    case "segment-assigned":
      emit(progress("segment:assigned", { segment: event.segment, provider: getAddress(event.assignment.provider), attempt: event.attempt, speculative: event.speculative }));
      return;
    case "segment-progress":
      emit(progress("segment:progress", { segment: event.segment, provider: getAddress(event.provider), framesDone: event.framesDone, frameCount: event.frameCount }));
      return;
    case "segment-failed":
      emit(progress("segment:failed", { segment: event.segment, provider: getAddress(event.provider), code: event.code, message: event.message, willRetry: event.willRetry }));
      return;
    case "segment-delivered":
      await onDelivered(client, job, coordinator, event, params, emit);
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
      // A replay of a segment verified before a restart: make sure the coordinator and the provider heard.
      await report(client, job, { segment: event.segment, provider, cid, ok: true }, params);
      await deliverVoucher(client, job, provider, event, params, emit);
    } else {
      emit(progress("segment:duplicate", { segment: event.segment, provider, cid }));
    }
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
    client.journal.addRejection(job.ref, { segment: event.segment, provider, cid, check: result.failure.check, message: result.failure.message, at: Date.now() });
    emit(progress("segment:rejected", { segment: event.segment, provider, cid, check: result.failure.check, message: result.failure.message }));
    await report(client, job, { segment: event.segment, provider, cid, ok: false, check: result.failure.check, message: result.failure.message }, params);
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
    if (added) client.journal.putVoucher(job.ref, { provider, seconds, signature, signedAt: Date.now(), ackedAt: undefined });
  });
  emit(progress("segment:verified", { segment: event.segment, provider, cid, psnrDb: result.psnrDb, verifyMs: result.timings.totalMs }));
  emit(progress("voucher:signed", { provider, seconds }));
  await report(client, job, { segment: event.segment, provider, cid, ok: true }, params);
  await deliverVoucher(client, job, provider, event, params, emit);
}

/** Reports a verdict, retrying a few times; a coordinator that will not listen does not stop the job (it resends). */
async function report(
  client: RendermeshClient,
  job: JournalJob,
  v: { segment: number; provider: string; cid: string; ok: boolean; check?: DeliveredSegmentCheck; message?: string },
  params: RunJobParameters,
): Promise<void> {
  const addrs = job.coordinatorPeer.multiaddrs.length > 0 ? job.coordinatorPeer.multiaddrs : client.coordinator;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      await reportVerdict(client, { verdict: { jobId: job.jobId!, ...v, provider: v.provider as `0x${string}` }, coordinator: addrs, signal: params.signal });
      return;
    } catch (err) {
      params.signal?.throwIfAborted();
      // A refusal (e.g. the verdict is for a copy no longer current) is final; a network error is retried.
      if (err instanceof PeerRefusedError) {
        client.logger.debug({ err: err.shortMessage, segment: v.segment }, "verdict refused");
        return;
      }
      client.logger.warn({ err: (err as Error).message, segment: v.segment, attempt }, "could not report a verdict");
      await sleep(300 * attempt, params.signal);
    }
  }
}
type DeliveredSegmentCheck = "fetch" | "sha256" | "signature" | "decode" | "frames" | "content";

/** Sends the provider its latest voucher (best effort: settle pays it anyway). */
async function deliverVoucher(client: RendermeshClient, job: JournalJob, provider: string, event: DeliveredEvent, params: RunJobParameters, emit: (e: JobProgressEvent) => void): Promise<void> {
  const v = client.journal.voucher(job.ref, provider);
  if (!v || v.ackedAt !== undefined) return;
  try {
    const answer = await sendVoucher(client, { jobId: job.jobId!, provider, seconds: v.seconds, signature: v.signature, multiaddrs: event.multiaddrs, peerId: event.peerId, signal: params.signal });
    client.journal.markVoucherAcked(job.ref, provider, v.seconds, Date.now(), answer.acknowledgement);
    emit(progress("voucher:sent", { provider, seconds: v.seconds, acknowledged: true }));
  } catch (err) {
    params.signal?.throwIfAborted();
    emit(progress("voucher:sent", { provider, seconds: v.seconds, acknowledged: false, error: (err as Error).message }));
  }
}
