import type { ErrorMessage } from "@rendermesh/shared";
import type { MessageStream } from "@rendermesh/shared/net";
import { RefusalError } from "../errors.js";

/** The wire form of a refusal: the shared ErrorMessage, with the retry hint and matched term when there are any. */
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
export async function answerRefusal(stream: MessageStream, err: unknown): Promise<true> {
  if (!(err instanceof RefusalError)) throw err;
  await stream.write(refusalMessage(err));
  return true;
}
