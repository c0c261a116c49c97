import type { JobSpec } from "@rendermesh/shared";
import type { RendermeshClient } from "../client.js";
import type { DeliveredSegment, VerifyResult } from "../verify/types.js";

export interface VerifySegmentParameters {
  jobId: `0x${string}`;
  spec: JobSpec;
  /** The coordinator named on-chain for the job (assignments must be signed by it). */
  coordinator: string;
  segment: DeliveredSegment;
  signal?: AbortSignal | undefined;
}

export type VerifySegmentReturnType = VerifyResult;

/** Only the client's own failures (its renderer, ffmpeg missing) throw; a bad segment is a result. */
export type VerifySegmentErrorType = Error;

/**
 * Verifies one delivered segment before anything is paid for it: signatures
 * (assignment by the job's coordinator, receipt by the assigned provider),
 * fetch by CID over IPFS straight from the provider, sha256 against the
 * receipt, decode (size, fps, frame count), and a content spot-check of
 * random pixels of random frames re-rendered with the job's model and seed.
 *
 * @example
 * const result = await verifySegment(client, { jobId, spec, coordinator, segment: delivered });
 * if (!result.ok) console.log(`rejected by the ${result.failure.check} check: ${result.failure.message}`);
 */
export async function verifySegment(client: RendermeshClient, params: VerifySegmentParameters): Promise<VerifySegmentReturnType> {
  const verifier = await client.verifier();
  return verifier.verify(
    { jobId: params.jobId, spec: params.spec, chainId: client.chainId, escrow: client.deployment.escrow, coordinator: params.coordinator },
    params.segment,
    { signal: params.signal },
  );
}
