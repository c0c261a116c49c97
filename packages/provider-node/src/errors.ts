import { BaseError, type BaseErrorOptions } from "@rendermesh/shared";

/**
 * The provider's error classes. Tests match on `err.name`; the CLI prints
 * `shortMessage` and `hint`. A refusal on the wire is a `RefusalError`: it
 * carries the protocol reason code that the peer receives.
 */

/** Refusals are the shared class, so both sides put the same fields on the wire. */
export { RefusalError } from "@rendermesh/shared";

/** The on-chain standing does not allow serving: not registered, not staked enough, or another peer id bound. */
export class StandingError extends BaseError {
  override name = "StandingError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("STANDING", shortMessage, options);
  }
}

/** `--device cuda` was asked for and the CUDA execution provider did not load. */
export class DeviceUnavailableError extends BaseError {
  override name = "DeviceUnavailableError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("DEVICE_UNAVAILABLE", shortMessage, options);
  }
}

/** A configured model cannot be served: unreadable, bad manifest, or not on the policy's allowed list. */
export class ModelRejectedError extends BaseError {
  override name = "ModelRejectedError";
  /** 3 when the content policy refused the model (a refusal by the rules), else 1: the CLI's exit code. */
  readonly exitCode: number;
  constructor(shortMessage: string, options: BaseErrorOptions & { byPolicy?: boolean } = {}) {
    super("MODEL_REJECTED", shortMessage, options);
    this.exitCode = options.byPolicy ? 3 : 1;
  }
}

/** Rendering, encoding or storing a segment failed. */
export class SegmentPipelineError extends BaseError {
  override name = "SegmentPipelineError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("SEGMENT_PIPELINE", shortMessage, options);
  }
}

/** A transaction (register, redeem, claim, withdraw, unstake) failed or was refused. */
export class TransactionError extends BaseError {
  override name = "TransactionError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("TRANSACTION", shortMessage, options);
  }
}

/** The journal on disk cannot be opened or is from an incompatible version. */
export class JournalError extends BaseError {
  override name = "JournalError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("JOURNAL", shortMessage, options);
  }
}

/** The user declined a confirmation (e.g. the registration spend). */
export class AbortedError extends BaseError {
  override name = "AbortedError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("ABORTED", shortMessage, options);
  }
}
