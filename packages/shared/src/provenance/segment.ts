import type { SegmentAssertion } from "./assertions.js";
import { RENDERMESH_VERSION, SEGMENT_ASSERTION } from "./constants.js";
import type { ProvenanceIdentity } from "./identity.js";
import { packetsDigest, videoPackets } from "./packets.js";
import { signMp4 } from "./sign.js";

export interface CredentialSegmentParameters {
  mp4: Uint8Array;
  identity: ProvenanceIdentity;
  segment: Omit<SegmentAssertion, "version" | "provider" | "packets">;
  modelName?: string | undefined;
}

/**
 * A provider's segment file with its own Content Credentials: rendered by
 * this provider (its bound key signs), for this job, segment and frames,
 * with this model, and a digest of its coded frames. Sign before hashing
 * and pinning: the receipt's sha256 and CID are of the credentialed file.
 *
 * @example
 * const signed = await credentialSegment({ mp4, identity, segment: { chainId, escrow, jobId, segment: 0, firstFrame: 0, frameCount: 12, model } });
 */
export async function credentialSegment(params: CredentialSegmentParameters): Promise<Uint8Array> {
  const packets = packetsDigest(await videoPackets(params.mp4));
  const data: SegmentAssertion = { version: 1, ...params.segment, provider: params.identity.address, packets };
  return signMp4({
    mp4: params.mp4,
    identity: params.identity,
    title: `segment-${params.segment.segment}.mp4`,
    generator: { version: RENDERMESH_VERSION, model: params.segment.model, modelName: params.modelName },
    assertions: [{ label: SEGMENT_ASSERTION, data }],
  });
}
