import type { Stream } from "@libp2p/interface";
import { lpStream, type LengthPrefixedStream } from "@libp2p/utils";
import { decode as decodeVarint, encode as encodeVarint, encodingLength } from "uint8-varint";
import { Uint8ArrayList } from "uint8arraylist";
import { z } from "zod";
import { DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MESSAGE_TIMEOUT } from "./constants.js";
import { AbortError, InvalidMessageError, MessageTooLargeError, RemoteError, StreamClosedError, TimeoutError } from "./errors.js";
import { decodeMessage, encodeMessage } from "./json.js";
import { abortError, withDeadline, type TimeoutOptions } from "./signals.js";

/**
 * The shape of an error frame in every Rendermesh protocol: `type: "error"`
 * is reserved in all of them. Extra fields (`retryAfterMs`, `term`, …) are
 * kept. protocol/'s `ErrorMessage` is the strict version with the reason
 * code enum.
 */
export const ErrorFrameSchema = z.looseObject({
  type: z.literal("error"),
  code: z.string().min(1).max(64),
  message: z.string().max(2048),
});
export type ErrorFrame = z.output<typeof ErrorFrameSchema>;

export interface MessageStreamInit {
  /** Largest frame accepted or sent (default 256 KiB). */
  maxMessageBytes?: number;
  /** Default deadline of each read/write in ms (default 30 s; 0 disables). */
  timeout?: number;
  /**
   * A signal that also bounds every read and write (e.g. a handler's
   * deadline). It does not bound `writeError` or `close`, so an error reply
   * can still go out after the deadline passed.
   */
  signal?: AbortSignal;
}

/** Options of `read`, `write` and `messages`: a signal, and a per-call deadline in ms. */
export type MessageOptions = TimeoutOptions;

const END = Symbol("end");
const MAX_WIRE_ERROR_TEXT = 1024;

/** libp2p's own buffer default; the buffer must always hold at least two frames. */
const MIN_READ_BUFFER = 4 * 1024 * 1024;

/**
 * Length-prefixed (unsigned varint) UTF-8 JSON messages over one libp2p 3
 * stream, each validated with a zod schema on receipt and capped in size.
 *
 * Framing errors (an oversized frame, a stream that ends mid-frame, a read
 * that times out after part of a frame arrived) leave the stream unreadable:
 * later reads throw the same error. Bad JSON and schema failures do not, the
 * next frame can still be read.
 */
export class MessageStream {
  readonly stream: Stream;
  readonly maxMessageBytes: number;
  readonly timeout: number;
  readonly #signal: AbortSignal | undefined;
  readonly #lp: LengthPrefixedStream<Stream>;
  /** Set by the length decoder as soon as a byte of the next frame arrived. */
  #inFrame = false;
  #declaredLength: number | undefined;
  #readError: Error | undefined;
  #ended = false;
  #discarding = false;
  #receivedError: RemoteError | undefined;

  constructor(stream: Stream, init: MessageStreamInit = {}) {
    this.stream = stream;
    this.maxMessageBytes = init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.timeout = init.timeout ?? DEFAULT_MESSAGE_TIMEOUT;
    this.#signal = init.signal;
    const maxLengthLength = encodingLength(this.maxMessageBytes);
    this.#lp = lpStream(stream, {
      maxDataLength: this.maxMessageBytes,
      maxLengthLength,
      maxBufferSize: Math.max(MIN_READ_BUFFER, 2 * (this.maxMessageBytes + maxLengthLength)),
      lengthDecoder: (buf: Uint8ArrayList): number => {
        this.#inFrame = true;
        // lpStream only checks the prefix length once a varint decodes, so a
        // peer sending endless continuation bytes must be stopped here.
        if (buf.byteLength > maxLengthLength) throw new MessageTooLargeError(undefined, this.maxMessageBytes);
        const length = decodeVarint(buf);
        this.#declaredLength = length;
        return length;
      },
    });
  }

  /** The last error frame the peer sent where another message was expected (thrown by `read` as `RemoteError`). */
  get receivedError(): RemoteError | undefined {
    return this.#receivedError;
  }

  /** True once the remote closed its end and every frame it sent has been read. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Reads the next message and validates it against `schema`.
   *
   * An error frame (`type: "error"`) is returned if `schema` accepts it (a
   * response union that models errors), and thrown as `RemoteError`
   * otherwise. Also throws `StreamClosedError` if the stream ended instead,
   * `InvalidMessageError`, `MessageTooLargeError`, `TimeoutError` or
   * `AbortError`.
   */
  async read<S extends z.ZodType>(schema: S, options: MessageOptions = {}): Promise<z.output<S>> {
    const frame = await this.#readFrame(options);
    if (frame === END) throw new StreamClosedError("The stream ended before the expected message arrived.");
    return this.#parse(schema, frame);
  }

  /**
   * Every message until the peer closes its end, each validated with
   * `schema`. `options.timeout` bounds the wait for each message (an idle
   * timeout), not the whole iteration.
   */
  async *messages<S extends z.ZodType>(schema: S, options: MessageOptions = {}): AsyncGenerator<z.output<S>, void, undefined> {
    while (true) {
      const frame = await this.#readFrame(options);
      if (frame === END) return;
      yield await this.#parse(schema, frame);
    }
  }

  /**
   * Encodes `message` as JSON (bigints as decimal strings) and sends it as one
   * frame. A message over `maxMessageBytes` throws `MessageTooLargeError` and
   * nothing is sent.
   */
  async write(message: unknown, options: MessageOptions = {}): Promise<void> {
    const bytes = encodeMessage(message);
    if (bytes.byteLength > this.maxMessageBytes) {
      throw new MessageTooLargeError(bytes.byteLength, this.maxMessageBytes, {
        hint: "Nothing was sent. Send less per message, or raise maxMessageBytes on both ends of this protocol.",
      });
    }
    await withDeadline(options, this.timeout, (signal) => this.#send(bytes, signal), this.#signal);
  }

  /**
   * Sends an error frame `{ type: "error", code, message, ...fields }`. Not
   * bounded by the init signal, so a handler can still answer after its
   * deadline.
   */
  async writeError(code: string, message: string, fields: Record<string, unknown> = {}, options: MessageOptions = {}): Promise<void> {
    const text = message.length > MAX_WIRE_ERROR_TEXT ? `${message.slice(0, MAX_WIRE_ERROR_TEXT - 1)}…` : message;
    const frame: ErrorFrame = { ...fields, type: "error", code, message: text };
    const bytes = encodeMessage(frame);
    await withDeadline(options, this.timeout, (signal) => this.#send(bytes, signal));
  }

  /**
   * Closes our writable end once everything written has been handed to the
   * transport; the peer then sees the end of the stream. We can still read
   * until the peer closes its end. Resets the stream if closing fails.
   */
  async close(options: MessageOptions = {}): Promise<void> {
    if (this.stream.writeStatus === "closed" || this.stream.writeStatus === "closing") return;
    try {
      await withDeadline(options, this.timeout, (signal) => this.stream.close({ signal }));
    } catch (err) {
      this.stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * Hands over the raw stream for bytes that are not messages (a CAR after
   * its header message): anything already received but not yet read as a
   * message is put back, so the next read of the raw stream starts there.
   * Message reads fail after this; `write`, `close` and `abort` still work.
   */
  unwrap(): Stream {
    this.#readError ??= new StreamClosedError("This stream was handed over to raw reads.");
    return this.#lp.unwrap();
  }

  /** Resets the stream at once, dropping anything unsent or unread. */
  abort(err: Error): void {
    this.stream.abort(err);
  }

  /**
   * Stops reading: anything unread and anything the peer still sends is
   * dropped instead of buffered (so a flood after we gave up on the peer
   * cannot reset the stream before our reply is delivered). Later reads throw
   * `StreamClosedError`.
   */
  discardIncoming(): void {
    if (this.#discarding) return;
    this.#discarding = true;
    this.#readError ??= new StreamClosedError("Reading from this stream was stopped.");
    const stream = this.#lp.unwrap();
    stream.addEventListener("message", () => undefined);
  }

  /**
   * After we closed our end: wait up to `graceMs` for the peer to close its
   * end, then reset the stream so a silent peer cannot hold it open.
   */
  resetIfNotClosedWithin(graceMs: number): void {
    const stream = this.stream;
    if (stream.status !== "open") return;
    const timer = setTimeout(() => {
      if (stream.status === "open") stream.abort(new TimeoutError("The peer did not close the stream in time."));
    }, graceMs);
    timer.unref();
    stream.addEventListener("close", () => clearTimeout(timer), { once: true });
  }

  async #send(bytes: Uint8Array, signal: AbortSignal): Promise<void> {
    if (signal.aborted) throw abortError(signal, "Writing a message");
    try {
      // Written to the stream itself rather than through the lpStream
      // wrapper, which refuses writes once unwrapped by discardIncoming().
      if (!this.stream.send(new Uint8ArrayList(encodeVarint(bytes.byteLength), bytes))) {
        await this.stream.onDrain({ signal });
      }
    } catch (err) {
      if (signal.aborted) throw abortError(signal, "Writing a message");
      throw new StreamClosedError("Cannot write to the stream: it is closed or was reset.", { cause: err });
    }
  }

  async #readFrame(options: MessageOptions): Promise<Uint8ArrayList | typeof END> {
    if (this.#readError) throw this.#readError;
    if (this.#ended) return END;
    return withDeadline(options, this.timeout, (signal) => this.#readFrameWithin(signal), this.#signal);
  }

  async #readFrameWithin(signal: AbortSignal): Promise<Uint8ArrayList | typeof END> {
    if (signal.aborted) throw abortError(signal, "Reading a message");
    this.#inFrame = false;
    this.#declaredLength = undefined;
    try {
      const frame = await this.#lp.read({ signal });
      this.#inFrame = false;
      return frame;
    } catch (err) {
      const name = (err as { name?: unknown } | null)?.name;
      if (name === "UnexpectedEOFError" && !this.#inFrame) {
        this.#ended = true;
        return END;
      }
      const error = this.#readFailure(err, signal);
      // A timeout before any byte of the next frame arrived leaves the
      // framing intact; every other failure loses it for good.
      const recoverable = (error instanceof TimeoutError || error instanceof AbortError) && !this.#inFrame;
      if (!recoverable) this.#readError = error;
      throw error;
    }
  }

  #readFailure(err: unknown, signal: AbortSignal): Error {
    if (err instanceof MessageTooLargeError) return err;
    const name = (err as { name?: unknown } | null)?.name;
    if (name === "InvalidDataLengthError" || name === "InvalidDataLengthLengthError") {
      return new MessageTooLargeError(this.#declaredLength, this.maxMessageBytes, { cause: err });
    }
    if (name === "InvalidMessageLengthError") {
      return new InvalidMessageError("The message length prefix is invalid.", { cause: err });
    }
    if (signal.aborted) return abortError(signal, "Reading a message");
    if (name === "UnexpectedEOFError") {
      return new StreamClosedError("The stream ended in the middle of a message.", { cause: err });
    }
    if (name === "StreamResetError") return new StreamClosedError("The peer reset the stream.", { cause: err });
    if (name === "StreamBufferError") {
      return new StreamClosedError("The stream was reset: the peer sent more than could be buffered.", { cause: err });
    }
    return new StreamClosedError("Reading from the stream failed.", { cause: err });
  }

  async #parse<S extends z.ZodType>(schema: S, frame: Uint8ArrayList): Promise<z.output<S>> {
    const value = decodeMessage(frame);
    const result = await schema.safeParseAsync(value);
    if (result.success) return result.data;
    if (typeof value === "object" && value !== null && (value as { type?: unknown }).type === "error") {
      const parsed = ErrorFrameSchema.safeParse(value);
      if (!parsed.success) throw invalid("The peer sent a malformed error message", parsed.error);
      this.#receivedError = new RemoteError(parsed.data.code, parsed.data.message, { frame: parsed.data });
      throw this.#receivedError;
    }
    throw invalid("The message does not match the protocol schema", result.error);
  }
}

function invalid(prefix: string, error: z.ZodError): InvalidMessageError {
  const issues = error.issues.map((issue) => `${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}`);
  const shown = issues.slice(0, 3).join("; ");
  const more = issues.length > 3 ? ` (+${issues.length - 3} more)` : "";
  return new InvalidMessageError(`${prefix}: ${shown}${more}.`, { issues, cause: error });
}
