import { BaseError, type BaseErrorOptions } from "../errors.js";

/**
 * Every error the `net/` module throws, as small named classes in the style of
 * `@libp2p/interface`'s errors. Tests and callers match on `err.name` (or
 * `instanceof`); `err.code` is stable and is what goes on the wire in an
 * error frame where one applies.
 */

/**
 * Codes that net/ itself puts in an error frame (`{ "type": "error", code,
 * message }`). They are a subset of protocol/'s `REASON_CODES`, so every
 * protocol's `ErrorMessage` schema accepts them.
 */
export const WireErrorCode = {
  /** Malformed JSON, bad UTF-8, or a message that fails the protocol's schema. */
  BAD_MESSAGE: "BAD_MESSAGE",
  /** A frame longer than the protocol's cap. */
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  /** The handler's deadline passed before it could answer. */
  TIMEOUT: "TIMEOUT",
  /**
   * The peer already has as many streams in flight on this protocol as it may
   * (the frame carries `retryAfterMs`), or the node is shutting down.
   */
  BUSY: "BUSY",
  /** The handler failed for a reason it does not disclose. */
  INTERNAL: "INTERNAL",
} as const;
export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/** A frame was longer than the cap (on read), or a message would be (on write: nothing was sent). */
export class MessageTooLargeError extends BaseError {
  override name = "MessageTooLargeError";
  /** Bytes declared or encoded; undefined when the length prefix itself was too long to decode. */
  readonly size: number | undefined;
  readonly limit: number;
  constructor(size: number | undefined, limit: number, options: BaseErrorOptions = {}) {
    super(
      WireErrorCode.MESSAGE_TOO_LARGE,
      size === undefined
        ? `Message length prefix exceeds the ${limit}-byte limit.`
        : `Message of ${size} bytes exceeds the ${limit}-byte limit.`,
      { hint: "Send smaller messages; bulk data travels over IPFS, not control protocols.", ...options },
    );
    this.size = size;
    this.limit = limit;
  }
}

/** A frame was not UTF-8 JSON, or did not match the schema; `issues` lists what was wrong. */
export class InvalidMessageError extends BaseError {
  override name = "InvalidMessageError";
  readonly issues: readonly string[];
  constructor(shortMessage: string, options: BaseErrorOptions & { issues?: readonly string[] } = {}) {
    super(WireErrorCode.BAD_MESSAGE, shortMessage, { ...options, details: options.details ?? options.issues });
    this.issues = options.issues ?? [];
  }
}

/** The stream ended (cleanly where a message was still expected, mid-frame, or by reset). */
export class StreamClosedError extends BaseError {
  override name = "StreamClosedError";
  constructor(shortMessage = "The stream was closed.", options: BaseErrorOptions = {}) {
    super("STREAM_CLOSED", shortMessage, options);
  }
}

/** An operation ran past its deadline (a default one, or a caller's `AbortSignal.timeout`). */
export class TimeoutError extends BaseError {
  override name = "TimeoutError";
  constructor(shortMessage = "The operation timed out.", options: BaseErrorOptions = {}) {
    super(WireErrorCode.TIMEOUT, shortMessage, options);
  }
}

/** The caller's signal aborted the operation (for a reason other than a timeout). */
export class AbortError extends BaseError {
  override name = "AbortError";
  constructor(shortMessage = "The operation was aborted.", options: BaseErrorOptions = {}) {
    super("ABORTED", shortMessage, options);
  }
}

/**
 * The remote peer answered with an error frame that the caller's schema does
 * not model. `code` is the peer's code (`BAD_MESSAGE`, `MESSAGE_TOO_LARGE`,
 * `TIMEOUT`, `BUSY`, `INTERNAL`, or a protocol's own reason code);
 * `shortMessage` is the peer's text; `frame` the whole frame, with any extra
 * fields such as `retryAfterMs`.
 */
export class RemoteError extends BaseError {
  override name = "RemoteError";
  readonly frame: Readonly<Record<string, unknown>>;
  constructor(code: string, message: string, options: BaseErrorOptions & { frame?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.frame = options.frame ?? { type: "error", code, message };
  }

  /** The peer's `retryAfterMs`, when it sent one (with `BUSY`). */
  get retryAfterMs(): number | undefined {
    const value = this.frame.retryAfterMs;
    return typeof value === "number" ? value : undefined;
  }
}

/**
 * Thrown by a protocol handler to answer the peer with a specific error code,
 * message and extra frame fields, e.g.
 * `new ProtocolError("POLICY_BLOCKED_TERM", "…", { fields: { term } })`.
 * The peer reads the error frame (or gets a `RemoteError` with that code).
 */
export class ProtocolError extends BaseError {
  override name = "ProtocolError";
  /** Extra fields of the error frame (`retryAfterMs`, `term`, …). */
  readonly fields: Readonly<Record<string, unknown>>;
  constructor(code: string, message: string, options: BaseErrorOptions & { fields?: Record<string, unknown> } = {}) {
    super(code, message, options);
    this.fields = options.fields ?? {};
  }
}

/** A local per-peer limit refused a stream. */
export class TooManyStreamsError extends BaseError {
  override name = "TooManyStreamsError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("TOO_MANY_STREAMS", shortMessage, options);
  }
}

/** Could not reach a peer (dial failed, connection refused, no addresses). */
export class DialError extends BaseError {
  override name = "DialError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("DIAL_FAILED", shortMessage, options);
  }
}

/** The peer was reached but does not speak the protocol. */
export class ProtocolNotSupportedError extends BaseError {
  override name = "ProtocolNotSupportedError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("PROTOCOL_NOT_SUPPORTED", shortMessage, options);
  }
}

/** `peer.key` exists but cannot be read or decoded. */
export class PeerKeyError extends BaseError {
  override name = "PeerKeyError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("PEER_KEY_INVALID", shortMessage, options);
  }
}

/** Bytes that should be a peer id multihash are not one. */
export class InvalidPeerIdError extends BaseError {
  override name = "InvalidPeerIdError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("PEER_ID_INVALID", shortMessage, options);
  }
}

/** Bytes do not hash to the CID they were fetched or added under. */
export class CidMismatchError extends BaseError {
  override name = "CidMismatchError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("CID_MISMATCH", shortMessage, options);
  }
}

/** A segment is larger than the caller allowed. */
export class SegmentTooLargeError extends BaseError {
  override name = "SegmentTooLargeError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("SEGMENT_TOO_LARGE", shortMessage, options);
  }
}

/** The segment store (Helia or Kubo) failed; `cause` holds the backend's error. */
export class SegmentStoreError extends BaseError {
  override name = "SegmentStoreError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("SEGMENT_STORE", shortMessage, options);
  }
}
