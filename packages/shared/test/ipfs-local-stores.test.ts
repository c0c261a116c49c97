// The embedded IPFS node's local stores: small blocks and Helia's datastore in
// SQLite, large blocks as files, and the move of a data dir made before them
// (datastore-fs) into SQLite without losing a pin.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unixfs } from "@helia/unixfs";
import { FsBlockstore } from "blockstore-fs";
import { FsDatastore } from "datastore-fs";
import { createHeliaLight } from "helia";
import { Key } from "interface-datastore";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { openDatastore } from "../src/ipfs/datastore-migration.js";
import { createHeliaSegmentStore } from "../src/ipfs/index.js";
import { SMALL_BLOCK_BYTES, SmallBlocksBlockstore } from "../src/ipfs/small-blocks.js";
import { SqliteDatastore } from "../src/ipfs/sqlite-datastore.js";
import { createMeshNode } from "../src/net/index.js";

let dir: string;
const cleanups: Array<() => unknown> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rendermesh-local-stores-"));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function block(size: number): Promise<{ cid: CID; bytes: Uint8Array }> {
  const bytes = new Uint8Array(randomBytes(size));
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes };
}

async function readAll(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

/** Every file under `d`, recursively (the file store's blocks). */
async function filesUnder(d: string): Promise<string[]> {
  if (!existsSync(d)) return [];
  return (await readdir(d, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
}

describe("SqliteDatastore", () => {
  test("puts, gets, has, deletes; a missing key is Helia's NotFoundError; values survive a reopen", async () => {
    const path = join(dir, "d.sqlite");
    const ds = new SqliteDatastore(path);
    ds.put(new Key("/pin/a"), Uint8Array.of(1, 2));
    ds.put(new Key("/pin/a"), Uint8Array.of(3)); // overwrite
    expect([...ds.get(new Key("/pin/a"))]).toEqual([3]);
    expect(ds.has(new Key("/pin/a"))).toBe(true);
    expect(() => ds.get(new Key("/pin/missing"))).toThrow(expect.objectContaining({ name: "NotFoundError" }));
    ds.delete(new Key("/pin/a"));
    expect(ds.has(new Key("/pin/a"))).toBe(false);
    ds.put(new Key("/kept"), Uint8Array.of(9));
    ds.close();
    const again = new SqliteDatastore(path);
    cleanups.push(() => again.close());
    expect([...again.get(new Key("/kept"))]).toEqual([9]);
  });

  test("a prefix query returns exactly the keys under it, also next to keys that sort around it", async () => {
    const ds = new SqliteDatastore(join(dir, "q.sqlite"));
    cleanups.push(() => ds.close());
    for (const k of ["/pim", "/pin", "/pin/b", "/pin/a", "/pin/a/deep", "/pinned-block/x", "/pio", "/pin/\u{1F600}"])
      ds.put(new Key(k), new TextEncoder().encode(k));
    const keys: string[] = [];
    for await (const k of ds.queryKeys({ prefix: "/pin/" })) keys.push(k.toString());
    expect(keys.sort()).toEqual(["/pin/a", "/pin/a/deep", "/pin/b", "/pin/\u{1F600}"].sort());
    const pairs: string[] = [];
    for await (const p of ds.query({ prefix: "/pinned-block" })) pairs.push(new TextDecoder().decode(p.value));
    expect(pairs).toEqual(["/pinned-block/x"]);
    let all = 0;
    for await (const _ of ds.query({})) all++;
    expect(all).toBe(8);
  });
});

describe("SqliteDatastore: writeBatch", () => {
  test("writes inside are one transaction, on disk when it returns; a failure keeps what was written; overlapping calls return after the last", async () => {
    const path = join(dir, "b.sqlite");
    const ds = new SqliteDatastore(path);
    cleanups.push(() => ds.close());
    const Database = (await import("better-sqlite3")).default;
    const reader = new Database(path, { readonly: true });
    cleanups.push(() => reader.close());
    const onDisk = (k: string) => reader.prepare("SELECT 1 FROM kv WHERE key = ?").get(k) !== undefined;

    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let outerDone = false;
    const outer = ds
      .writeBatch(async () => {
        ds.put(new Key("/a"), Uint8Array.of(1));
        await held;
        ds.put(new Key("/b"), Uint8Array.of(2));
        return "outer";
      })
      .then((v) => ((outerDone = true), v));
    // Visible on the writing connection at once, not yet to another one.
    expect(ds.has(new Key("/a"))).toBe(true);
    expect(onDisk("/a")).toBe(false);
    // An overlapping call that ends first (and fails) waits for the transaction's commit.
    let innerSettled = false;
    const inner = ds
      .writeBatch(async () => {
        ds.put(new Key("/c"), Uint8Array.of(3));
        throw new Error("walk failed");
      })
      .finally(() => (innerSettled = true));
    await Promise.resolve();
    await Promise.resolve();
    expect(innerSettled).toBe(false);
    expect(outerDone).toBe(false);
    release();
    await expect(inner).rejects.toThrow("walk failed");
    expect(await outer).toBe("outer");
    for (const k of ["/a", "/b", "/c"]) expect(onDisk(k)).toBe(true);

    // A lone failing call: its writes stay, its error comes back.
    await expect(
      ds.writeBatch(async () => {
        ds.put(new Key("/d"), Uint8Array.of(4));
        throw new Error("stopped");
      }),
    ).rejects.toThrow("stopped");
    expect(onDisk("/d")).toBe(true);

    // Closed while a batch is open: its writes were rolled back, and the caller is told, not answered as if committed.
    const closing = ds.writeBatch(async () => {
      ds.put(new Key("/e"), Uint8Array.of(5));
      ds.close();
    });
    await expect(closing).rejects.toThrow("closed before its write batch was committed");
    expect(onDisk("/e")).toBe(false);
  });
});

describe("SmallBlocksBlockstore", () => {
  test("small blocks go to SQLite, larger ones to files; both read back; a file-only block from before is found", async () => {
    const files = new FsBlockstore(join(dir, "blocks"));
    await files.open();
    const legacy = await block(100); // stored as a file, as a data dir made before this kept every block
    await files.put(legacy.cid, legacy.bytes);
    const store = new SmallBlocksBlockstore(join(dir, "blocks.sqlite"), files);
    cleanups.push(() => store.close());

    const small = await block(SMALL_BLOCK_BYTES);
    const large = await block(SMALL_BLOCK_BYTES + 1);
    await store.put(small.cid, small.bytes);
    await store.put(large.cid, large.bytes);
    // Only the large block (and the legacy one) became files.
    expect((await filesUnder(join(dir, "blocks"))).length).toBe(2);
    expect(await files.has(small.cid)).toBe(false);
    expect(await files.has(large.cid)).toBe(true);

    for (const b of [small, large, legacy]) {
      expect(await store.has(b.cid)).toBe(true);
      expect(Buffer.from(await readAll(store.get(b.cid))).equals(Buffer.from(b.bytes))).toBe(true);
    }
    // By multihash: the file store names files by multihash alone and lists them as CIDv0.
    const hex = (c: CID) => Buffer.from(c.multihash.bytes).toString("hex");
    const listed: string[] = [];
    for await (const { cid } of store.getAll()) listed.push(hex(cid));
    expect(listed.sort()).toEqual([small, large, legacy].map((b) => hex(b.cid)).sort());

    await store.delete(small.cid);
    await store.delete(legacy.cid);
    expect(await store.has(small.cid)).toBe(false);
    expect(await store.has(legacy.cid)).toBe(false);
    await expect(readAll(store.get(small.cid))).rejects.toMatchObject({ name: "NotFoundError" });
  });
});

describe("SmallBlocksBlockstore: putMany", () => {
  test("small blocks in one transaction, large ones as files, CIDs in the order given; a remembered miss ends", async () => {
    const files = new FsBlockstore(join(dir, "blocks"));
    await files.open();
    const store = new SmallBlocksBlockstore(join(dir, "blocks.sqlite"), files);
    cleanups.push(() => store.close());
    const blocks = [
      await block(8192),
      await block(SMALL_BLOCK_BYTES + 1),
      ...(await Promise.all(Array.from({ length: 300 }, () => block(100)))),
    ];
    expect(await store.has(blocks[0]!.cid)).toBe(false); // remembered as a miss
    const yielded: string[] = [];
    for await (const cid of store.putMany(blocks)) yielded.push(cid.toString());
    expect(yielded).toEqual(blocks.map((b) => b.cid.toString()));
    expect(await filesUnder(join(dir, "blocks"))).toHaveLength(1);
    expect(await files.has(blocks[1]!.cid)).toBe(true);
    for (const b of blocks) expect(Buffer.from(await readAll(store.get(b.cid))).equals(Buffer.from(b.bytes))).toBe(true);
    expect(await store.has(blocks[0]!.cid)).toBe(true);
    const aborted = new AbortController();
    aborted.abort(new Error("stopped"));
    const more = await block(50);
    await expect(
      (async () => {
        for await (const _ of store.putMany([more], { signal: aborted.signal })) void _;
      })(),
    ).rejects.toThrow("stopped");
    expect(await store.has(more.cid)).toBe(false);
  });

  test("a store made before, with its WITHOUT ROWID table, keeps its blocks and takes new ones", async () => {
    const path = join(dir, "blocks.sqlite");
    const old = await block(500);
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(path);
    db.exec("CREATE TABLE blocks (multihash BLOB PRIMARY KEY, cid BLOB NOT NULL, bytes BLOB NOT NULL) WITHOUT ROWID");
    db.prepare("INSERT INTO blocks VALUES (?, ?, ?)").run(old.cid.multihash.bytes, old.cid.bytes, old.bytes);
    db.close();
    const files = new FsBlockstore(join(dir, "blocks"));
    await files.open();
    const store = new SmallBlocksBlockstore(path, files);
    cleanups.push(() => store.close());
    const fresh = await block(8192);
    for await (const _ of store.putMany([fresh, old])) void _;
    for (const b of [old, fresh]) expect(Buffer.from(await readAll(store.get(b.cid))).equals(Buffer.from(b.bytes))).toBe(true);
  });
});

describe("SmallBlocksBlockstore: remembered misses", () => {
  test("a miss is answered from memory the second time, and a put of that block ends it, also one in flight", async () => {
    const files = new FsBlockstore(join(dir, "blocks"));
    await files.open();
    let fileChecks = 0;
    const counted = Object.assign(Object.create(files) as FsBlockstore, {
      has: async (cid: CID) => {
        fileChecks++;
        return files.has(cid);
      },
    });
    const store = new SmallBlocksBlockstore(join(dir, "blocks.sqlite"), counted);
    cleanups.push(() => store.close());

    const small = await block(1000);
    expect(await store.has(small.cid)).toBe(false);
    expect(await store.has(small.cid)).toBe(false);
    expect(fileChecks).toBe(1); // the second miss did not reach the file store
    await expect(readAll(store.get(small.cid))).rejects.toMatchObject({ name: "NotFoundError" });
    await store.put(small.cid, small.bytes);
    expect(await store.has(small.cid)).toBe(true);

    // A miss seen while a put runs is not remembered: that put may be of the very block asked for.
    const large = await block(SMALL_BLOCK_BYTES * 2);
    const putting = store.put(large.cid, large.bytes);
    const asked = store.has(large.cid);
    await putting;
    await asked;
    expect(await store.has(large.cid)).toBe(true);
    expect(Buffer.from(await readAll(store.get(large.cid))).equals(Buffer.from(large.bytes))).toBe(true);
  });
});

describe("SmallBlocksBlockstore: a miss overtaken by a put", () => {
  test("a lookup that began while a put was in flight, and answered after it finished, is not remembered", async () => {
    const files = new FsBlockstore(join(dir, "blocks"));
    await files.open();
    // Seams: the file store's put waits for `releasePut`; its has answers at once but returns after `releaseHas`.
    let releasePut!: () => void;
    let releaseHas!: () => void;
    const putHeld = new Promise<void>((r) => (releasePut = r));
    const hasHeld = new Promise<void>((r) => (releaseHas = r));
    let putEntered!: () => void;
    const entered = new Promise<void>((r) => (putEntered = r));
    const held = Object.assign(Object.create(files) as FsBlockstore, {
      put: async (cid: CID, bytes: Uint8Array) => {
        putEntered();
        await putHeld;
        return files.put(cid, bytes);
      },
      has: async (cid: CID) => {
        const answer = await files.has(cid);
        await hasHeld;
        return answer;
      },
    });
    const store = new SmallBlocksBlockstore(join(dir, "blocks.sqlite"), held);
    cleanups.push(() => store.close());
    const large = await block(SMALL_BLOCK_BYTES * 2);

    const putting = store.put(large.cid, large.bytes);
    await entered;
    const asked = store.has(large.cid); // sees no file yet
    await Promise.resolve();
    releasePut();
    await putting; // the block is stored now
    releaseHas();
    expect(await asked).toBe(false); // the answer of a lookup made before the write
    expect(await store.has(large.cid)).toBe(true); // not a remembered miss
  });
});

describe("the embedded store: putBlocks, then one pin", () => {
  test("unpinned blocks stored at once read back; the root's pin then pins them, its records on disk when it returns", async () => {
    const node = await createMeshNode();
    cleanups.push(() => node.stop());
    const dataDir = join(dir, "store");
    const store = await createHeliaSegmentStore({ libp2p: node, dataDir });
    cleanups.push(() => store.stop());
    const leaves = [await block(8192), await block(8192), await block(SMALL_BLOCK_BYTES + 10)];
    await store.putBlocks(leaves);
    for (const b of leaves) {
      expect(Buffer.from(await store.getBlock(b.cid)).equals(Buffer.from(b.bytes))).toBe(true);
      expect(await store.helia.pins.isPinned(b.cid)).toBe(false);
    }
    const dagJson = await import("@ipld/dag-json");
    const rootBytes = dagJson.encode({ steps: leaves.map((b) => b.cid) });
    const root = CID.createV1(dagJson.code, await sha256.digest(rootBytes));
    await store.putBlock(root, rootBytes, { pin: false });
    // As the provider pins a trace: every block's bytes in hand, so the walk's records are one transaction.
    const known = new Map([...leaves.map((b) => [b.cid.toString(), b.bytes] as const), [root.toString(), rootBytes] as const]);
    await store.pin(root, { known });
    for (const b of leaves) expect(await store.helia.pins.isPinned(b.cid)).toBe(true);
    // Another connection sees the pin's records: the transaction was committed before pin returned.
    const Database = (await import("better-sqlite3")).default;
    const reader = new Database(join(dataDir, "datastore.sqlite"), { readonly: true });
    cleanups.push(() => reader.close());
    const records = reader.prepare("SELECT COUNT(*) AS n FROM kv WHERE key LIKE '/pinned-block/%'").get() as { n: number };
    expect(records.n).toBe(leaves.length + 1);
  });
});

describe("a data dir from before: datastore-fs moved into SQLite", () => {
  test("a segment pinned by the old layout is still pinned and served after the upgrade; the old directory is gone", async () => {
    const node = await createMeshNode();
    cleanups.push(() => node.stop());
    const dataDir = join(dir, "provider");
    const bytes = new Uint8Array(randomBytes(300_000));

    // The layout of a data dir made before SQLite: blocks as files, Helia's datastore as datastore-fs.
    const oldBlocks = new FsBlockstore(join(dataDir, "blocks"));
    const oldDatastore = new FsDatastore(join(dataDir, "datastore"));
    await oldBlocks.open();
    await oldDatastore.open();
    const old = createHeliaLight({ blockstore: oldBlocks, datastore: oldDatastore, routers: [], blockBrokers: [] });
    await old.start();
    const cid = await unixfs(old).addBytes(bytes, { rawLeaves: true, chunker: undefined });
    for await (const _ of old.pins.add(cid)) void _;
    await old.stop();
    await oldDatastore.close();

    const store = await createHeliaSegmentStore({ libp2p: node, dataDir });
    cleanups.push(() => store.stop());
    expect(existsSync(join(dataDir, "datastore"))).toBe(false);
    expect(existsSync(join(dataDir, "datastore.sqlite"))).toBe(true);
    expect(await store.helia.pins.isPinned(cid)).toBe(true);
    const back = await store.get(cid, { timeout: 10_000 });
    expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
  });

  test("a migration cut off before its rename leaves the old directory, and the next start completes it", async () => {
    const old = new FsDatastore(join(dir, "datastore"));
    await old.open();
    await old.put(new Key("/pin/one"), Uint8Array.of(1));
    await old.put(new Key("/pinned-block/two"), Uint8Array.of(2));
    await old.close();
    // What a crash mid-copy leaves: a half-written temporary file beside the untouched old directory.
    const half = new SqliteDatastore(join(dir, "datastore.sqlite.tmp"));
    half.put(new Key("/pin/one"), Uint8Array.of(1));
    half.close();

    const { datastore, migrated } = await openDatastore(join(dir, "datastore"));
    cleanups.push(() => datastore.close());
    expect(migrated).toBe(2);
    expect([...datastore.get(new Key("/pinned-block/two"))]).toEqual([2]);
    expect(existsSync(join(dir, "datastore"))).toBe(false);
    expect(existsSync(join(dir, "datastore.sqlite.tmp"))).toBe(false);

    // Opening again moves nothing: the SQLite file is the datastore now.
    datastore.close();
    const { datastore: again, migrated: none } = await openDatastore(join(dir, "datastore"));
    cleanups.push(() => again.close());
    expect(none).toBe(0);
    expect([...again.get(new Key("/pin/one"))]).toEqual([1]);
  });
});
