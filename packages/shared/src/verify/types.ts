import type { JobSpec, SignedAssignment, SignedDelivery } from "../index.js";

/**
 * The checks a delivered segment must pass before it is paid, in the order
 * they run (cheapest first). The names are the `check` values of the
 * `SegmentVerdict` the client reports to the coordinator.
 */
export type CheckName = "signature" | "fetch" | "sha256" | "decode" | "frames" | "content";

/** A segment as the coordinator's `segment-delivered` event describes it. */
export interface DeliveredSegment {
  jobId: `0x${string}`;
  segment: number;
  /** libp2p peer id of the delivering provider. */
  peerId: string;
  /** Where the segment can be fetched (the provider's listen addresses). */
  multiaddrs: string[];
  assignment: SignedAssignment;
  delivery: SignedDelivery;
}

/** What the verifier needs to know about the job (from the journal and the escrow). */
export interface VerifyJob {
  jobId: `0x${string}`;
  spec: JobSpec;
  chainId: number;
  /** JobEscrow address: the EIP-712 verifying contract. */
  escrow: string;
  /** The coordinator named on-chain at openJob; assignments must be signed by it. */
  coordinator: string;
}

/**
 * Why a segment failed. As in go-livepeer's `verification/`, a failure is
 * retryable (the same delivery may pass later: a fetch that timed out) or
 * fatal (the delivery is provably wrong: bad hash, bad signature, wrong
 * frames). A fatal failure is reported at once; a retryable one is retried
 * by the verifier and reported only when retries run out.
 */
export interface CheckFailure {
  check: CheckName;
  retryable: boolean;
  message: string;
}

export interface VerifyTimings {
  fetchMs: number;
  hashMs: number;
  decodeMs: number;
  renderMs: number;
  totalMs: number;
}

export interface VerifiedContent {
  ok: true;
  bytes: Uint8Array;
  /** Lowest luma PSNR (dB) over the sampled frames; Infinity when they are identical. */
  psnrDb: number;
  /** Luma PSNR of each sampled frame, same order as `sampledFrames`. */
  framePsnrDb: number[];
  /** Absolute frame indices that were spot-checked. */
  sampledFrames: number[];
  /** Pixels compared in each sampled frame. */
  sampledPixels: number;
  timings: VerifyTimings;
}

export interface RejectedContent {
  ok: false;
  failure: CheckFailure;
  /** PSNRs measured before the failure, if the content check ran. */
  framePsnrDb?: number[];
  timings: VerifyTimings;
}

export type VerifyResult = VerifiedContent | RejectedContent;

export interface VerifyOptions {
  signal?: AbortSignal | undefined;
}

/** Verifies one delivered segment; implementations must never throw for a provider's fault, only for their own. */
export interface Verifier {
  verify(job: VerifyJob, segment: DeliveredSegment, options?: VerifyOptions): Promise<VerifyResult>;
}

/** The decoded shape of a segment file. */
export interface SegmentProbe {
  width: number;
  height: number;
  fps: number;
  frameCount: number;
}

/**
 * The narrow dependencies of the default verifier, injected so that tests
 * stub them and the SDK wires them to IPFS, ethers, ffmpeg and ONNX Runtime.
 */
export interface VerifierComponents {
  /** Fetch a segment file by CID (bitswap checks blocks against the CID), dialling `providers` first. */
  fetch(cid: string, options: { providers: string[]; signal?: AbortSignal | undefined }): Promise<Uint8Array>;
  /**
   * Recover the EIP-712 signer of an Assignment under the escrow's domain. `likely` is who should have signed it: a
   * guess that may make the check cheaper, never a change to the answer (`ExpectedSigner` in shared/chain).
   */
  recoverAssignmentSigner(chainId: number, escrow: string, assignment: SignedAssignment, likely?: string): string;
  /** Recover the EIP-712 signer of a Delivery under the escrow's domain; `likely` as for assignments. */
  recoverDeliverySigner(chainId: number, escrow: string, delivery: SignedDelivery, likely?: string): string;
  /**
   * Decodes a segment file (throws if it does not decode): its width, height,
   * fps and decoded frame count, and the RGB24 of the frames `keep` selects
   * (indices relative to the segment).
   */
  decode(
    bytes: Uint8Array,
    keep: ReadonlySet<number>,
    options: { signal?: AbortSignal | undefined },
  ): Promise<{ probe: SegmentProbe; frames: Map<number, Uint8Array> }>;
  /**
   * RGB24 of the model's output at the given pixels (row-major indices) of
   * absolute frame `frame` of the job: 3 bytes per pixel, in `pixels` order.
   */
  renderPixels(spec: JobSpec, frame: number, pixels: Uint32Array, options: { signal?: AbortSignal | undefined }): Promise<Uint8Array>;
  /** Whether `model` is a diffusion pipeline this client can verify by committed steps. */
  isPipeline?(model: string): boolean;
  /**
   * Verification by committed steps (shared/model `verifyTrace`): samples
   * steps of the trace under `trace`, fetching only their blocks from
   * `providers`, and checks them and one decoded tile against `frames`.
   */
  verifyTrace?(
    spec: JobSpec,
    segment: number,
    trace: string,
    frames: readonly Uint8Array[],
    options: {
      providers: string[];
      /** Segments of this provider the verifier accepted before (a provider with little history gets more steps checked). */
      acceptedBefore?: number | undefined;
      signal?: AbortSignal | undefined;
    },
  ): Promise<{ ok: boolean; check?: string | undefined; reason?: string | undefined; steps: number[] }>;
}
