import { BaseError, type BaseErrorOptions, type ReasonCode } from "@rendermesh/shared";

/**
 * Every error the coordinator raises. Tests match on `err.name`; a refusal
 * that goes on the wire carries `reason` (a shared `ReasonCode`).
 */

/** Refusals are the shared class, so both sides put the same fields on the wire. */
export { RefusalError } from "@rendermesh/shared";

/** The database is missing, locked, or from a newer version. */
export class StoreError extends BaseError {
  override name = "StoreError";
  constructor(message: string, options: BaseErrorOptions = {}) {
    super("STORE", message, options);
  }
}

/** A state transition that the job's current state does not allow (a bug or a stale message). */
export class InvalidTransitionError extends BaseError {
  override name = "InvalidTransitionError";
  constructor(message: string, options: BaseErrorOptions = {}) {
    super("INVALID_TRANSITION", message, options);
  }
}

/** Talking to the chain failed (RPC down, contract missing). */
export class ChainError extends BaseError {
  override name = "ChainError";
  constructor(message: string, options: BaseErrorOptions = {}) {
    super("CHAIN", message, options);
  }
}

/** A provider's reply to a render request broke the protocol or did not verify. */
export class RenderError extends BaseError {
  override name = "RenderError";
  readonly reason: ReasonCode;
  constructor(reason: ReasonCode, message: string, options: BaseErrorOptions = {}) {
    super(reason, message, options);
    this.reason = reason;
  }
}

/** The node has stopped (or is stopping) and cannot take the request. */
export class NotStartedError extends BaseError {
  override name = "NotStartedError";
  constructor(message = "The coordinator is not running.") {
    super("NOT_STARTED", message);
  }
}
