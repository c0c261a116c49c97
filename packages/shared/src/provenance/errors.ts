import { BaseError, type BaseErrorOptions } from "../errors.js";

/** The file carries no C2PA manifest (never signed, or stripped). */
export class NoCredentialsError extends BaseError {
  override name = "NoCredentialsError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("NO_CREDENTIALS", shortMessage, options);
  }
}

/** Signing or reading Content Credentials failed for a reason other than their absence. */
export class ProvenanceError extends BaseError {
  override name = "ProvenanceError";
  constructor(code: string, shortMessage: string, options: BaseErrorOptions = {}) {
    super(code, shortMessage, options);
  }
}
