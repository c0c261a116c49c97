import { z } from "zod";
import { Address, Bytes32, JobSpec } from "../spec/schema.js";
import { REASON_CODES } from "./reasons.js";

/**
 * Every control message of every Rendermesh protocol. On the wire each is one
 * length-prefixed UTF-8 JSON object with a `type`; bigints travel as decimal
 * strings. `docs/protocol.md` is generated from (and checked against) these.
 */

/** A non-negative integer that may exceed 2^53: decimal string on the wire, bigint in code. */
export const BigUint = z.union([
  z.bigint().nonnegative(),
  z
    .string()
    .regex(/^[0-9]{1,78}$/, "must be a decimal integer string")
    .transform((s) => BigInt(s)),
]);
export const Hex = z.string().regex(/^0x([0-9a-fA-F]{2})*$/, "must be 0x-prefixed hex bytes") as z.ZodType<`0x${string}`, string>;
/** A 65-byte ECDSA signature (EIP-712 or EIP-191), 0x hex. */
export const Signature = z.string().regex(/^0x[0-9a-fA-F]{130}$/, "must be a 65-byte signature in hex") as z.ZodType<`0x${string}`, string>;
/** A CIDv1 in its string form (base32 `b…`). */
export const CidString = z.string().regex(/^b[a-z2-7]{20,}$/, "must be a CIDv1 in base32");
export const Multiaddrs = z.array(z.string().startsWith("/").max(512)).max(16);
const U32 = z.number().int().min(0).max(0xffff_ffff);
const U64 = z.union([
  z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  z
    .string()
    .regex(/^[0-9]{1,20}$/)
    .transform(Number),
]);

export const ErrorMessage = z.object({
  type: z.literal("error"),
  code: z.enum(REASON_CODES),
  message: z.string().max(2000),
  /** With BUSY: when to retry. */
  retryAfterMs: z.number().int().nonnegative().optional(),
  /** With POLICY_BLOCKED_TERM: the word or phrase that matched. */
  term: z.string().max(200).optional(),
});
export type ErrorMessage = z.output<typeof ErrorMessage>;

// ---- EIP-712 payloads, as they travel --------------------------------------

export const AssignmentFields = z.object({
  jobId: Bytes32,
  segment: U32,
  firstFrame: U32,
  frameCount: U32,
  provider: Address,
  /** Unix seconds after which the assignment lapses. */
  deadline: U64,
});
export type AssignmentFields = z.output<typeof AssignmentFields>;

export const DeliveryFields = z.object({
  jobId: Bytes32,
  segment: U32,
  /** CIDv1 string; the signed value is its binary form. */
  cid: CidString,
  sha256: Bytes32,
  frameCount: U32,
  /** CIDv1 string of the segment's render-trace root; absent (signed as empty bytes) for models without one. */
  trace: CidString.optional(),
});
export type DeliveryFields = z.output<typeof DeliveryFields>;

/**
 * The coordinator's EIP-712 `Allocation(jobId, provider, seconds)`: the seconds of the job it has assigned the
 * provider in total (distinct segments). Vouchers and settle entries pay a provider only up to its allocation.
 */
export const SignedAllocation = z.object({ seconds: U32, signature: Signature });
export type SignedAllocation = z.output<typeof SignedAllocation>;

/** An assignment, with the provider's allocation as of this assignment (this segment included). */
export const SignedAssignment = z.object({ assignment: AssignmentFields, signature: Signature, allocation: SignedAllocation.optional() });
export type SignedAssignment = z.output<typeof SignedAssignment>;
export const SignedDelivery = z.object({ delivery: DeliveryFields, signature: Signature });
export type SignedDelivery = z.output<typeof SignedDelivery>;

/** Which deployment a job lives on; a node refuses jobs of another chain or escrow. */
export const ChainRef = z.object({ chainId: z.number().int().positive(), escrow: Address });

// ---- /rendermesh/announce ---------------------------------------------------

export const ProviderAnnounce = z.object({
  type: z.literal("announce"),
  /** The provider's Ethereum address; must be bound on-chain to the sender's peer id. */
  address: Address,
  models: z.array(Bytes32).min(1).max(64),
  /** Ask in token base units per generated second at the model's reference size and fps. */
  askPerSecond: BigUint,
  /** Segments it will render at once. */
  capacity: z.number().int().min(1).max(256),
  /** Frames per second at the model's reference size, measured at start-up. */
  benchmarkFps: z.number().positive().max(1e6),
  device: z.enum(["cpu", "cuda"]),
  /** Segments in progress now. */
  active: z
    .number()
    .int()
    .min(0)
    .max(1 << 16),
  agent: z.string().max(100),
  /** Unix milliseconds; the coordinator refuses stale announcements. */
  timestamp: z.number().int().positive(),
  /** EIP-191 signature by `address` over `announceMessage(peerId, address, timestamp)`. */
  signature: Signature,
});
export type ProviderAnnounce = z.output<typeof ProviderAnnounce>;

export const AnnounceAck = z.object({
  type: z.literal("announce-ack"),
  coordinator: Address,
  chainId: z.number().int().positive(),
  escrow: Address,
  policyVersion: BigUint,
  heartbeatIntervalMs: z.number().int().positive(),
});
export type AnnounceAck = z.output<typeof AnnounceAck>;
export const AnnounceResponse = z.discriminatedUnion("type", [AnnounceAck, ErrorMessage]);

/** The text a provider signs (EIP-191) to bind its libp2p peer id to its address for one announcement. */
export function announceMessage(peerId: string, address: string, timestamp: number): string {
  return `Rendermesh provider announce\npeer: ${peerId}\naddress: ${address.toLowerCase()}\ntimestamp: ${timestamp}`;
}

// ---- /rendermesh/render ------------------------------------------------------

export const RenderRequest = z.object({
  type: z.literal("render"),
  ...ChainRef.shape,
  spec: JobSpec,
  ...SignedAssignment.shape,
});
export type RenderRequest = z.output<typeof RenderRequest>;

export const RenderAccepted = z.object({ type: z.literal("accepted"), jobId: Bytes32, segment: U32 });
export const RenderProgress = z.object({ type: z.literal("progress"), jobId: Bytes32, segment: U32, framesDone: U32, frameCount: U32 });
export const RenderDelivered = z.object({
  type: z.literal("delivered"),
  ...SignedDelivery.shape,
  /** Where the segment can be fetched over bitswap (the provider's listen addresses). */
  multiaddrs: Multiaddrs,
});
export const RenderResponse = z.discriminatedUnion("type", [RenderAccepted, RenderProgress, RenderDelivered, ErrorMessage]);
export type RenderResponse = z.output<typeof RenderResponse>;
export type RenderDelivered = z.output<typeof RenderDelivered>;

// ---- /rendermesh/quote --------------------------------------------------------

export const QuoteRequest = z.object({
  type: z.literal("quote"),
  spec: JobSpec.pick({ model: true, seconds: true, fps: true, width: true, height: true }),
});
export type QuoteRequest = z.output<typeof QuoteRequest>;

export const Quote = z.object({
  type: z.literal("quote-result"),
  coordinator: Address,
  ...ChainRef.shape,
  /** Token base units per generated second for this spec (size and fps included). */
  pricePerSecond: BigUint,
  deposit: BigUint,
  coordinatorFeeBps: z.number().int().min(0).max(10_000),
  treasuryFeeBps: z.number().int().min(0).max(10_000),
  policyVersion: BigUint,
  /** Live providers that serve the model within the price. */
  providers: z.number().int().nonnegative(),
  etaSeconds: z.number().nonnegative(),
  /** Suggested escrow deadline, seconds from now. */
  deadlineSeconds: z.number().int().positive(),
});
export type Quote = z.output<typeof Quote>;
export const QuoteResponse = z.discriminatedUnion("type", [Quote, ErrorMessage]);

// ---- /rendermesh/job ----------------------------------------------------------

/**
 * EIP-191 (`personal_sign`) signature by the job's on-chain client (ERC-1271
 * for a contract wallet) over `jobAccessMessage(chainId, escrow, jobId,
 * peerId)`, where `peerId` is the sender's libp2p peer id. Noise
 * authenticates the peer id, so the signature is worthless from any other
 * peer; a client signs once per job and peer and sends it with every action.
 */
export const JobAuth = Signature.describe("the job client's signature over jobAccessMessage(chainId, escrow, jobId, peerId)");

export const SubmitJob = z.object({ type: z.literal("submit"), jobId: Bytes32, ...ChainRef.shape, spec: JobSpec, auth: JobAuth });
export type SubmitJob = z.output<typeof SubmitJob>;
/**
 * Follow a job: with `auth`, events with `seq > fromSeq` are replayed, then
 * live ones follow. Without it, anyone gets one `JobSummary` and the stream ends.
 */
export const WatchJob = z.object({
  type: z.literal("watch"),
  jobId: Bytes32,
  fromSeq: z.number().int().min(0).default(0),
  auth: JobAuth.optional(),
});
export type WatchJob = z.output<typeof WatchJob>;
/** The job's client gives up: the coordinator stops scheduling it and answers with the final `job-failed` (`CANCELLED`). */
export const CancelJob = z.object({ type: z.literal("cancel"), jobId: Bytes32, auth: JobAuth });
export type CancelJob = z.output<typeof CancelJob>;
/**
 * Where each segment of a job stands, one page of `JOB_SEGMENTS_PAGE` segments from `from`; request/response.
 * Anyone gets each segment's status and, once verified, the copy the client verified (provider and CID): a
 * provider asks before claiming a segment, so it never claims one whose verdict went to another copy. With the
 * client's `auth`, each segment's attempts come too (what `rendermesh job status` shows as the network's view).
 */
export const JobSegmentsQuery = z.object({
  type: z.literal("segments"),
  jobId: Bytes32,
  from: U32.default(0),
  auth: JobAuth.optional(),
});
export type JobSegmentsQuery = z.output<typeof JobSegmentsQuery>;
export const JobRequest = z.discriminatedUnion("type", [SubmitJob, WatchJob, CancelJob, JobSegmentsQuery]);
export type JobRequest = z.output<typeof JobRequest>;

/** The text a job's client signs (EIP-191) to let one libp2p peer act on the job. */
export function jobAccessMessage(chainId: number, escrow: string, jobId: string, peerId: string): string {
  return `Rendermesh job access\nchain: ${chainId}\nescrow: ${escrow.toLowerCase()}\njob: ${jobId.toLowerCase()}\npeer: ${peerId}`;
}

const EventBase = { seq: z.number().int().positive(), jobId: Bytes32, at: z.number().int().positive() };

export const JobAccepted = z.object({ type: z.literal("job-accepted"), ...EventBase, segments: U32, policyVersion: BigUint });
export const SegmentAssigned = z.object({
  type: z.literal("segment-assigned"),
  ...EventBase,
  segment: U32,
  attempt: z.number().int().min(1),
  peerId: z.string().max(100),
  speculative: z.boolean(),
  ...SignedAssignment.shape,
});
export const SegmentProgress = z.object({
  type: z.literal("segment-progress"),
  ...EventBase,
  segment: U32,
  provider: Address,
  framesDone: U32,
  frameCount: U32,
});
export const SegmentDelivered = z.object({
  type: z.literal("segment-delivered"),
  ...EventBase,
  segment: U32,
  peerId: z.string().max(100),
  multiaddrs: Multiaddrs,
  assignment: SignedAssignment,
  delivery: SignedDelivery,
});
export const SegmentFailed = z.object({
  type: z.literal("segment-failed"),
  ...EventBase,
  segment: U32,
  provider: Address,
  code: z.enum(REASON_CODES),
  message: z.string().max(2000),
  willRetry: z.boolean(),
});
export const JobComplete = z.object({ type: z.literal("job-complete"), ...EventBase });
export const JobFailed = z.object({
  type: z.literal("job-failed"),
  ...EventBase,
  code: z.enum(REASON_CODES),
  message: z.string().max(2000),
});

export const JobEvent = z.discriminatedUnion("type", [
  JobAccepted,
  SegmentAssigned,
  SegmentProgress,
  SegmentDelivered,
  SegmentFailed,
  JobComplete,
  JobFailed,
]);
export type JobEvent = z.output<typeof JobEvent>;
export type JobEventInput = z.input<typeof JobEvent>;
/** What anyone may learn about a job without its client's signature: one message, then the stream ends. */
export const JobSummary = z.object({
  type: z.literal("job-summary"),
  jobId: Bytes32,
  status: z.enum(["running", "complete", "failed"]),
  segments: U32,
  verified: U32,
  /** The job's latest event seq. */
  lastSeq: z.number().int().min(0),
});
export type JobSummary = z.output<typeof JobSummary>;
/** Segments per `JobSegments` page. */
export const JOB_SEGMENTS_PAGE = 32;
/** Attempts listed per segment (the latest ones). */
export const JOB_SEGMENT_ATTEMPTS = 8;
export const SegmentAttemptState = z.object({
  attempt: z.number().int().min(1),
  provider: Address,
  status: z.enum(["active", "held", "shown", "verified", "rejected", "failed", "superseded", "cancelled"]),
  speculative: z.boolean(),
  framesDone: U32,
  cid: CidString.optional(),
  failCode: z.enum(REASON_CODES).optional(),
  failMessage: z.string().max(500).optional(),
  /** Unix ms, the coordinator's clock. */
  startedAt: z.number().int().min(0),
  finishedAt: z.number().int().min(0).optional(),
});
export const SegmentState = z.object({
  segment: U32,
  status: z.enum(["pending", "active", "delivered", "verified", "failed"]),
  /** Tries used (at most three). */
  tries: U32,
  /** The copy the client verified: the one to pay. */
  verified: z.object({ provider: Address, cid: CidString }).optional(),
  /** With the client's `auth` only: the latest attempts, oldest first. */
  attempts: z.array(SegmentAttemptState).max(JOB_SEGMENT_ATTEMPTS).optional(),
});
export type SegmentState = z.output<typeof SegmentState>;
export const JobSegments = z.object({
  type: z.literal("job-segments"),
  jobId: Bytes32,
  status: z.enum(["running", "complete", "failed"]),
  /** Segments in the job. */
  segments: U32,
  /** Why the job failed (a failed job). */
  failCode: z.enum(REASON_CODES).optional(),
  failMessage: z.string().max(2000).optional(),
  lastSeq: z.number().int().min(0),
  items: z.array(SegmentState).max(JOB_SEGMENTS_PAGE),
  /** `from` of the next page; absent on the last one. */
  next: U32.optional(),
});
export type JobSegments = z.output<typeof JobSegments>;
export const JobSegmentsResponse = z.discriminatedUnion("type", [JobSegments, ErrorMessage]);
export const JobStreamMessage = z.discriminatedUnion("type", [...JobEvent.options, JobSummary, ErrorMessage]);
export type JobStreamMessage = z.output<typeof JobStreamMessage>;

// ---- /rendermesh/report -------------------------------------------------------

/** The client's verdict on one delivered segment; a failing one is reassigned and never paid. */
export const SegmentVerdict = z.object({
  type: z.literal("verdict"),
  jobId: Bytes32,
  segment: U32,
  provider: Address,
  cid: CidString,
  ok: z.boolean(),
  /** With ok=false: what failed (cid, sha256, decode, frames, psnr, signature). */
  check: z.enum(["fetch", "sha256", "signature", "decode", "frames", "content"]).optional(),
  message: z.string().max(2000).optional(),
  /** `JobAuth` of the sending peer; needed unless this peer submitted (or re-submitted) the job with its auth. */
  auth: JobAuth.optional(),
});
export type SegmentVerdict = z.output<typeof SegmentVerdict>;
export const VerdictAck = z.object({ type: z.literal("verdict-ack"), jobId: Bytes32, segment: U32 });
export const ReportResponse = z.discriminatedUnion("type", [VerdictAck, ErrorMessage]);

// ---- /rendermesh/voucher ------------------------------------------------------

export const VoucherFields = z.object({ jobId: Bytes32, provider: Address, seconds: U32 });
export type VoucherFields = z.output<typeof VoucherFields>;

/** The client's cumulative EIP-712 voucher, sent straight to the provider after each verified segment. */
export const VoucherMessage = z.object({ type: z.literal("voucher"), ...ChainRef.shape, voucher: VoucherFields, signature: Signature });
export type VoucherMessage = z.output<typeof VoucherMessage>;
/**
 * `seconds`: the highest voucher the provider holds. `acknowledgement`: its EIP-712 `Acknowledgement(jobId, provider,
 * seconds)`, which counts only in a settle that pays every second of the job (a cooperative settle needs one per
 * provider).
 * `allocation`: the highest coordinator allocation it holds, which a settle entry for it needs.
 */
export const VoucherAck = z.object({
  type: z.literal("voucher-ack"),
  jobId: Bytes32,
  seconds: U32,
  acknowledgement: Signature.optional(),
  allocation: SignedAllocation.optional(),
});
export const VoucherResponse = z.discriminatedUnion("type", [VoucherAck, ErrorMessage]);
