import { z } from "zod";
import { JobSpec } from "../spec/schema.js";

/**
 * The Rendermesh assertions, as zod schemas, so a reader judges what it
 * finds instead of trusting it. `org.rendermesh.job` sits in the final
 * video; `org.rendermesh.segment` in each provider's segment file.
 */
const Hex = z.string().regex(/^0x[0-9a-fA-F]*$/);
const Bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/);
const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);

export const SegmentAssertion = z.object({
  version: z.literal(1),
  chainId: z.number().int().positive(),
  escrow: Address,
  jobId: Bytes32,
  segment: z.number().int().nonnegative(),
  firstFrame: z.number().int().nonnegative(),
  frameCount: z.number().int().positive(),
  /** The model id (sha256 of its manifest) that rendered the frames. */
  model: Bytes32,
  /** The provider that rendered and signed the segment. */
  provider: Address,
  /** `packetsDigest` of the segment's coded video packets: the frames exactly as encoded. */
  packets: Bytes32,
});
export type SegmentAssertion = z.output<typeof SegmentAssertion>;

export const JobAssertionSegment = z.object({
  segment: z.number().int().nonnegative(),
  provider: Address,
  /** CIDv1 of the segment file as delivered (with its own credentials). */
  cid: z.string(),
  sha256: Bytes32,
  frameCount: z.number().int().positive(),
  /** CIDv1 of the segment's render-trace root (diffusion pipelines); absent for a model family without one. */
  trace: z.string().optional(),
  /** The provider's EIP-712 Delivery receipt signature over (jobId, segment, cid, sha256, frameCount, trace). */
  receipt: Hex,
});
export type JobAssertionSegment = z.output<typeof JobAssertionSegment>;

export const JobAssertion = z.object({
  version: z.literal(1),
  chainId: z.number().int().positive(),
  escrow: Address,
  jobId: Bytes32,
  specHash: Bytes32,
  spec: JobSpec,
  client: Address,
  coordinator: Address,
  segments: z.array(JobAssertionSegment),
  /** The transaction that settled the job (paid the providers, fees, and refund). */
  settleTx: Bytes32,
});
export type JobAssertion = z.output<typeof JobAssertion>;
export type JobAssertionInput = z.input<typeof JobAssertion>;
