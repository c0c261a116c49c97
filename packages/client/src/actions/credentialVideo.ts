import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { JobAssertionInput } from "@rendermesh/shared/provenance";
import type { RendermeshClient } from "../client.js";
import { ClientError } from "../errors.js";
import { segmentFile, writeFileAtomic, type AssembleVideoReturnType } from "./assembleVideo.js";

export interface CredentialVideoParameters {
  /** The job's escrow id or journal ref. */
  jobId: string;
  /** The joined video, from `assembleVideo`. */
  video: AssembleVideoReturnType;
  /** The transaction that settled the job. */
  settleTx: `0x${string}`;
  signal?: AbortSignal | undefined;
}

/** The video as credentialed (path unchanged; CID, sha256 and size of the signed file). */
export type CredentialVideoReturnType = AssembleVideoReturnType & { signer: string };

export type CredentialVideoErrorType = ClientError;

const sha256 = (bytes: Uint8Array) => `0x${createHash("sha256").update(bytes).digest("hex")}` as `0x${string}`;

/**
 * Embeds Content Credentials (C2PA) in a job's joined video, signed with the
 * client's provenance key (kept in its data dir, bound to its address): a
 * `c2pa.created` action for trained algorithmic media, Rendermesh and the
 * model as generator, an `org.rendermesh.job` assertion with the chain,
 * escrow, job, spec hash, every segment's CID and delivery receipt and the
 * settle transaction, and each provider's segment file as an ingredient
 * with its own credentials. Rewrites the video in place and pins it again.
 *
 * Segments were joined without re-encoding, which drops their manifests
 * from the joined file; they return as ingredients here.
 *
 * @example
 * const signed = await credentialVideo(client, { jobId, video, settleTx });
 * console.log(signed.cid, "signed by", signed.signer);
 */
export async function credentialVideo(client: RendermeshClient, params: CredentialVideoParameters): Promise<CredentialVideoReturnType> {
  const { JOB_ASSERTION, RENDERMESH_VERSION, loadOrCreateProvenanceIdentity, signMp4 } = await import("@rendermesh/shared/provenance");
  const job = client.journal.getJob(params.jobId);
  const segments = [...client.journal.verifiedSegments(job.ref)].sort((a, b) => a.segment - b.segment);
  const identity = await loadOrCreateProvenanceIdentity(client.dataDir, client.wallet);
  const ingredients = [];
  for (const seg of segments)
    ingredients.push({
      title: `segment-${seg.segment}.mp4`,
      mp4: new Uint8Array(await readFile(await segmentFile(client, seg, params.signal))),
    });
  const data: JobAssertionInput = {
    version: 1,
    chainId: job.chainId,
    escrow: job.escrow,
    jobId: job.jobId!,
    specHash: job.specHash,
    spec: job.spec,
    client: job.client,
    coordinator: job.coordinator,
    segments: segments.map((s) => ({
      segment: s.segment,
      provider: s.provider,
      cid: s.cid,
      sha256: s.sha256,
      frameCount: s.delivery.delivery.frameCount,
      ...(s.delivery.delivery.trace ? { trace: s.delivery.delivery.trace } : {}),
      receipt: s.delivery.signature,
    })),
    settleTx: params.settleTx,
  };
  let signed: Uint8Array;
  try {
    signed = await signMp4({
      mp4: new Uint8Array(await readFile(params.video.path)),
      identity,
      title: "video.mp4",
      generator: { version: RENDERMESH_VERSION, model: job.spec.model },
      assertions: [{ label: JOB_ASSERTION, data }],
      ingredients,
    });
  } catch (cause) {
    throw new ClientError("CREDENTIALS_FAILED", `Embedding Content Credentials in the video of job ${job.jobId} failed.`, {
      cause,
      hint: "The job is settled and its segments are kept; `rendermesh job resume` signs the video again.",
    });
  }
  await writeFileAtomic(params.video.path, signed);
  const { store } = await client.net();
  const cid = (await store.add(signed, { pin: true, signal: params.signal })).toString();
  client.journal.updateJob(job.ref, { videoPath: params.video.path, videoCid: cid });
  return { ...params.video, cid, sha256: sha256(signed), bytes: signed.byteLength, signer: identity.address };
}
