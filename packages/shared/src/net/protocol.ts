import { setMaxListeners } from "node:events";
import type { AbortOptions, Connection, Libp2p, PeerId, Stream } from "@libp2p/interface";
import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import type { z } from "zod";
import { createLogger, type Logger } from "../logger.js";
import {
  DEFAULT_CLOSE_GRACE,
  DEFAULT_DIAL_TIMEOUT,
  DEFAULT_HANDLER_TIMEOUT,
  DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MAX_OUTBOUND_STREAMS,
  DEFAULT_MAX_STREAMS_PER_PEER,
  DEFAULT_MESSAGE_TIMEOUT,
  DEFAULT_REQUEST_TIMEOUT,
} from "./constants.js";
import {
  AbortError,
  DialError,
  InvalidMessageError,
  MessageTooLargeError,
  ProtocolError,
  ProtocolNotSupportedError,
  RemoteError,
  StreamClosedError,
  TimeoutError,
  TooManyStreamsError,
  WireErrorCode,
} from "./errors.js";
import { MessageStream } from "./message-stream.js";
import { abortError, raceSignal, timeoutReason, withDeadline, type TimeoutOptions } from "./signals.js";

/** What a handler learns about the stream it serves. */
export interface ProtocolHandlerContext {
  readonly protocol: string;
  readonly remotePeer: PeerId;
  readonly connection: Connection;
  /** Aborts at the handler's deadline or when the protocol is unhandled; pass it to long work. */
  readonly signal: AbortSignal;
  readonly log: Logger;
}

/**
 * Serves one inbound stream. Read and write with `stream`; return to close
 * it gracefully. Throw `ProtocolError(code, message)` to answer the peer with
 * that error code; any other failure is answered with a typed error frame
 * (`BAD_MESSAGE`, `MESSAGE_TOO_LARGE`, `TIMEOUT`, `INTERNAL`) and never
 * reaches the node.
 */
export type ProtocolHandler = (stream: MessageStream, context: ProtocolHandlerContext) => void | Promise<void>;

export interface HandleProtocolOptions {
  /** libp2p's cap on concurrent inbound streams of this protocol per connection (default 32). */
  maxInboundStreams?: number;
  /** libp2p's cap on concurrent outbound streams of this protocol per connection (default 64). */
  maxOutboundStreams?: number;
  /** Handlers in flight for one remote peer, across all its connections (default 8); more are answered `BUSY`. */
  maxStreamsPerPeer?: number;
  /** Deadline of one whole handler run in ms (default 30 s); `0` for long-lived streaming handlers. */
  timeout?: number;
  /** Default deadline of each read/write in ms (default 30 s). */
  messageTimeout?: number;
  /** Frame cap for this protocol (default 256 KiB). */
  maxMessageBytes?: number;
  /** After closing our end, how long the peer has to close its end before the stream is reset (default 5 s). */
  closeGrace?: number;
  runOnLimitedConnection?: boolean;
  /** Replace an existing handler for the protocol. */
  force?: boolean;
  logger?: Logger;
}

/** A registered protocol; `unhandle` stops serving it. */
export interface ProtocolRegistration {
  readonly protocol: string;
  /** Handlers running now, across all peers. */
  readonly active: number;
  /** Handlers running now for one peer. */
  activeFor(peer: PeerId): number;
  /** Stops accepting streams and aborts the `signal` of every handler still running. */
  unhandle(options?: AbortOptions): Promise<void>;
}

/** The part of a libp2p node that `handleProtocol` uses. */
export type ProtocolHost = Pick<Libp2p, "handle" | "unhandle">;

/** The part of a libp2p node that `openProtocolStream` and `request` use. */
export type ProtocolDialer = Pick<Libp2p, "dialProtocol">;

/** A peer to open a stream to: its id (addresses from the peer store), a multiaddr (string or object) ending in `/p2p/<id>`, or several. */
export type PeerTarget = PeerId | Multiaddr | Multiaddr[] | string;

/**
 * Registers `handler` for `protocolId` on `node`, with Rendermesh's framing,
 * limits, deadlines and error replies around it.
 *
 * @example
 * ```ts
 * const reg = await handleProtocol(node, "/rendermesh/quote/1.0.0", async (stream) => {
 *   const req = await stream.read(QuoteRequest);
 *   await stream.write({ type: "quote", pricePerSecond: 5n * 10n ** 18n });
 * });
 * // later: await reg.unhandle()
 * ```
 */
export async function handleProtocol(
  node: ProtocolHost,
  protocolId: string,
  handler: ProtocolHandler,
  options: HandleProtocolOptions = {},
): Promise<ProtocolRegistration> {
  const log = (options.logger ?? createLogger({ name: "net" })).child({ protocol: protocolId });
  const maxStreamsPerPeer = options.maxStreamsPerPeer ?? DEFAULT_MAX_STREAMS_PER_PEER;
  const handlerTimeout = options.timeout ?? DEFAULT_HANDLER_TIMEOUT;
  const closeGrace = options.closeGrace ?? DEFAULT_CLOSE_GRACE;
  const messageInit = {
    maxMessageBytes: options.maxMessageBytes,
    timeout: options.messageTimeout ?? DEFAULT_MESSAGE_TIMEOUT,
  };
  // Each handler gets its own controller, aborted by its own timer or by
  // `unhandle`; nothing is attached to a long-lived signal per stream.
  const running = new Set<AbortController>();
  let stopReason: Error | undefined;
  const inFlight = new Map<string, number>();
  let active = 0;

  const finishWithError = async (stream: MessageStream, reply: ErrorReply): Promise<void> => {
    stream.discardIncoming();
    try {
      await stream.writeError(reply.code, reply.message, reply.fields);
      await stream.close();
      stream.resetIfNotClosedWithin(closeGrace);
    } catch (err) {
      log.debug({ err }, "could not deliver error reply");
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  };

  const onStream = async (raw: Stream, connection: Connection): Promise<void> => {
    const remotePeer = connection.remotePeer;
    const key = remotePeer.toString();
    const peerRunning = inFlight.get(key) ?? 0;
    if (peerRunning >= maxStreamsPerPeer) {
      log.debug({ peer: key, running: peerRunning }, "refusing stream: too many in flight for this peer");
      const refused = new MessageStream(raw, messageInit);
      await finishWithError(refused, {
        code: WireErrorCode.BUSY,
        message: `At most ${maxStreamsPerPeer} ${protocolId} streams may be in flight per peer.`,
        fields: { retryAfterMs: BUSY_RETRY_AFTER_MS },
      });
      return;
    }
    inFlight.set(key, peerRunning + 1);
    active++;
    const controller = new AbortController();
    setMaxListeners(Infinity, controller.signal);
    if (stopReason) controller.abort(stopReason);
    running.add(controller);
    const timer =
      handlerTimeout > 0 && Number.isFinite(handlerTimeout)
        ? setTimeout(() => controller.abort(timeoutReason(handlerTimeout)), handlerTimeout)
        : undefined;
    const signal = controller.signal;
    const stream = new MessageStream(raw, { ...messageInit, signal });
    const context: ProtocolHandlerContext = { protocol: protocolId, remotePeer, connection, signal, log };
    try {
      await raceSignal(
        Promise.resolve().then(() => handler(stream, context)),
        signal,
        `The ${protocolId} handler`,
      );
      stream.discardIncoming();
      await stream.close();
      stream.resetIfNotClosedWithin(closeGrace);
    } catch (err) {
      // An error frame where a request belongs is the peer's mistake, not ours.
      const reply =
        err instanceof RemoteError && stream.receivedError === err
          ? {
              code: WireErrorCode.BAD_MESSAGE,
              message: `Expected a request on ${protocolId}, but got an error frame (${err.code}); error frames are only answers.`,
            }
          : errorReply(err, handlerTimeout);
      if (reply.code === WireErrorCode.INTERNAL) log.error({ err, peer: key }, "handler failed");
      else log.debug({ err, peer: key, code: reply.code }, "answering with an error");
      await finishWithError(stream, reply);
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      running.delete(controller);
      const left = (inFlight.get(key) ?? 1) - 1;
      if (left > 0) inFlight.set(key, left);
      else inFlight.delete(key);
      active--;
    }
  };

  await node.handle(protocolId, onStream, {
    maxInboundStreams: options.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS,
    maxOutboundStreams: options.maxOutboundStreams ?? DEFAULT_MAX_OUTBOUND_STREAMS,
    runOnLimitedConnection: options.runOnLimitedConnection,
    ...(options.force ? { force: true as const } : {}),
  });

  return {
    protocol: protocolId,
    get active() {
      return active;
    },
    activeFor: (peer) => inFlight.get(peer.toString()) ?? 0,
    unhandle: async (opts) => {
      stopReason = new AbortError(`${protocolId} is no longer served.`);
      for (const c of running) c.abort(stopReason);
      await node.unhandle(protocolId, opts);
    },
  };
}

/** What an error frame says: code, text, and extra fields. */
export interface ErrorReply {
  code: string;
  message: string;
  fields?: Record<string, unknown>;
}

/** How long a peer refused with BUSY (too many streams) is told to wait. */
const BUSY_RETRY_AFTER_MS = 1_000;

/** The error frame a handler failure is answered with. Unknown failures stay undisclosed. */
export function errorReply(err: unknown, handlerTimeout?: number): ErrorReply {
  if (err instanceof ProtocolError) return { code: err.code, message: err.shortMessage, fields: { ...err.fields } };
  if (err instanceof MessageTooLargeError) return { code: WireErrorCode.MESSAGE_TOO_LARGE, message: err.shortMessage };
  if (err instanceof InvalidMessageError) return { code: WireErrorCode.BAD_MESSAGE, message: err.shortMessage };
  if (err instanceof StreamClosedError) {
    return { code: WireErrorCode.BAD_MESSAGE, message: "Expected a message, but the stream ended." };
  }
  if (err instanceof TimeoutError) {
    return {
      code: WireErrorCode.TIMEOUT,
      message: handlerTimeout ? `No answer within ${handlerTimeout} ms.` : "The request timed out.",
    };
  }
  if (err instanceof AbortError) return { code: WireErrorCode.BUSY, message: "The node stopped serving this protocol." };
  return { code: WireErrorCode.INTERNAL, message: "Internal error." };
}

export interface OpenProtocolStreamOptions extends TimeoutOptions {
  /** Frame cap for this protocol (default 256 KiB). `timeout` here bounds dial + negotiation (default 10 s). */
  maxMessageBytes?: number;
  /** Default deadline of each read/write on the returned stream (default 30 s). */
  messageTimeout?: number;
  /** Per-connection cap on our outbound streams of this protocol when we do not handle it ourselves (default 64). */
  maxOutboundStreams?: number;
  runOnLimitedConnection?: boolean;
}

function describeTarget(peer: PeerTarget): string {
  if (Array.isArray(peer)) return peer.map((a) => a.toString()).join(", ");
  return peer.toString();
}

/**
 * Dials `peer` (if not connected), negotiates `protocolId` and returns a
 * `MessageStream` on it.
 *
 * Throws `DialError`, `ProtocolNotSupportedError`, `TooManyStreamsError`,
 * `TimeoutError` or `AbortError`.
 */
export async function openProtocolStream(
  node: ProtocolDialer,
  peer: PeerTarget,
  protocolId: string,
  options: OpenProtocolStreamOptions = {},
): Promise<MessageStream> {
  return new MessageStream(await openRawProtocolStream(node, peer, protocolId, options), {
    maxMessageBytes: options.maxMessageBytes,
    timeout: options.messageTimeout ?? DEFAULT_MESSAGE_TIMEOUT,
  });
}

/**
 * `openProtocolStream` for a protocol whose bytes are not all messages (a
 * CAR after a header): the same dial, negotiation and errors, but the raw
 * libp2p stream, with nothing reading from it yet.
 */
export async function openRawProtocolStream(
  node: ProtocolDialer,
  peer: PeerTarget,
  protocolId: string,
  options: OpenProtocolStreamOptions = {},
): Promise<Stream> {
  return withDeadline(options, DEFAULT_DIAL_TIMEOUT, (signal) => openRawWithin(node, peer, protocolId, options, signal));
}

async function openRawWithin(
  node: ProtocolDialer,
  peer: PeerTarget,
  protocolId: string,
  options: OpenProtocolStreamOptions,
  signal: AbortSignal,
): Promise<Stream> {
  let target: PeerId | Multiaddr | Multiaddr[];
  try {
    target = typeof peer === "string" ? multiaddr(peer) : peer;
  } catch (cause) {
    throw new DialError(`"${String(peer)}" is not a multiaddr.`, { cause, hint: "Use a form like /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…" });
  }
  let raw: Stream;
  try {
    raw = await node.dialProtocol(target, protocolId, {
      signal,
      maxOutboundStreams: options.maxOutboundStreams ?? DEFAULT_MAX_OUTBOUND_STREAMS,
      runOnLimitedConnection: options.runOnLimitedConnection,
    });
  } catch (cause) {
    const what = `${protocolId} to ${describeTarget(peer)}`;
    if (signal.aborted) {
      const err = abortError(signal, `Opening ${what}`);
      if (err.cause === undefined) Object.defineProperty(err, "cause", { value: cause });
      throw err;
    }
    const name = (cause as { name?: unknown } | null)?.name;
    if (name === "UnsupportedProtocolError") {
      throw new ProtocolNotSupportedError(`The peer does not support ${protocolId}.`, {
        cause,
        hint: "The peer may run an incompatible Rendermesh version.",
      });
    }
    if (name === "TooManyOutboundProtocolStreamsError") {
      throw new TooManyStreamsError(`Too many open ${protocolId} streams to this peer.`, { cause });
    }
    throw new DialError(`Cannot open ${what}.`, { cause, hint: "Check that the peer is running and that its address is right." });
  }
  return raw;
}

/** Options of `request`; `timeout` bounds the whole exchange (default 30 s). */
export type RequestOptions = OpenProtocolStreamOptions;

/**
 * One request, one response: opens a stream, writes `message`, closes our
 * end, reads one message validated by `responseSchema`.
 *
 * An error frame from the peer throws `RemoteError` with the peer's code.
 *
 * @example
 * ```ts
 * const quote = await request(node, coordinator, "/rendermesh/quote/1.0.0",
 *   { type: "quote-request", seconds: 6 }, QuoteResponse, { timeout: 5_000 });
 * ```
 */
export async function request<S extends z.ZodType>(
  node: ProtocolDialer,
  peer: PeerTarget,
  protocolId: string,
  message: unknown,
  responseSchema: S,
  options: RequestOptions = {},
): Promise<z.output<S>> {
  return withDeadline(options, DEFAULT_REQUEST_TIMEOUT, async (signal) => {
    const stream = await openProtocolStream(node, peer, protocolId, { ...options, signal, timeout: 0 });
    try {
      await stream.write(message, { signal, timeout: 0 });
      await stream.close({ signal, timeout: 0 });
      const response = await stream.read(responseSchema, { signal, timeout: 0 });
      stream.discardIncoming();
      stream.resetIfNotClosedWithin(DEFAULT_CLOSE_GRACE);
      return response;
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  });
}
