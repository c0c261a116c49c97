import type { ReasonCode } from "@rendermesh/shared";
import type { CheckName } from "./verify/types.js";

/**
 * Typed progress events, after Helia's `ProgressEvent` (`{ type, detail }`):
 * long actions take an `onProgress` callback and report each step; the CLI
 * draws them as progress bars (rendered / verified / paid) or lines.
 */
export interface ProgressEvent<T extends string, D> {
  type: T;
  detail: D;
}

export type JobProgressEvent =
  | ProgressEvent<"policy:checked", { policyVersion: bigint }>
  | ProgressEvent<"quote:received", { pricePerSecond: bigint; deposit: bigint; providers: number; etaSeconds: number }>
  | ProgressEvent<"job:opening", { txHash: string }>
  | ProgressEvent<"job:opened", { jobId: string; txHash: string; deposit: bigint; fromDeposit: boolean; gasUsed: bigint }>
  | ProgressEvent<"job:submitted", { jobId: string; segments: number; resumed: boolean }>
  | ProgressEvent<"job:accepted", { jobId: string; segments: number }>
  | ProgressEvent<"segment:assigned", { segment: number; provider: string; attempt: number; speculative: boolean }>
  | ProgressEvent<"segment:progress", { segment: number; provider: string; framesDone: number; frameCount: number }>
  | ProgressEvent<"segment:delivered", { segment: number; provider: string; cid: string }>
  | ProgressEvent<"segment:verified", { segment: number; provider: string; cid: string; psnrDb: number; verifyMs: number }>
  | ProgressEvent<"segment:rejected", { segment: number; provider: string; cid: string; check: CheckName; message: string }>
  | ProgressEvent<"segment:duplicate", { segment: number; provider: string; cid: string }>
  | ProgressEvent<"segment:failed", { segment: number; provider: string; code: ReasonCode; message: string; willRetry: boolean }>
  | ProgressEvent<"voucher:signed", { provider: string; seconds: number }>
  | ProgressEvent<"voucher:sent", { provider: string; seconds: number; acknowledged: boolean; error?: string }>
  | ProgressEvent<"job:complete", { jobId: string }>
  | ProgressEvent<"video:assembled", { path: string; cid: string; bytes: number }>
  | ProgressEvent<"video:credentialed", { path: string; cid: string; signer: string }>
  | ProgressEvent<"settle:sent", { txHash: string }>
  | ProgressEvent<"settle:confirmed", { txHash: string; gasUsed: bigint }>
  | ProgressEvent<"settle:skipped", { reason: string }>
  | ProgressEvent<"manifest:written", { path: string }>;

export type JobProgressType = JobProgressEvent["type"];

/** Option every long action accepts. */
export interface ProgressOptions {
  onProgress?: ((event: JobProgressEvent) => void) | undefined;
}

/** Builds an event; typed so a wrong detail for a type does not compile. */
export function progress<E extends JobProgressEvent>(type: E["type"], detail: E["detail"]): E {
  return { type, detail } as E;
}
