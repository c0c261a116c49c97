import { BaseError, type BaseErrorOptions } from "../errors.js";
import type { ErrorMessage } from "./messages.js";
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

/**
 * The wire form of a refusal: the shared ErrorMessage, with the retry hint and
 * matched term when there are any. Coordinator and provider answer with it.
 */
export function refusalMessage(err: RefusalError): ErrorMessage {
  const retry = err.retryAfterMs === undefined ? "" : ` Retry in ${Math.ceil(err.retryAfterMs / 1000)} s.`;
  return {
    type: "error",
    code: err.reason,
    message: `${err.shortMessage}${retry}`.slice(0, 2000),
    ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
    ...(err.term === undefined ? {} : { term: err.term.slice(0, 200) }),
  };
}

/**
 * Answers a refusal on the stream and returns true; anything else is
 * rethrown, so the net layer answers it with a typed error (INTERNAL,
 * BAD_MESSAGE, TIMEOUT…) and the node carries on.
 */
export async function answerRefusal(stream: { write(message: ErrorMessage): Promise<unknown> }, err: unknown): Promise<true> {
  if (!(err instanceof RefusalError)) throw err;
  await stream.write(refusalMessage(err));
  return true;
}
