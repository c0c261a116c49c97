import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CID } from "multiformats/cid";
import { concatSegments } from "@rendermesh/shared/media";
import type { RendermeshClient } from "../client.js";
import { ClientError, JobStateError } from "../errors.js";
import type { VerifiedSegment } from "../journal/journal.js";

export interface AssembleVideoParameters {
  /** The job's escrow id or journal ref. */
  jobId: string;
  signal?: AbortSignal | undefined;
}

export interface AssembleVideoReturnType {
  path: string;
  /** CIDv1 of the video, pinned in the client's IPFS store. */
  cid: string;
  sha256: `0x${string}`;
  bytes: number;
  frames: number;
}

export type AssembleVideoErrorType = JobStateError | ClientError;

const sha256 = (bytes: Uint8Array) => `0x${createHash("sha256").update(bytes).digest("hex")}` as `0x${string}`;

/** Writes a file atomically (temp + rename), so a crash never leaves a torn file. */
export async function writeFileAtomic(path: string, bytes: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

/** A verified segment's local file, refetched by CID (and re-checked) if it went missing. */
export async function segmentFile(client: RendermeshClient, seg: VerifiedSegment, signal?: AbortSignal): Promise<string> {
  if (existsSync(seg.file) && sha256(await readFile(seg.file)) === seg.sha256) return seg.file;
  const { store } = await client.net();
  const bytes = await store.get(CID.parse(seg.cid), { signal });
  if (sha256(bytes) !== seg.sha256)
    throw new ClientError("SEGMENT_CHANGED", `Segment ${seg.segment} fetched again from IPFS does not match its receipt.`);
  await writeFileAtomic(seg.file, bytes);
  return seg.file;
}

/**
 * Joins the verified segments, in order, into one MP4 without re-encoding
 * (ffmpeg's concat demuxer with `-c copy`), pins it in the client's IPFS
 * store and records it in the journal.
 *
 * @example
 * const video = await assembleVideo(client, { jobId });
 * console.log(video.path, video.cid);
 */
export async function assembleVideo(client: RendermeshClient, params: AssembleVideoParameters): Promise<AssembleVideoReturnType> {
  const job = client.journal.getJob(params.jobId);
  const segments = client.journal.verifiedSegments(job.ref);
  const missing = Array.from({ length: job.spec.seconds }, (_, i) => i).filter((i) => !segments.some((s) => s.segment === i));
  if (missing.length > 0)
    throw new JobStateError(`Job ${job.jobId} has no verified segment ${missing.join(", ")}, so the video cannot be assembled.`);
  const files: string[] = [];
  for (const seg of segments) files.push(await segmentFile(client, seg, params.signal));
  const path = join(job.outDir, "video.mp4");
  let info;
  try {
    info = await concatSegments(files, path, { signal: params.signal, ffmpeg: client.ffmpeg });
  } catch (cause) {
    throw new ClientError("ASSEMBLY_FAILED", `Joining the segments of job ${job.jobId} failed.`, {
      cause,
      hint: "Check that ffmpeg works (set RENDERMESH_FFMPEG) and the disk has room, then `rendermesh job resume`.",
    });
  }
  const expected = job.spec.seconds * job.spec.fps;
  if (info.frames !== expected) throw new ClientError("ASSEMBLY_FAILED", `The joined video has ${info.frames} frames, not ${expected}.`);
  const bytes = new Uint8Array(await readFile(path));
  const { store } = await client.net();
  const cid = (await store.add(bytes, { pin: true, signal: params.signal })).toString();
  client.journal.updateJob(job.ref, { videoPath: path, videoCid: cid });
  return { path, cid, sha256: sha256(bytes), bytes: bytes.byteLength, frames: info.frames };
}
