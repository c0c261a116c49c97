import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { withBitswap, type BitswapOptions } from "@helia/bitswap";
import * as dagJson from "@ipld/dag-json";
import { unixfs, type UnixFS } from "@helia/unixfs";
import { isPeerId, type AbortOptions, type Libp2p, type PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import { FsBlockstore } from "blockstore-fs";
import { NextToLast } from "blockstore-fs/sharding";
import { createHeliaLight, type Helia, type HeliaInit } from "helia";
import { CID } from "multiformats/cid";
import { DEFAULT_MAX_SEGMENT_BYTES, DEFAULT_SEGMENT_TIMEOUT } from "../net/constants.js";
import { DialError, SegmentStoreError, SegmentTooLargeError, TimeoutError } from "../net/errors.js";
import { abortError, withDeadline } from "../net/signals.js";
import { openDatastore } from "./datastore-migration.js";
import { SEGMENT_IMPORT_OPTIONS } from "./import-settings.js";
import { sequentialWalker } from "./pin-walker.js";
import { assembleFile } from "./unixfs-assemble.js";
import {
  fetchBlocks,
  MAX_BLOCKS_PER_REQUEST,
  NotHeldError,
  ProviderBusyError,
  readLocal,
  serveBlocks,
  type BlocksRequest,
} from "./block-transfer.js";
import { ProtocolNotSupportedError } from "../net/errors.js";
import type { ProtocolRegistration } from "../net/protocol.js";
import { SmallBlocksBlockstore } from "./small-blocks.js";
import type { AddSegmentOptions, GetSegmentOptions, PinOptions, PutBlockOptions, SegmentStore } from "./segment-store.js";

export interface HeliaSegmentStoreInit {
  /**
   * The node's own libp2p node (from `createMeshNode`): Helia adds bitswap to
   * it instead of starting a second node. Only one Helia store per node.
   */
  libp2p: Libp2p;
  /**
   * Blocks of up to 64 KiB go to `<dataDir>/blocks.sqlite`, larger ones to
   * `<dataDir>/blocks` (a file each), pins and Helia state to
   * `<dataDir>/datastore.sqlite` (a data dir from before keeps them in
   * `<dataDir>/datastore/`; they are moved in on first start).
   */
  dataDir: string;
  /** Bitswap tuning (stream limits, message sizes). */
  bitswap?: BitswapOptions;
  /**
   * Wraps the blockstore before Helia gets it. The daemons never
   * set it; tests use it to make block reads slow (a pin that outlives its
   * deadline) without a real slow disk.
   */
  wrapBlockstore?: (blockstore: Blockstore) => Blockstore;
}

type Blockstore = NonNullable<HeliaInit["blockstore"]>;

export interface HeliaSegmentStore extends SegmentStore {
  /** The underlying Helia node, for callers that need more than segments. */
  readonly helia: Helia;
  putBlock(cid: CID, bytes: Uint8Array, options?: PutBlockOptions): Promise<void>;
  putBlocks(blocks: ReadonlyArray<{ cid: CID; bytes: Uint8Array }>, options?: AbortOptions): Promise<void>;
  getBlock(cid: CID, options?: GetSegmentOptions): Promise<Uint8Array>;
}

/**
 * The default segment store: an embedded Helia node with a filesystem
 * blockstore, sharing the caller's libp2p node. It serves its blocks over
 * `BLOCKS_PROTOCOL` and bitswap, and fetches from named providers over
 * `BLOCKS_PROTOCOL` (one CAR stream per segment, or per batch of trace
 * blocks), falling back to bitswap for peers without it.
 *
 * It is built from `createHeliaLight` plus the bitswap mixin rather than
 * `createHelia`, whose libp2p defaults would add public bootstrap peers, the
 * Amino DHT, delegated routing and trustless HTTP gateways. Here there are
 * no routers and no HTTP block brokers: blocks come from peers we are
 * connected to, and `get({ providers })` connects to the provider first.
 */
export async function createHeliaSegmentStore(init: HeliaSegmentStoreInit): Promise<HeliaSegmentStore> {
  const blocksDir = join(init.dataDir, "blocks");
  const datastoreDir = join(init.dataDir, "datastore");
  await mkdir(init.dataDir, { recursive: true, mode: 0o700 });
  const files = wholeFileReads(new FsBlockstore(blocksDir, { shardingStrategy: SHARDING }), blocksDir);
  await files.open();
  const cannotOpen = (file: string, cause: unknown) =>
    new SegmentStoreError(`Cannot open the embedded IPFS node's store ${file}.`, {
      cause,
      hint: `Check that ${file} is writable and that no other process uses this data dir.`,
    });
  let blockstore: SmallBlocksBlockstore;
  try {
    blockstore = new SmallBlocksBlockstore(`${blocksDir}.sqlite`, files);
  } catch (cause) {
    await files.close();
    throw cannotOpen(`${blocksDir}.sqlite`, cause);
  }
  const { datastore } = await openDatastore(datastoreDir).catch(async (cause: unknown) => {
    await files.close();
    blockstore.close();
    throw cannotOpen(`${datastoreDir}.sqlite`, cause);
  });
  const closeStores = async () => {
    await Promise.allSettled([
      files.close(),
      Promise.resolve().then(() => blockstore.close()),
      Promise.resolve().then(() => datastore.close()),
    ]);
  };

  // dag-json: the codec of render-trace roots (diffusion pipelines), so Helia can pin and serve them.
  const local = init.wrapBlockstore ? init.wrapBlockstore(blockstore) : blockstore;
  const helia = createHeliaLight({
    blockstore: local,
    datastore,
    routers: [],
    blockBrokers: [],
    codecs: [dagJson],
  });
  // withBitswap reads the node from `helia.libp2p`; giving it ours (instead of
  // withLibp2p, which always creates a node) also means helia.stop() leaves
  // our node running.
  Object.defineProperty(helia, "libp2p", { value: init.libp2p, enumerable: true, configurable: true });
  withBitswap(helia as Parameters<typeof withBitswap>[0], init.bitswap);
  try {
    await helia.start();
  } catch (cause) {
    await closeStores();
    throw new SegmentStoreError("Cannot start the embedded IPFS node.", {
      cause,
      hint: "Only one Helia store can share a libp2p node; check the data dir is writable.",
    });
  }
  let served: ProtocolRegistration;
  try {
    served = await serveBlocks(init.libp2p, local);
  } catch (cause) {
    await helia.stop().catch(() => {});
    await closeStores();
    throw new SegmentStoreError("Cannot serve blocks on this libp2p node.", {
      cause,
      hint: "Only one Helia store can share a libp2p node.",
    });
  }
  return new HeliaStore(
    helia,
    unixfs(helia),
    init.libp2p,
    local,
    (fn) => datastore.writeBatch(fn),
    async () => {
      await served.unhandle().catch(() => {});
      await closeStores();
    },
  );
}

/** A session's providers all answered that they do not hold a block (Helia gives up on the session then). */
const notHeld = (cause: unknown) => (cause as { name?: unknown } | null)?.name === "LoadBlockFailedError";

function notHeldError(what: string, providers: number, cause: unknown): SegmentStoreError {
  return new SegmentStoreError(
    `${what} failed: ${providers === 1 ? "its provider does not hold it" : `none of its ${providers} providers holds it`}.`,
    {
      cause,
      hint: "The provider may have lost the block or never stored it; ask another provider that holds it.",
    },
  );
}

/** blockstore-fs's default layout (the directory is the next-to-last two characters of the base32 multihash). */
const SHARDING = new NextToLast();

/**
 * Reads each block in one `readFile` instead of blockstore-fs's read stream
 * (64 KiB chunks, each an event-loop turn, joined again by every caller:
 * bitswap's sender, the pin walk, `cat`). A 1 MiB leaf is then a few turns
 * instead of ~18, which counts most on a loaded machine, where each turn
 * waits to be scheduled. The layout on disk is blockstore-fs's own.
 */
function wholeFileReads(blockstore: FsBlockstore, dir: string): FsBlockstore {
  const streamed = blockstore.get.bind(blockstore);
  const get = async function* (cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    options?.signal?.throwIfAborted();
    const { dir: shard, file } = SHARDING.encode(cid);
    let bytes: Buffer;
    try {
      bytes = await readFile(join(dir, shard, file), { signal: options?.signal });
    } catch {
      if (options?.signal?.aborted) throw options.signal.reason;
      // Missing (or unreadable): blockstore-fs's own read gives its NotFoundError, by which Helia tells "not here".
      yield* streamed(cid, options);
      return;
    }
    yield new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  return Object.assign(blockstore, { get });
}

interface BlockBatch {
  waiters: Map<string, Array<{ resolve(bytes: Uint8Array | undefined): void; reject(err: unknown): void }>>;
}

class HeliaStore implements HeliaSegmentStore {
  readonly helia: Helia;
  readonly #fs: UnixFS;
  readonly #libp2p: Libp2p;
  readonly #closeStores: () => Promise<void>;
  /** The store under Helia's networked layer (what Helia reads from too). */
  readonly #local: Blockstore;
  #stopped = false;
  /** Blocks asked for in this turn of the event loop, by provider set, not yet requested (`#batchedBlock`). */
  readonly #batches = new Map<string, BlockBatch>();

  /** Runs a function with the datastore's writes in one transaction (`SqliteDatastore.writeBatch`). */
  readonly #writeBatch: <T>(fn: () => Promise<T>) => Promise<T>;

  constructor(
    helia: Helia,
    fs: UnixFS,
    libp2p: Libp2p,
    local: Blockstore,
    writeBatch: <T>(fn: () => Promise<T>) => Promise<T>,
    closeStores: () => Promise<void>,
  ) {
    this.#local = local;
    this.#writeBatch = writeBatch;
    this.helia = helia;
    this.#fs = fs;
    this.#libp2p = libp2p;
    this.#closeStores = closeStores;
  }

  async add(bytes: Uint8Array, options: AddSegmentOptions = {}): Promise<CID> {
    let cid: CID;
    try {
      cid = await this.#fs.addBytes(bytes, { ...SEGMENT_IMPORT_OPTIONS, signal: options.signal });
    } catch (cause) {
      throw new SegmentStoreError("Cannot add the segment to the embedded IPFS node.", { cause });
    }
    if (options.pin ?? true) await this.pin(cid, { signal: options.signal });
    return cid;
  }

  async pin(cid: CID, options: PinOptions = {}): Promise<void> {
    const { known, ...rest } = options;
    try {
      // No `isPinned` shortcut: a pin cut off mid-walk leaves its root block marked while the pin itself was never
      // recorded, so only `pins.add` (AlreadyPinnedError once recorded) tells a finished pin from a broken one.
      // Blocks the caller still holds (`known`) are not read back: the walk only needs their links.
      const walk = async () => {
        for await (const _ of this.helia.pins.add(cid, { ...rest, walker: sequentialWalker({ known }) })) {
          // walking the DAG pins each block
        }
      };
      // With every block in hand the walk waits on no I/O, so its per-block records can go in as one transaction
      // (`writeBatch`) that only another such pin may share; a walk that reads blocks keeps one transaction per record.
      await (known ? this.#writeBatch(walk) : walk());
    } catch (cause) {
      if ((cause as { name?: unknown } | null)?.name === "AlreadyPinnedError") return;
      // The caller's deadline passed mid-walk: say so (TimeoutError or AbortError), as `get` does.
      if (options.signal?.aborted) throw abortError(options.signal, `Pinning ${cid.toString()}`);
      throw new SegmentStoreError(`Cannot pin ${cid.toString()}.`, { cause });
    }
  }

  async get(cid: CID, options: GetSegmentOptions = {}): Promise<Uint8Array> {
    return withDeadline(options, DEFAULT_SEGMENT_TIMEOUT, (signal) => this.#get(cid, options, signal));
  }

  async #get(cid: CID, options: GetSegmentOptions, signal: AbortSignal): Promise<Uint8Array> {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    const providers = options.providers ?? [];
    const what = `Fetching segment ${cid.toString()}`;
    try {
      if (providers.length > 0 && !(await this.helia.blockstore.has(cid, { signal }))) {
        const blocks = await this.#direct({ type: "dag", root: cid.toString() }, providers, signal, maxBytes, what);
        if (blocks) return assembleFile(cid, blocks, maxBytes);
        await this.#connect(providers, signal);
      }
      const session = this.#session(cid, providers, signal);
      const fs = session ? unixfs({ ...this.helia, blockstore: session } as Parameters<typeof unixfs>[0]) : this.#fs;
      const fetch = { signal };
      try {
        return await this.#read(fs, cid, fetch, maxBytes);
      } finally {
        session?.close();
      }
    } catch (cause) {
      if (cause instanceof SegmentTooLargeError || cause instanceof DialError || cause instanceof SegmentStoreError) throw cause;
      if (signal.aborted) {
        const err = abortError(signal, what);
        if (!(err instanceof TimeoutError)) throw err;
        throw new TimeoutError(err.shortMessage, {
          cause: err.cause,
          hint: "Check that a provider is reachable and still holds the segment.",
        });
      }
      if (notHeld(cause)) throw notHeldError(what, providers.length, cause);
      throw new SegmentStoreError(`${what} failed.`, { cause });
    }
  }

  /**
   * A Helia session for a fetch from known providers: its want-lists go to
   * those peers only. A plain `get` would broadcast every want to every
   * connected peer, and each of them (the other providers of a job) would
   * then look up every block of every trace the client checks (measured:
   * most of a provider's time outside inference during a job).
   */
  #session(root: CID, providers: Array<Multiaddr | PeerId>, signal: AbortSignal) {
    if (providers.length === 0) return undefined;
    return this.helia.blockstore.createSession(root, {
      providers: providers.map((p) => (isPeerId(p) ? p.toCID() : p)),
      signal,
    });
  }

  async #read(fs: UnixFS, cid: CID, fetch: AbortOptions, maxBytes: number): Promise<Uint8Array> {
    const stat = await fs.stat(cid, fetch);
    if (stat.size > BigInt(maxBytes)) {
      throw new SegmentTooLargeError(`Segment ${cid.toString()} is ${stat.size} bytes, over the ${maxBytes}-byte limit.`);
    }
    const out = new Uint8Array(Number(stat.size));
    let offset = 0;
    // Helia checks every block fetched from a peer against its CID before
    // it is stored or returned, so the bytes are verified.
    for await (const chunk of fs.cat(cid, fetch)) {
      if (offset + chunk.byteLength > out.byteLength) {
        throw new SegmentStoreError(`Segment ${cid.toString()} holds more bytes than its root block declares.`);
      }
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    if (offset !== out.byteLength) {
      throw new SegmentStoreError(`Segment ${cid.toString()} holds fewer bytes than its root block declares.`);
    }
    return out;
  }

  async putBlock(cid: CID, bytes: Uint8Array, options: PutBlockOptions = {}): Promise<void> {
    const { pin = true, ...rest } = options;
    try {
      if (!pin) {
        // Straight into the local store, past Helia's networked layer (a `has` check and a bitswap notice per
        // block, ~1 ms a block here): an unpinned block is a render-trace tensor that no peer can want before
        // the receipt naming its root is out. Helia reads it from the same store.
        await this.#local.put(cid, bytes, rest);
        return;
      }
      await this.helia.blockstore.put(cid, bytes, rest);
      if (!(await this.helia.pins.isPinned(cid, rest)))
        for await (const _ of this.helia.pins.add(cid, { ...rest, depth: 0, walker: sequentialWalker() })) void _;
    } catch (cause) {
      if ((cause as { name?: unknown } | null)?.name === "AlreadyPinnedError") return;
      throw new SegmentStoreError(`Cannot store block ${cid.toString()}.`, { cause });
    }
  }

  async putBlocks(blocks: ReadonlyArray<{ cid: CID; bytes: Uint8Array }>, options: AbortOptions = {}): Promise<void> {
    try {
      // As an unpinned `putBlock`: straight into the local store, whose `putMany` batches them in transactions.
      for await (const _ of this.#local.putMany(blocks, options)) void _;
    } catch (cause) {
      if (options.signal?.aborted) throw abortError(options.signal, `Storing ${blocks.length} blocks`);
      throw new SegmentStoreError(`Cannot store ${blocks.length} blocks (the first ${blocks[0]?.cid.toString() ?? "none"}).`, { cause });
    }
  }

  async getBlock(cid: CID, options: GetSegmentOptions = {}): Promise<Uint8Array> {
    return withDeadline(options, DEFAULT_SEGMENT_TIMEOUT, (signal) => this.#getBlock(cid, options, signal));
  }

  async #getBlock(cid: CID, options: GetSegmentOptions, signal: AbortSignal): Promise<Uint8Array> {
    const providers = options.providers ?? [];
    try {
      if (providers.length > 0) {
        // Joined to the batch before anything is awaited, so every block asked for in one turn goes in one request.
        const block = await this.#batchedBlock(cid, providers, signal);
        if (block) return block;
        if (!(await this.helia.blockstore.has(cid, { signal }))) await this.#connect(providers, signal);
      }
      // Helia checks a block fetched from a peer against its CID before returning it.
      const session = this.#session(cid, providers, signal);
      const chunks: Uint8Array[] = [];
      try {
        for await (const chunk of (session ?? this.helia.blockstore).get(cid, { signal })) chunks.push(chunk);
      } finally {
        session?.close();
      }
      return chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
    } catch (cause) {
      if (cause instanceof DialError || cause instanceof SegmentStoreError) throw cause;
      if (signal.aborted) throw abortError(signal, `Fetching block ${cid.toString()}`);
      if (notHeld(cause)) throw notHeldError(`Fetching block ${cid.toString()}`, providers.length, cause);
      throw new SegmentStoreError(`Fetching block ${cid.toString()} failed.`, { cause });
    }
  }

  async has(cid: CID, options: AbortOptions = {}): Promise<boolean> {
    return this.helia.blockstore.has(cid, options);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    try {
      await this.helia.stop();
    } finally {
      await this.#closeStores();
    }
  }

  /**
   * Fetches over `BLOCKS_PROTOCOL` from the first provider that answers with
   * every block asked for; each block is stored as it arrives. Undefined
   * when a provider does not speak the protocol (Kubo, an older node): the
   * caller then uses bitswap.
   */
  async #direct(
    request: BlocksRequest,
    providers: Array<Multiaddr | PeerId>,
    signal: AbortSignal,
    maxBytes: number,
    what: string,
  ): Promise<Map<string, Uint8Array> | undefined> {
    const failures: unknown[] = [];
    for (const provider of providers) {
      const puts: Array<Promise<unknown>> = [];
      try {
        const blocks = await fetchBlocks(this.#libp2p, provider, request, {
          signal,
          maxBytes,
          onBlock: (cid, bytes) => {
            // Stored while the rest arrives; through Helia's layer, so a bitswap want for it elsewhere is answered.
            const put = Promise.resolve(this.helia.blockstore.put(cid, bytes, { signal }));
            put.catch(() => {});
            puts.push(put);
          },
        });
        await Promise.all(puts);
        return blocks;
      } catch (cause) {
        await Promise.allSettled(puts);
        // A peer without the protocol (Kubo, an older node), or one with all its stream slots for us taken: bitswap.
        if (cause instanceof ProtocolNotSupportedError || cause instanceof ProviderBusyError) return undefined;
        if (cause instanceof SegmentTooLargeError || signal.aborted) throw cause;
        failures.push(cause);
      }
    }
    if (failures.every((f) => f instanceof NotHeldError)) throw notHeldError(what, providers.length, failures[0]);
    if (failures.every((f) => f instanceof DialError)) {
      throw new DialError("Cannot reach any provider of the segment.", {
        details: failures.map((f) => String((f as Error).message)),
        cause: failures[0],
        hint: "Check that the provider is running and that its multiaddr is right.",
      });
    }
    const last = failures.find((f) => !(f instanceof DialError) && !(f instanceof NotHeldError)) ?? failures[0];
    throw new SegmentStoreError(`${what} failed: ${(last as Error).message}`, { cause: last });
  }

  /**
   * One block from `providers` over `BLOCKS_PROTOCOL`, asked for together
   * with every other block wanted from the same providers in the same turn
   * of the event loop: a trace check wants a dozen blocks at once, and one
   * request for all of them is one round trip (and one of the provider's
   * per-peer stream slots) instead of a dozen. Undefined: use bitswap.
   */
  #batchedBlock(cid: CID, providers: Array<Multiaddr | PeerId>, signal: AbortSignal): Promise<Uint8Array | undefined> {
    const key = providers.map(String).join(" ");
    let batch = this.#batches.get(key);
    if (!batch) {
      const created: BlockBatch = { waiters: new Map() };
      batch = created;
      this.#batches.set(key, created);
      setImmediate(() => {
        this.#batches.delete(key);
        void this.#flush(created, providers);
      });
    }
    const waiters = batch.waiters.get(cid.toString()) ?? [];
    batch.waiters.set(cid.toString(), waiters);
    return new Promise<Uint8Array | undefined>((resolve, reject) => {
      const onAbort = () => reject(abortError(signal, `Fetching block ${cid.toString()}`));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });
      waiters.push({
        resolve: (bytes) => {
          signal.removeEventListener("abort", onAbort);
          resolve(bytes);
        },
        reject: (err) => {
          signal.removeEventListener("abort", onAbort);
          reject(err);
        },
      });
    });
  }

  async #flush(batch: BlockBatch, providers: Array<Multiaddr | PeerId>): Promise<void> {
    // The batch has its own deadline: each caller still gives up at its own (its promise rejects, the fetch goes on for the rest).
    const signal = AbortSignal.timeout(DEFAULT_SEGMENT_TIMEOUT);
    let blocks: Map<string, Uint8Array> | undefined;
    try {
      // Blocks already here are read here; only the others are asked for.
      const held = new Map<string, Uint8Array>();
      for (const key of batch.waiters.keys()) {
        const cid = CID.parse(key);
        if (await this.#local.has(cid, { signal })) held.set(key, await readLocal(this.#local, cid, signal));
      }
      const cids = [...batch.waiters.keys()].filter((key) => !held.has(key));
      blocks = held;
      for (let i = 0; i < cids.length && blocks; i += MAX_BLOCKS_PER_REQUEST) {
        const part = cids.slice(i, i + MAX_BLOCKS_PER_REQUEST);
        const what = part.length === 1 ? `Fetching block ${part[0]}` : `Fetching ${part.length} blocks`;
        const fetched = await this.#direct({ type: "blocks", cids: part }, providers, signal, DEFAULT_MAX_SEGMENT_BYTES, what);
        blocks = fetched && new Map([...blocks, ...fetched]);
      }
    } catch (err) {
      for (const waiters of batch.waiters.values()) for (const w of waiters) w.reject(err);
      return;
    }
    for (const [key, waiters] of batch.waiters) {
      const bytes = blocks?.get(key);
      for (const w of waiters) {
        if (bytes || !blocks) w.resolve(bytes);
        else w.reject(notHeldError(`Fetching block ${key}`, providers.length, undefined));
      }
    }
  }

  /** Dials every provider; fails only when none can be reached. */
  async #connect(providers: Array<Multiaddr | PeerId>, signal: AbortSignal): Promise<void> {
    const results = await Promise.allSettled(providers.map((p) => this.#libp2p.dial(p, { signal })));
    if (results.some((r) => r.status === "fulfilled")) return;
    if (signal.aborted) throw abortError(signal, "Connecting to the segment's providers");
    const reasons = results.map(
      (r, i) => `${providers[i]!.toString()}: ${r.status === "rejected" ? String((r.reason as Error)?.message ?? r.reason) : "ok"}`,
    );
    throw new DialError("Cannot reach any provider of the segment.", {
      details: reasons,
      cause: results[0]?.status === "rejected" ? results[0].reason : undefined,
      hint: "Check that the provider is running and that its multiaddr is right.",
    });
  }
}
