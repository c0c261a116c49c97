import type { BaseWallet as Wallet } from "ethers";
import { closeRenderer, renderFrames, sha256Hex } from "@rendermesh/testing";
import { segmentFrames, type JobSpec } from "@rendermesh/shared";
import { eip712Domain, signAssignment, signDelivery } from "@rendermesh/shared/chain";
import { segmentCid } from "@rendermesh/shared/ipfs";
import { encodeSegment } from "@rendermesh/shared/media";
import type { DeliveredSegment } from "../../src/verify/types.js";

export { closeRenderer, renderFrames };

/** The honest H.264 segment `segment` of `spec`, as a provider encodes it. */
export async function honestSegment(spec: JobSpec, segment: number): Promise<Uint8Array> {
  const { firstFrame, frameCount } = segmentFrames(spec, segment);
  return encodeSegment(await renderFrames(spec, firstFrame, frameCount), spec);
}

export interface ReceiptOptions {
  /** Override the receipt's fields. */
  cid?: string;
  sha256?: `0x${string}`;
  frameCount?: number;
  /** Sign the receipt with this key instead of the provider's. */
  receiptSigner?: Wallet;
  /** Sign the assignment with this key instead of the coordinator's. */
  assignmentSigner?: Wallet;
  /** Put another segment number in the receipt. */
  receiptSegment?: number;
  /** The render trace root the receipt signs (diffusion pipelines). */
  trace?: string;
}

/**
 * A delivered segment as the coordinator's `segment-delivered` event carries
 * it: assignment signed by `coordinator`, receipt signed by `provider` over
 * the bytes' real CID and sha256 (unless overridden).
 */
export async function deliveredSegment(
  ctx: { chainId: number; escrow: string; jobId: `0x${string}`; spec: JobSpec; coordinator: Wallet; provider: Wallet },
  segment: number,
  bytes: Uint8Array,
  opts: ReceiptOptions = {},
): Promise<DeliveredSegment & { bytes: Uint8Array; cid: string }> {
  const domain = eip712Domain(ctx.chainId, ctx.escrow);
  const { firstFrame, frameCount } = segmentFrames(ctx.spec, segment);
  const assignment = {
    jobId: ctx.jobId,
    segment,
    firstFrame,
    frameCount,
    provider: ctx.provider.address as `0x${string}`,
    deadline: 2_000_000_000,
  };
  const realCid = (await segmentCid(bytes)).toString();
  const delivery = {
    jobId: ctx.jobId,
    segment: opts.receiptSegment ?? segment,
    cid: opts.cid ?? realCid,
    sha256: opts.sha256 ?? sha256Hex(bytes),
    frameCount: opts.frameCount ?? frameCount,
    ...(opts.trace ? { trace: opts.trace } : {}),
  };
  return {
    jobId: ctx.jobId,
    segment,
    peerId: "12D3KooWtest",
    multiaddrs: [],
    assignment: { assignment, signature: await signAssignment(opts.assignmentSigner ?? ctx.coordinator, domain, assignment) },
    delivery: { delivery, signature: await signDelivery(opts.receiptSigner ?? ctx.provider, domain, delivery) },
    bytes,
    cid: realCid,
  };
}
