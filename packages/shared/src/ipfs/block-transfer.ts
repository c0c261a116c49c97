import { createHash } from "node:crypto";
import type { Libp2p, PeerId, Stream } from "@libp2p/interface";
import type { Blockstore } from "interface-blockstore";
import type { Multiaddr } from "@multiformats/multiaddr";
import { CarBlockIterator } from "@ipld/car/iterator";
import { CarWriter } from "@ipld/car/writer";
import * as dagJson from "@ipld/dag-json";
import * as dagPb from "@ipld/dag-pb";
import { createUnsafe } from "multiformats/block";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { z } from "zod";
import { pushable } from "it-pushable";
import { decode as decodeVarint, encode as encodeVarint, encodingLength } from "uint8-varint";
import { Uint8ArrayList } from "uint8arraylist";
import { BaseError } from "../errors.js";
import { ProtocolError, SegmentStoreError, SegmentTooLargeError } from "../net/errors.js";
import { decodeMessage, encodeMessage } from "../net/json.js";
import { ErrorFrameSchema } from "../net/message-stream.js";
import { abortError } from "../net/signals.js";
import type { Logger } from "../logger.js";
import { handleProtocol, openRawProtocolStream, type ProtocolRegistration } from "../net/protocol.js";
import { DEFAULT_SEGMENT_TIMEOUT } from "../net/constants.js";

/**
 * Block transfer from a provider the fetcher already knows: one request, and
 * the answer is a CARv1 stream of the blocks, parents before children. Where
 * bitswap trades want-lists and sends blocks in whole protobuf messages (each
 * read in full before it is sent), this is one stream of bytes, so a segment
 * moves at about the speed of the connection. Every block is checked against
 * its CID, and only blocks the request asked for (the DAG under its root, or
 * the listed CIDs) are accepted. A peer that does not speak it (Kubo, an
 * older node) is fetched from over bitswap instead.
 */
export const BLOCKS_PROTOCOL = "/rendermesh/blocks/1.0.0";

/** Most CIDs one `blocks` request may list (a render trace's sampled tensors are far fewer). */
export const MAX_BLOCKS_PER_REQUEST = 1024;

const CidString = z
  .string()
  .max(256)
  .refine((s) => {
    try {
      CID.parse(s);
      return true;
    } catch {
      return false;
    }
  }, "not a CID");

/** `dag`: every block under `root`; `blocks`: just these blocks, no links followed. */
export const BlocksRequest = z.discriminatedUnion("type", [
  z.strictObject({ type: z.literal("dag"), root: CidString }),
  z.strictObject({ type: z.literal("blocks"), cids: z.array(CidString).min(1).max(MAX_BLOCKS_PER_REQUEST) }),
]);
export type BlocksRequest = z.output<typeof BlocksRequest>;

/** Sent before the CAR bytes; a provider that holds nothing asked for answers with a `NOT_HELD` error frame instead. */
const CarFollows = z.strictObject({ type: z.literal("car") });

/** The codecs Rendermesh DAGs use: UnixFS segments (dag-pb, raw leaves) and render traces (dag-json roots, raw tensors). */
type Decoder = NonNullable<Parameters<typeof createUnsafe>[0]["codec"]>;
const CODECS = new Map<number, Decoder>([
  [raw.code, raw],
  [dagPb.code, dagPb],
  [dagJson.code, dagJson],
]);

/** The local blocks a server reads (never the networked store: answering must not fetch from anyone). */
export type LocalBlocks = Pick<Blockstore, "has" | "get">;

function links(cid: CID, bytes: Uint8Array): CID[] {
  const codec = CODECS.get(cid.code);
  if (!codec) return [];
  const block = createUnsafe({ cid, bytes, codec });
  return [...block.links()].map(([, link]) => link);
}

/** One block from a local store, whole (stores hand out a block in one chunk or several). */
export async function readLocal(blocks: LocalBlocks, cid: CID, signal: AbortSignal): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of blocks.get(cid, { signal })) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

export interface ServeBlocksOptions {
  logger?: Logger;
  /** Deadline of one answer in ms (default 120 s, a segment fetch's own deadline). */
  timeout?: number;
}

/**
 * Serves `BLOCKS_PROTOCOL` from `blocks` on `node`. Answers only from local
 * blocks: a DAG whose root is not held gets `NOT_HELD`; one held in part is
 * sent as far as it is held, and the fetcher finds the rest missing.
 */
export async function serveBlocks(node: Libp2p, blocks: LocalBlocks, options: ServeBlocksOptions = {}): Promise<ProtocolRegistration> {
  return handleProtocol(
    node,
    BLOCKS_PROTOCOL,
    async (stream, { signal }) => {
      const request = await stream.read(BlocksRequest);
      const roots = request.type === "dag" ? [CID.parse(request.root)] : request.cids.map((c) => CID.parse(c));
      const held = await Promise.all(roots.map((cid) => blocks.has(cid, { signal })));
      if (!held.some(Boolean)) {
        throw new ProtocolError(
          "NOT_HELD",
          request.type === "dag" ? `This node does not hold ${request.root}.` : "This node holds none of the blocks asked for.",
        );
      }
      await stream.write({ type: "car" });
      const out = stream.unwrap();
      try {
        await sendCar(out, roots, request.type === "dag", blocks, signal);
      } catch (err) {
        // Mid-CAR an error frame would read as corrupt CAR bytes: reset instead, the fetcher sees the stream fail.
        out.abort(err instanceof Error ? err : new Error(String(err)));
        throw err;
      }
    },
    { timeout: options.timeout ?? DEFAULT_SEGMENT_TIMEOUT, ...(options.logger ? { logger: options.logger } : {}) },
  );
}

/** Blocks read ahead of the one being sent (4 MiB of 1 MiB leaves). */
const READ_AHEAD = 4;

async function sendCar(out: Stream, roots: CID[], follow: boolean, blocks: LocalBlocks, signal: AbortSignal): Promise<void> {
  const { writer, out: bytes } = CarWriter.create(follow ? roots : roots.slice(0, 1));
  const pump = (async () => {
    for await (const chunk of bytes) {
      if (!out.send(chunk)) await out.onDrain({ signal });
    }
  })();
  // The writer waits for the pump; if the pump fails (the fetcher went away), the writes must stop too.
  pump.catch(() => {});
  const sent = new Set<string>();
  // Reads run a few blocks ahead of the send, so the disk and the connection work at once.
  const reads = new Map<string, Promise<Uint8Array | undefined>>();
  const read = (cid: CID): Promise<Uint8Array | undefined> => {
    const key = cid.toString();
    let pending = reads.get(key);
    if (!pending) {
      pending = Promise.resolve(blocks.has(cid, { signal })).then((held) => (held ? readLocal(blocks, cid, signal) : undefined));
      pending.catch(() => {}); // awaited (and thrown) when its turn comes; one never reached must not go unhandled
      reads.set(key, pending);
    }
    return pending;
  };
  try {
    const stack = [...roots].reverse();
    while (stack.length > 0) {
      signal.throwIfAborted();
      const cid = stack.pop()!;
      const key = cid.toString();
      if (sent.has(key)) continue;
      for (let i = stack.length - 1; i >= Math.max(0, stack.length - READ_AHEAD); i--) {
        if (!sent.has(stack[i]!.toString())) void read(stack[i]!);
      }
      const data = await read(cid);
      reads.delete(key);
      if (!data) {
        if (follow) break; // held in part: what is below a missing block cannot be walked
        continue;
      }
      sent.add(key);
      await Promise.race([writer.put({ cid, bytes: data }), pump]);
      if (follow) {
        const children = links(cid, data);
        for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]!);
      }
    }
  } finally {
    await Promise.race([writer.close(), pump]);
  }
  await pump;
}

export interface FetchBlocksOptions {
  signal: AbortSignal;
  /** Refuse more than this many bytes of blocks (a segment's size cap). */
  maxBytes: number;
  /** Called with each block once it is checked against its CID, in the order they arrive. */
  onBlock?: (cid: CID, bytes: Uint8Array) => void;
}

/** The provider refused the request for now: it already serves as many of our requests as it will. */
export class ProviderBusyError extends SegmentStoreError {
  override name = "ProviderBusyError";
}

/** The provider answered that it holds none of what was asked for, or its answer lacked some of it. */
export class NotHeldError extends SegmentStoreError {
  override name = "NotHeldError";
}

/**
 * Fetches the blocks `request` asks for from `provider` over
 * `BLOCKS_PROTOCOL`, each checked against its CID; returns them by CID
 * string. For `dag`, every block of the DAG or `NotHeldError`; for `blocks`,
 * those the provider holds (the caller sees which are missing), or
 * `NotHeldError` if it holds none. Throws `ProtocolNotSupportedError` if the
 * peer does not speak it, `SegmentStoreError` if it sends a block that is not
 * what was asked for, and `SegmentTooLargeError` past `maxBytes`.
 */
export async function fetchBlocks(
  node: Libp2p,
  provider: Multiaddr | PeerId,
  request: BlocksRequest,
  options: FetchBlocksOptions,
): Promise<Map<string, Uint8Array>> {
  const { signal } = options;
  const from = provider.toString();
  // The raw stream from the first byte: the answer's header frame is parsed here, then the CAR. (A message
  // reader on it, unwrapped after the header, loses a short answer that arrived whole, its end included, meanwhile.)
  const stream = await openRawProtocolStream(node, provider, BLOCKS_PROTOCOL, { signal });
  const incoming = readIncoming(stream, signal);
  try {
    const frame = encodeMessage(request);
    if (!stream.send(new Uint8ArrayList(encodeVarint(frame.byteLength), frame))) await stream.onDrain({ signal });
    // Blocks plus their CAR framing and the DAG's inner nodes (a few KiB per 174 leaves).
    const limit = options.maxBytes + Math.ceil(options.maxBytes / 64) + 65_536;
    const body = await readHeader(incoming, from, limit, options.maxBytes);
    const expected = new Set(request.type === "dag" ? [request.root] : request.cids);
    const got = new Map<string, Uint8Array>();
    const car = await CarBlockIterator.fromIterable(body);
    for await (const { cid, bytes } of car) {
      signal.throwIfAborted();
      const key = cid.toString();
      if (!expected.has(key) || got.has(key)) {
        throw new SegmentStoreError(`${from} sent block ${key}, which was not asked for.`, {
          hint: "The provider is faulty or dishonest; fetch from another provider.",
        });
      }
      checkHash(cid, bytes, from);
      got.set(key, bytes);
      options.onBlock?.(cid, bytes);
      if (request.type === "dag") for (const link of links(cid, bytes)) expected.add(link.toString());
    }
    const missing = [...expected].filter((k) => !got.has(k));
    if (missing.length > 0 && request.type === "dag") {
      throw new NotHeldError(
        `${from} holds ${got.size} of the ${expected.size} blocks asked for (${missing[0]}${missing.length > 1 ? ` and ${missing.length - 1} more` : ""} missing).`,
      );
    }
    await stream.close({ signal });
    return got;
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)));
    if (signal.aborted) throw abortError(signal, `Fetching blocks from ${from}`);
    if (err instanceof BaseError) throw err;
    throw new SegmentStoreError(`Fetching blocks from ${from} failed: ${String((err as Error)?.message ?? err)}`, { cause: err });
  }
}

/** Every chunk `stream` receives until the remote closes its end (or the stream closes, or `signal` aborts). */
function readIncoming(stream: Stream, signal: AbortSignal): AsyncIterable<Uint8Array> {
  const out = pushable<Uint8Array>();
  const onMessage = (evt: { data: Uint8Array | Uint8ArrayList }) => {
    // A list's parts one by one: joining them would copy every byte once more.
    if (evt.data instanceof Uint8Array) out.push(evt.data);
    else for (const part of evt.data) out.push(part);
  };
  const onEnd = () => out.end();
  const onClose = (evt: Event) => out.end((evt as Event & { error?: Error }).error);
  const onAbort = () => out.end(signal.reason as Error);
  stream.addEventListener("message", onMessage);
  stream.addEventListener("remoteCloseWrite", onEnd);
  stream.addEventListener("close", onClose);
  signal.addEventListener("abort", onAbort, { once: true });
  // What arrived before we listened is handed to the new listener in a microtask; an end that came with it
  // fired its event to nobody, so it is read from the stream's state once those bytes are in.
  queueMicrotask(() => {
    if (stream.remoteWriteStatus === "closed" || stream.readStatus === "closed") out.end();
  });
  const detach = () => {
    stream.removeEventListener("message", onMessage);
    stream.removeEventListener("remoteCloseWrite", onEnd);
    stream.removeEventListener("close", onClose);
    signal.removeEventListener("abort", onAbort);
  };
  return (async function* () {
    try {
      yield* out;
    } finally {
      detach();
    }
  })();
}

/**
 * Reads the answer's header frame (`{ type: "car" }`, or an error frame) off
 * the front of `incoming`; returns the rest, capped at `limit` bytes.
 */
async function readHeader(
  incoming: AsyncIterable<Uint8Array>,
  from: string,
  limit: number,
  maxBytes: number,
): Promise<AsyncIterable<Uint8Array>> {
  const iterator = incoming[Symbol.asyncIterator]();
  const head = new Uint8ArrayList();
  let length: number | undefined;
  while (true) {
    if (length === undefined && head.byteLength > 0) {
      try {
        length = decodeVarint(head);
      } catch {
        if (head.byteLength >= 10) throw new SegmentStoreError(`${from} answered with a malformed header.`);
      }
    }
    if (length !== undefined) {
      if (length > MAX_HEADER_BYTES) throw new SegmentStoreError(`${from} answered with a ${length}-byte header.`);
      if (head.byteLength >= encodingLength(length) + length) break;
    }
    const next = await iterator.next();
    if (next.done) {
      throw new SegmentStoreError(`${from} closed the stream before answering.`, {
        hint: "The provider may have stopped; try again or ask another provider.",
      });
    }
    head.append(next.value);
  }
  const start = encodingLength(length);
  const answer = z.union([CarFollows, ErrorFrameSchema]).safeParse(decodeMessage(head.sublist(start, start + length)));
  if (!answer.success) throw new SegmentStoreError(`${from} answered with a header that is neither a CAR nor an error.`);
  if (answer.data.type === "error") {
    const text = `${from} answered ${answer.data.code}: ${answer.data.message}`;
    if (answer.data.code === "NOT_HELD") throw new NotHeldError(`${from} does not hold it: ${answer.data.message}`);
    if (answer.data.code === "BUSY") throw new ProviderBusyError(text, { hint: "The provider is busy; retry shortly." });
    throw new SegmentStoreError(text);
  }
  const rest = head.sublist(start + length);
  return (async function* () {
    let received = 0;
    const cap = (chunk: Uint8Array) => {
      received += chunk.byteLength;
      if (received > limit) throw new SegmentTooLargeError(`${from} sent more than the ${maxBytes}-byte limit.`);
      return chunk;
    };
    for (const part of rest) yield cap(part);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield cap(next.value);
  })();
}

/** The header is `{ "type": "car" }` or an error frame: a few hundred bytes at most. */
const MAX_HEADER_BYTES = 4096;

function checkHash(cid: CID, bytes: Uint8Array, from: string): void {
  if (cid.multihash.code !== sha256.code) {
    throw new SegmentStoreError(
      `${from} sent block ${cid.toString()}, whose hash function (0x${cid.multihash.code.toString(16)}) is not sha2-256.`,
      {
        hint: "Rendermesh segments and traces are hashed with sha2-256.",
      },
    );
  }
  const digest = createHash("sha256").update(bytes).digest();
  if (!digest.equals(cid.multihash.digest)) {
    throw new SegmentStoreError(`${from} sent block ${cid.toString()} with bytes that do not match its CID.`, {
      hint: "The provider is faulty or dishonest; fetch from another provider.",
    });
  }
}
