import type Database from "better-sqlite3";
import type { Blockstore, InputPair, Pair } from "interface-blockstore";
import { NotFoundError } from "interface-store";
import { CID } from "multiformats/cid";
import { openSqliteFile } from "./sqlite-datastore.js";

interface AbortOptions {
  signal?: AbortSignal | undefined;
}

/** Blocks up to this size go to SQLite; larger ones (a segment's 1 MiB leaves) stay a file each. */
export const SMALL_BLOCK_BYTES = 64 * 1024;

/** Small blocks `putMany` stores per SQLite transaction. */
const BATCH_BLOCKS = 256;

/** Misses remembered at most (then forgotten all at once): a few MB of strings. */
const MAX_REMEMBERED_MISSES = 50_000;

/**
 * A blockstore that keeps small blocks in one SQLite file and hands larger
 * ones to `large` (the file-per-block store).
 *
 * Why: a diffusion segment's trace is ~300 blocks of 8 KiB, stored while the
 * denoiser runs. A file per block is a few file-system calls each on the
 * libuv thread pool, and while the next segment renders on every core those
 * hops wait for time slices: the writes fell ~1.3 s behind the render
 * (measured). An SQLite insert is one prepared statement on the calling
 * thread. Segment leaves are large and few, and stay files, where SQLite's
 * page copies would cost more than they save. Reads look here first (an
 * index lookup), then in `large`, so blocks a data dir stored as files
 * before this existed are still found.
 *
 * Misses are remembered until a put of that block: bitswap asks `has` of
 * every block in a peer's want-list each time the list changes, and while a
 * client fetches trace blocks from other providers each provider answered
 * ~100k such misses a job, each an SQLite lookup and a file-system `access`
 * (~9 s of CPU per provider in a 40 s job, measured). Every write to either
 * store goes through this class (one process per data dir), so a remembered
 * miss is still a miss.
 *
 * `putMany` stores its small blocks in one transaction per batch: a
 * transaction of its own per block was ~60 µs of the JavaScript thread per
 * 8 KiB trace tensor here, ~300 of them a diffusion segment, serialised with
 * inference (ONNX Runtime runs on the same thread); in the trace committer's
 * batches of 32 it is under half that. New stores keep the table as a rowid table, which
 * inserts 8 KiB rows ~1.5× faster than the WITHOUT ROWID table of data dirs
 * made before (those keep theirs: the statements are the same).
 */
export class SmallBlocksBlockstore implements Blockstore {
  readonly #db: Database.Database;
  readonly #large: Blockstore;
  readonly #put: Database.Statement<[Uint8Array, Uint8Array, Uint8Array]>;
  readonly #get: Database.Statement<[Uint8Array], { bytes: Uint8Array }>;
  readonly #has: Database.Statement<[Uint8Array], { one: number }>;
  readonly #delete: Database.Statement<[Uint8Array]>;
  readonly #all: Database.Statement<[], { cid: Uint8Array; bytes: Uint8Array }>;
  readonly #putBatch: (pairs: ReadonlyArray<{ cid: CID; bytes: Uint8Array }>) => void;
  /** Multihashes (base64) known to be in neither store. */
  readonly #missing = new Set<string>();
  /** Puts started so far, and those not finished: a miss is remembered only if no put ran while it was looked up. */
  #puts = 0;
  #putting = 0;

  constructor(path: string, large: Blockstore) {
    this.#large = large;
    this.#db = openSqliteFile(path);
    // Keyed by multihash, as the file store names its files: the same bytes under another CID version or codec are one block.
    this.#db.exec("CREATE TABLE IF NOT EXISTS blocks (multihash BLOB PRIMARY KEY, cid BLOB NOT NULL, bytes BLOB NOT NULL)");
    this.#put = this.#db.prepare("INSERT INTO blocks (multihash, cid, bytes) VALUES (?, ?, ?) ON CONFLICT (multihash) DO NOTHING");
    this.#get = this.#db.prepare("SELECT bytes FROM blocks WHERE multihash = ?");
    this.#has = this.#db.prepare("SELECT 1 AS one FROM blocks WHERE multihash = ?");
    this.#delete = this.#db.prepare("DELETE FROM blocks WHERE multihash = ?");
    this.#all = this.#db.prepare("SELECT cid, bytes FROM blocks");
    this.#putBatch = this.#db.transaction((pairs: ReadonlyArray<{ cid: CID; bytes: Uint8Array }>) => {
      for (const { cid, bytes } of pairs) this.#put.run(cid.multihash.bytes, cid.bytes, bytes);
    });
  }

  async put(cid: CID, bytes: InputPair["bytes"], options?: AbortOptions): Promise<CID> {
    options?.signal?.throwIfAborted();
    const key = keyOf(cid);
    this.#puts++;
    this.#putting++;
    this.#missing.delete(key);
    try {
      if (bytes instanceof Uint8Array && bytes.byteLength <= SMALL_BLOCK_BYTES) {
        this.#put.run(cid.multihash.bytes, cid.bytes, bytes);
        return cid;
      }
      return await this.#large.put(cid, bytes, options);
    } finally {
      this.#putting--;
      this.#missing.delete(key);
    }
  }

  /** Small blocks go in up to `BATCH_BLOCKS` per transaction (all or none of a batch); larger ones one by one. */
  async *putMany(source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    let batch: Array<{ cid: CID; bytes: Uint8Array }> = [];
    const flush = () => {
      const pairs = batch;
      batch = [];
      if (pairs.length > 0) this.#storeBatch(pairs, options);
      return pairs;
    };
    for await (const { cid, bytes } of source) {
      if (bytes instanceof Uint8Array && bytes.byteLength <= SMALL_BLOCK_BYTES) {
        batch.push({ cid, bytes });
        if (batch.length >= BATCH_BLOCKS) for (const pair of flush()) yield pair.cid;
        continue;
      }
      for (const pair of flush()) yield pair.cid;
      yield await this.put(cid, bytes, options);
    }
    for (const pair of flush()) yield pair.cid;
  }

  #storeBatch(pairs: ReadonlyArray<{ cid: CID; bytes: Uint8Array }>, options?: AbortOptions): void {
    options?.signal?.throwIfAborted();
    const keys = pairs.map((p) => keyOf(p.cid));
    this.#puts++;
    this.#putting++;
    for (const key of keys) this.#missing.delete(key);
    try {
      this.#putBatch(pairs);
    } finally {
      this.#putting--;
      for (const key of keys) this.#missing.delete(key);
    }
  }

  async *get(cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    options?.signal?.throwIfAborted();
    const row = this.#get.get(cid.multihash.bytes);
    if (row !== undefined) {
      yield new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength);
      return;
    }
    if (this.#missing.has(keyOf(cid))) throw new NotFoundError(`Block ${cid.toString()} is not here`);
    const puts = this.#quiet();
    try {
      yield* this.#large.get(cid, options);
    } catch (err) {
      if ((err as { name?: unknown } | null)?.name === "NotFoundError") this.#remember(cid, puts);
      throw err;
    }
  }

  async *getMany(source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const cid of source) yield { cid, bytes: this.get(cid, options) };
  }

  async has(cid: CID, options?: AbortOptions): Promise<boolean> {
    options?.signal?.throwIfAborted();
    const key = keyOf(cid);
    if (this.#missing.has(key)) return false;
    const puts = this.#quiet();
    if (this.#has.get(cid.multihash.bytes) !== undefined || (await this.#large.has(cid, options))) return true;
    this.#remember(cid, puts);
    return false;
  }

  /** The put count when none is running, else -1: a lookup that starts with a put in flight proves no miss. */
  #quiet(): number {
    return this.#putting === 0 ? this.#puts : -1;
  }

  /**
   * Remembers a miss, only if no put ran at any time during the lookup (none in flight when it started, none
   * started since, none in flight now): any such put may be of this very block.
   */
  #remember(cid: CID, putsBefore: number): void {
    if (putsBefore < 0 || this.#puts !== putsBefore || this.#putting > 0) return;
    if (this.#missing.size >= MAX_REMEMBERED_MISSES) this.#missing.clear();
    this.#missing.add(keyOf(cid));
  }

  async delete(cid: CID, options?: AbortOptions): Promise<void> {
    options?.signal?.throwIfAborted();
    this.#delete.run(cid.multihash.bytes);
    await this.#large.delete(cid, options);
  }

  async *deleteMany(source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const cid of source) {
      await this.delete(cid, options);
      yield cid;
    }
  }

  async *getAll(options?: AbortOptions): AsyncGenerator<Pair> {
    // Read whole first: a consumer that writes while iterating would find the connection busy.
    for (const row of this.#all.all()) {
      options?.signal?.throwIfAborted();
      const bytes = new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength);
      yield {
        cid: CID.decode(row.cid),
        bytes: (function* () {
          yield bytes;
        })(),
      };
    }
    yield* this.#large.getAll(options);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}

function keyOf(cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString("base64");
}
