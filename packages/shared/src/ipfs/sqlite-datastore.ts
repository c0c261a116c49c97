import Database from "better-sqlite3";
import { BaseDatastore } from "datastore-core";
import { Key, type KeyQuery, type Pair, type Query } from "interface-datastore";
import { NotFoundError } from "interface-store";

interface AbortOptions {
  signal?: AbortSignal | undefined;
}

/**
 * Helia's datastore (pins and their per-block records) in one SQLite file,
 * answering synchronously.
 *
 * Why: pinning a render trace walks ~300 blocks and reads and writes a
 * pinned-block record for each, one after another. With a file per key
 * (datastore-fs) every record is a few file-system calls on the libuv
 * thread pool, so the walk is ~900 sequential hops between threads; while
 * the next segment renders on every core, each hop waits for a time slice,
 * and a pin that takes 150 ms alone took 1.2–2 s (measured). Here a record
 * is one prepared statement on the calling thread: the walk runs as a chain
 * of microtasks and never waits for another thread.
 *
 * WAL with `synchronous = NORMAL`: a power cut may lose the last
 * transactions but never corrupts the file; a lost pin record is re-made by
 * the next `pins.add` of its root.
 */
/**
 * Opens (or creates) one of the embedded IPFS node's SQLite files: WAL with
 * `synchronous = NORMAL`, so a commit is a write to the log and no fsync; a
 * power cut may lose the last commits but never corrupts the file.
 */
export function openSqliteFile(path: string): Database.Database {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  return db;
}

export class SqliteDatastore extends BaseDatastore {
  readonly #db: Database.Database;
  readonly #put: Database.Statement<[string, Uint8Array]>;
  readonly #get: Database.Statement<[string], { value: Uint8Array }>;
  readonly #has: Database.Statement<[string], { one: number }>;
  readonly #delete: Database.Statement<[string]>;
  readonly #from: Database.Statement<[string], { key: string; value: Uint8Array }>;
  readonly #fromKeys: Database.Statement<[string], { key: string }>;
  /** Callers of `writeBatch` inside the transaction it holds open, and what they wait on for its commit. */
  #batchDepth = 0;
  #batchCommit: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | undefined;

  constructor(path: string) {
    super();
    this.#db = openSqliteFile(path);
    this.#db.exec("CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID");
    this.#put = this.#db.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    this.#get = this.#db.prepare("SELECT value FROM kv WHERE key = ?");
    this.#has = this.#db.prepare("SELECT 1 AS one FROM kv WHERE key = ?");
    this.#delete = this.#db.prepare("DELETE FROM kv WHERE key = ?");
    // In key order (bytewise), the keys that start with a prefix follow each other from the prefix on.
    this.#from = this.#db.prepare("SELECT key, value FROM kv WHERE key >= ? ORDER BY key");
    this.#fromKeys = this.#db.prepare("SELECT key FROM kv WHERE key >= ? ORDER BY key");
  }

  override put(key: Key, value: Uint8Array, options?: AbortOptions): Key {
    options?.signal?.throwIfAborted();
    this.#put.run(key.toString(), value);
    return key;
  }

  override get(key: Key, options?: AbortOptions): Uint8Array {
    options?.signal?.throwIfAborted();
    const row = this.#get.get(key.toString());
    if (row === undefined) throw new NotFoundError(`No value for ${key.toString()}`);
    return new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength);
  }

  override has(key: Key, options?: AbortOptions): boolean {
    options?.signal?.throwIfAborted();
    return this.#has.get(key.toString()) !== undefined;
  }

  override delete(key: Key, options?: AbortOptions): void {
    options?.signal?.throwIfAborted();
    this.#delete.run(key.toString());
  }

  /**
   * Runs `fn` with this datastore's writes in one transaction, committed when
   * `fn` settles, failed or not (what it wrote stays written, as it would have
   * one write at a time). Resolves only after the commit, so a caller that
   * returns has its writes on disk as a single write would. Calls that
   * overlap share the transaction, and each returns once the last of them
   * has finished and committed.
   *
   * Why: pinning a render trace writes a pinned-block record per block, ~300
   * of them; as transactions of their own each is a log write and a commit
   * (~30 µs here) on the JavaScript thread, which is also the inference
   * thread (measured: ~10 ms a diffusion segment, ~2% of its render).
   */
  async writeBatch<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#batchDepth === 0) {
      if (this.#db.inTransaction) return fn(); // someone else's transaction: join it, as a single write would
      this.#db.exec("BEGIN");
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      promise.catch(() => {});
      this.#batchCommit = { promise, resolve, reject };
    }
    const commit = this.#batchCommit!;
    this.#batchDepth++;
    let result: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      result = { ok: true, value: await fn() };
    } catch (error) {
      result = { ok: false, error };
    }
    if (--this.#batchDepth === 0) {
      this.#batchCommit = undefined;
      try {
        // Closed mid-batch: SQLite rolled the transaction back, so the writes are not on disk; say so.
        if (!this.#db.open) throw new Error("The datastore was closed before its write batch was committed.");
        this.#db.exec("COMMIT");
        commit.resolve();
      } catch (err) {
        commit.reject(err);
      }
    }
    await commit.promise;
    if (!result.ok) throw result.error;
    return result.value;
  }

  /** Puts every pair in one transaction. */
  putAll(pairs: Iterable<Pair>): number {
    let n = 0;
    this.#db.transaction(() => {
      for (const { key, value } of pairs) {
        this.#put.run(key.toString(), value);
        n++;
      }
    })();
    return n;
  }

  // BaseDatastore.query applies the prefix again, then the filters, orders, offset and limit.
  override *_all(q: Query, options?: AbortOptions): Generator<Pair> {
    for (const row of this.#prefixed(this.#from, q.prefix, options)) {
      options?.signal?.throwIfAborted();
      yield { key: new Key(row.key), value: new Uint8Array(row.value.buffer, row.value.byteOffset, row.value.byteLength) };
    }
  }

  override *_allKeys(q: KeyQuery, options?: AbortOptions): Generator<Key> {
    for (const row of this.#prefixed(this.#fromKeys, q.prefix, options)) {
      options?.signal?.throwIfAborted();
      yield new Key(row.key);
    }
  }

  /** The rows whose key starts with `prefix`, read whole: a consumer that writes while iterating would find the connection busy. */
  #prefixed<R extends { key: string }>(stmt: Database.Statement<[string], R>, prefix: string | undefined, options?: AbortOptions): R[] {
    options?.signal?.throwIfAborted();
    const rows: R[] = [];
    for (const row of stmt.iterate(prefix ?? "")) {
      if (prefix !== undefined && !row.key.startsWith(prefix)) break;
      rows.push(row);
    }
    return rows;
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
