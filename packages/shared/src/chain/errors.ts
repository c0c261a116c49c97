import { BaseError, type BaseErrorOptions } from "../errors.js";

/** `deployments/<chainId>.json` is missing, unreadable or malformed. */
export class DeploymentError extends BaseError {
  override name = "DeploymentError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("DEPLOYMENT", shortMessage, options);
  }
}

/** A signature is malformed, or was made by someone other than the expected signer. */
export class InvalidSignatureError extends BaseError {
  override name = "InvalidSignatureError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("INVALID_SIGNATURE", shortMessage, options);
  }
}

/** A value given to a chain helper cannot be encoded (a bad CID, address, or out-of-range number). */
export class ChainValueError extends BaseError {
  override name = "ChainValueError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("CHAIN_VALUE", shortMessage, options);
  }
}
