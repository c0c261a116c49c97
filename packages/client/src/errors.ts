import { EXIT } from "@rendermesh/shared/cli";
import { BaseError, type BaseErrorOptions, type ReasonCode, reasonSentence } from "@rendermesh/shared";

/**
 * The client's errors, after viem: every failure is one of these small named
 * classes extending the shared `BaseError`, with a one-sentence message, the
 * fix as `hint` and the low-level failure as `cause`. The CLI prints
 * `shortMessage` and `hint` and maps `exitCode` to the process exit code.
 * Tests match on `name` (or `code`).
 */

/** Exit codes of the `rendermesh` CLI: the same for every Rendermesh CLI. */
export { EXIT } from "@rendermesh/shared/cli";

export class ClientError extends BaseError {
  override name = "ClientError";
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(code: string, shortMessage: string, options: BaseErrorOptions & { exitCode?: number } = {}) {
    super(code, shortMessage, options);
    this.exitCode = options.exitCode ?? EXIT.failure;
  }
}

/** The spec breaks the on-chain content policy; raised before any gas is spent. */
export class PolicyRefusedError extends ClientError {
  override name = "PolicyRefusedError";
  readonly reason: ReasonCode;
  readonly term: string | undefined;
  constructor(
    reason: ReasonCode,
    message: string,
    options: { term?: string | undefined; details?: string[]; policyVersion?: bigint } = {},
  ) {
    super("POLICY_REFUSED", message, {
      exitCode: EXIT.refused,
      hint: "Change the job; `rendermesh policy show` lists the policy in force.",
      details: [...(options.details ?? []), ...(options.policyVersion !== undefined ? [`policy version: ${options.policyVersion}`] : [])],
    });
    this.reason = reason;
    this.term = options.term;
  }
}

/** A coordinator or provider answered a request with a typed refusal. */
export class PeerRefusedError extends ClientError {
  override name = "PeerRefusedError";
  readonly reason: ReasonCode;
  readonly retryAfterMs: number | undefined;
  constructor(
    reason: ReasonCode,
    detail: string | undefined,
    options: { peer?: string; retryAfterMs?: number | undefined; term?: string | undefined } = {},
  ) {
    const sentence = reasonSentence(reason, detail);
    const fixAt = sentence.indexOf(" Fix: ");
    super("PEER_REFUSED", fixAt >= 0 ? sentence.slice(0, fixAt) : sentence, {
      exitCode: EXIT.refused,
      hint: fixAt >= 0 ? sentence.slice(fixAt + 6) : undefined,
      details: [
        ...(options.peer ? [`peer: ${options.peer}`] : []),
        `reason: ${reason}`,
        ...(options.term ? [`term: ${options.term}`] : []),
      ],
    });
    this.reason = reason;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A peer could not be reached, or broke the protocol. */
export class NetworkError extends ClientError {
  override name = "NetworkError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("NETWORK", shortMessage, options);
  }
}

/** A chain call or transaction failed (RPC down, revert, wrong deployment). */
export class ChainError extends ClientError {
  override name = "ChainError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("CHAIN", shortMessage, options);
  }
}

/** The wallet cannot pay for what was asked (token balance or gas). */
export class InsufficientFundsError extends ClientError {
  override name = "InsufficientFundsError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("INSUFFICIENT_FUNDS", shortMessage, { exitCode: EXIT.refused, ...options });
  }
}

/** The on-disk journal is missing, unreadable or does not know the job. */
export class JournalError extends ClientError {
  override name = "JournalError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("JOURNAL", shortMessage, options);
  }
}

/** The job is not in a state that allows the command (e.g. refund before the deadline). */
export class JobStateError extends ClientError {
  override name = "JobStateError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("JOB_STATE", shortMessage, { exitCode: EXIT.refused, ...options });
  }
}

/** The job failed on the network (every attempt at a segment failed, or the coordinator gave up). */
export class JobFailedError extends ClientError {
  override name = "JobFailedError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("JOB_FAILED", shortMessage, options);
  }
}

/** A finished job's manifest does not match what IPFS and the chain hold. */
export class ManifestInvalidError extends ClientError {
  override name = "ManifestInvalidError";
  readonly problems: readonly string[];
  constructor(problems: readonly string[], options: BaseErrorOptions = {}) {
    super(
      "MANIFEST_INVALID",
      `The manifest does not verify: ${problems[0] ?? "unknown problem"}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ""}.`,
      {
        ...options,
        details: problems.slice(1),
      },
    );
    this.problems = problems;
  }
}

/** A command that only works on the local dev network was used elsewhere. */
export class DevOnlyError extends ClientError {
  override name = "DevOnlyError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("DEV_ONLY", shortMessage, { exitCode: EXIT.refused, ...options });
  }
}

/** The operation was aborted through its `signal`. */
export class AbortedError extends ClientError {
  override name = "AbortedError";
  constructor(what = "The operation", options: BaseErrorOptions = {}) {
    super("ABORTED", `${what} was aborted.`, options);
  }
}

/** The coordinator's quote is above the client's maximum price; raised before any gas is spent. */
export class PriceTooHighError extends ClientError {
  override name = "PriceTooHighError";
  readonly quoted: bigint;
  readonly max: bigint;
  constructor(quoted: bigint, max: bigint, format: (amount: bigint) => string) {
    super("PRICE_TOO_HIGH", `The quoted price of ${format(quoted)} per second is above your maximum of ${format(max)}.`, {
      exitCode: EXIT.refused,
      hint: "Raise --max-price, or ask for a smaller size or lower fps.",
    });
    this.quoted = quoted;
    this.max = max;
  }
}
