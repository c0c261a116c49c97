import { BaseError, type BaseErrorOptions } from "../errors.js";
import type { ReasonCode } from "./reasons.js";

/**
 * A job, assignment, voucher or message refused for a reason the peer is
 * told: `reason` goes on the wire as the error message's `code`, with the
 * optional retry hint (BUSY) and matched term (POLICY_BLOCKED_TERM).
 * Coordinator and provider raise the same class.
 */
export class RefusalError extends BaseError {
  override name = "RefusalError";
  readonly reason: ReasonCode;
  readonly retryAfterMs: number | undefined;
  readonly term: string | undefined;
  constructor(reason: ReasonCode, shortMessage: string, options: BaseErrorOptions & { retryAfterMs?: number; term?: string } = {}) {
    super(reason, shortMessage, options);
    this.reason = reason;
    this.retryAfterMs = options.retryAfterMs;
    this.term = options.term;
  }
}
