import Database from "better-sqlite3";
import type { Blockstore, InputPair, Pair } from "interface-blockstore";
import { CID } from "multiformats/cid";

interface AbortOptions {
  signal?: AbortSignal | undefined;
}

/** Blocks up to this size go to SQLite; larger ones (a segment's 1 MiB leaves) stay a file each. */
export const SMALL_BLOCK_BYTES = 64 * 1024;

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
 */
export class SmallBlocksBlockstore implements Blockstore {
  readonly #db: Database.Database;
  readonly #large: Blockstore;
  readonly #put: Database.Statement<[Uint8Array, Uint8Array, Uint8Array]>;
  readonly #get: Database.Statement<[Uint8Array], { bytes: Uint8Array }>;
  readonly #has: Database.Statement<[Uint8Array], { one: number }>;
  readonly #delete: Database.Statement<[Uint8Array]>;
  readonly #all: Database.Statement<[], { cid: Uint8Array; bytes: Uint8Array }>;

  constructor(path: string, large: Blockstore) {
    this.#large = large;
    this.#db = new Database(path);
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("synchronous = NORMAL");
    // Keyed by multihash, as the file store names its files: the same bytes under another CID version or codec are one block.
    this.#db.exec("CREATE TABLE IF NOT EXISTS blocks (multihash BLOB PRIMARY KEY, cid BLOB NOT NULL, bytes BLOB NOT NULL) WITHOUT ROWID");
    this.#put = this.#db.prepare("INSERT INTO blocks (multihash, cid, bytes) VALUES (?, ?, ?) ON CONFLICT (multihash) DO NOTHING");
    this.#get = this.#db.prepare("SELECT bytes FROM blocks WHERE multihash = ?");
    this.#has = this.#db.prepare("SELECT 1 AS one FROM blocks WHERE multihash = ?");
    this.#delete = this.#db.prepare("DELETE FROM blocks WHERE multihash = ?");
    this.#all = this.#db.prepare("SELECT cid, bytes FROM blocks");
  }

  async put(cid: CID, bytes: InputPair["bytes"], options?: AbortOptions): Promise<CID> {
    options?.signal?.throwIfAborted();
    if (bytes instanceof Uint8Array && bytes.byteLength <= SMALL_BLOCK_BYTES) {
      this.#put.run(cid.multihash.bytes, cid.bytes, bytes);
      return cid;
    }
    return this.#large.put(cid, bytes, options);
  }

  async *putMany(source: Iterable<InputPair> | AsyncIterable<InputPair>, options?: AbortOptions): AsyncGenerator<CID> {
    for await (const { cid, bytes } of source) yield await this.put(cid, bytes, options);
  }

  async *get(cid: CID, options?: AbortOptions): AsyncGenerator<Uint8Array> {
    options?.signal?.throwIfAborted();
    const row = this.#get.get(cid.multihash.bytes);
    if (row !== undefined) {
      yield new Uint8Array(row.bytes.buffer, row.bytes.byteOffset, row.bytes.byteLength);
      return;
    }
    yield* this.#large.get(cid, options);
  }

  async *getMany(source: Iterable<CID> | AsyncIterable<CID>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const cid of source) yield { cid, bytes: this.get(cid, options) };
  }

  async has(cid: CID, options?: AbortOptions): Promise<boolean> {
    options?.signal?.throwIfAborted();
    return this.#has.get(cid.multihash.bytes) !== undefined || (await this.#large.has(cid, options));
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
