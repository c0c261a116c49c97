// The blocks protocol as an attacker would use it: a provider that answers a
// fetch with the wrong bytes, with blocks nobody asked for, with more bytes
// than the segment may have, or with part of the segment. Each must fail
// with a clear error and leave nothing unverified in the fetcher's store.
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CarWriter } from "@ipld/car/writer";
import * as dagPb from "@ipld/dag-pb";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createMeshNode, handleProtocol, ProtocolError, type MeshNode } from "../src/net/index.js";
import { createHeliaSegmentStore, segmentCid, type HeliaSegmentStore } from "../src/ipfs/index.js";
import { BLOCKS_PROTOCOL, BlocksRequest, fetchBlocks, MAX_BLOCKS_PER_REQUEST } from "../src/ipfs/block-transfer.js";

const KiB = 1024;
let dir: string;
const cleanups: Array<() => Promise<unknown>> = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rendermesh-block-transfer-"));
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await rm(dir, { recursive: true, force: true });
});

async function node(): Promise<MeshNode> {
  const n = await createMeshNode();
  cleanups.push(async () => n.stop());
  return n;
}

async function store(name: string): Promise<{ node: MeshNode; store: HeliaSegmentStore }> {
  const n = await node();
  const s = await createHeliaSegmentStore({ libp2p: n, dataDir: join(dir, name) });
  cleanups.push(() => s.stop());
  return { node: n, store: s };
}

/** Every protocol `node` opens a stream of, from now on. */
function protocolsOpenedBy(node: MeshNode): string[] {
  const opened: string[] = [];
  const dialProtocol = node.dialProtocol.bind(node);
  node.dialProtocol = ((target: Parameters<typeof dialProtocol>[0], protocols: string | string[], options?: never) => {
    opened.push(...[protocols].flat());
    return dialProtocol(target, protocols, options);
  }) as typeof node.dialProtocol;
  return opened;
}

const rawCid = async (bytes: Uint8Array) => CID.createV1(raw.code, await sha256.digest(bytes));

/** A UnixFS file root (dag-pb) over raw leaves, as the importer builds one. */
async function fileRoot(leaves: Uint8Array[]): Promise<{ cid: CID; bytes: Uint8Array; leafCids: CID[] }> {
  const { UnixFS } = await import("ipfs-unixfs");
  const leafCids = await Promise.all(leaves.map(rawCid));
  const data = new UnixFS({ type: "file", blockSizes: leaves.map((l) => BigInt(l.byteLength)) });
  const bytes = dagPb.encode(
    dagPb.prepare({ Data: data.marshal(), Links: leafCids.map((Hash, i) => ({ Hash, Tsize: leaves[i]!.byteLength })) }),
  );
  return { cid: CID.createV1(dagPb.code, await sha256.digest(bytes)), bytes, leafCids };
}

/** A dishonest provider: answers every blocks request with the CAR sections it is given, whatever was asked. */
async function dishonestProvider(
  sections: Array<{ cid: CID; bytes: Uint8Array }>,
  init: { answerBeforeRequest?: boolean } = {},
): Promise<{ node: MeshNode; requests: BlocksRequest[] }> {
  const n = await node();
  const requests: BlocksRequest[] = [];
  const reg = await handleProtocol(n, BLOCKS_PROTOCOL, async (stream) => {
    if (!init.answerBeforeRequest) requests.push(await stream.read(BlocksRequest));
    await stream.write({ type: "car" });
    const out = stream.unwrap();
    const { writer, out: bytes } = CarWriter.create([sections[0]!.cid]);
    const pump = (async () => {
      for await (const chunk of bytes) if (!out.send(chunk)) await out.onDrain();
    })();
    for (const s of sections) await writer.put(s);
    await writer.close();
    await pump;
  });
  cleanups.push(() => reg.unhandle());
  return { node: n, requests };
}

describe("blocks protocol: what a dishonest provider cannot do", () => {
  test("attack: a leaf whose bytes do not match its CID is refused, and the fetcher stores nothing under that CID", async () => {
    const b = await store("b");
    const leaves = [new Uint8Array(randomBytes(4 * KiB)), new Uint8Array(randomBytes(4 * KiB))];
    const root = await fileRoot(leaves);
    const forged = new Uint8Array(randomBytes(4 * KiB));
    const evil = await dishonestProvider([
      { cid: root.cid, bytes: root.bytes },
      { cid: root.leafCids[0]!, bytes: leaves[0]! },
      { cid: root.leafCids[1]!, bytes: forged }, // claims to be leaf 1
    ]);
    await expect(b.store.get(root.cid, { providers: [evil.node.getMultiaddrs()[0]!], timeout: 20_000 })).rejects.toMatchObject({
      name: "SegmentStoreError",
      message: expect.stringMatching(/bytes that do not match its CID/),
    });
    expect(await b.store.has(root.leafCids[1]!)).toBe(false);
    expect(evil.requests).toEqual([{ type: "dag", root: root.cid.toString() }]);
  });

  test("attack: a block that is not part of the DAG asked for is refused before it is stored", async () => {
    const b = await store("b");
    const leaves = [new Uint8Array(randomBytes(4 * KiB))];
    const root = await fileRoot(leaves);
    const stranger = new Uint8Array(randomBytes(4 * KiB)); // valid bytes for its own CID, but nobody asked for it
    const strangerCid = await rawCid(stranger);
    const evil = await dishonestProvider([
      { cid: root.cid, bytes: root.bytes },
      { cid: strangerCid, bytes: stranger },
      { cid: root.leafCids[0]!, bytes: leaves[0]! },
    ]);
    await expect(b.store.get(root.cid, { providers: [evil.node.getMultiaddrs()[0]!], timeout: 20_000 })).rejects.toMatchObject({
      name: "SegmentStoreError",
      message: expect.stringMatching(/sent block .* which was not asked for/),
    });
    expect(await b.store.has(strangerCid)).toBe(false);
  });

  test("attack: more bytes than the segment may have are refused with SegmentTooLargeError", async () => {
    const b = await store("b");
    const leaves = Array.from({ length: 8 }, () => new Uint8Array(randomBytes(64 * KiB)));
    const root = await fileRoot(leaves);
    const evil = await dishonestProvider([
      { cid: root.cid, bytes: root.bytes },
      ...leaves.map((bytes, i) => ({ cid: root.leafCids[i]!, bytes })),
    ]);
    await expect(
      b.store.get(root.cid, { providers: [evil.node.getMultiaddrs()[0]!], maxBytes: 128 * KiB, timeout: 20_000 }),
    ).rejects.toMatchObject({ name: "SegmentTooLargeError" });
  });

  test("attack: an answer with part of the DAG is refused as not held, naming what is missing", async () => {
    const b = await store("b");
    const leaves = [new Uint8Array(randomBytes(4 * KiB)), new Uint8Array(randomBytes(4 * KiB))];
    const root = await fileRoot(leaves);
    const evil = await dishonestProvider([
      { cid: root.cid, bytes: root.bytes },
      { cid: root.leafCids[0]!, bytes: leaves[0]! },
    ]);
    await expect(b.store.get(root.cid, { providers: [evil.node.getMultiaddrs()[0]!], timeout: 20_000 })).rejects.toMatchObject({
      name: "SegmentStoreError",
      message: expect.stringMatching(/its provider does not hold it/),
    });
    await expect(
      fetchBlocks(
        b.node,
        evil.node.getMultiaddrs()[0]!,
        { type: "dag", root: root.cid.toString() },
        { signal: AbortSignal.timeout(20_000), maxBytes: 1 << 20 },
      ),
    ).rejects.toMatchObject({ name: "NotHeldError", message: expect.stringMatching(/holds 2 of the 3 blocks asked for/) });
  });

  test("attack: a block list answered with a block not on the list is refused", async () => {
    const b = await store("b");
    const wanted = new Uint8Array(randomBytes(1 * KiB));
    const other = new Uint8Array(randomBytes(1 * KiB));
    const evil = await dishonestProvider([{ cid: await rawCid(other), bytes: other }]);
    await expect(
      b.store.getBlock(await rawCid(wanted), { providers: [evil.node.getMultiaddrs()[0]!], timeout: 20_000 }),
    ).rejects.toMatchObject({
      name: "SegmentStoreError",
      message: expect.stringMatching(/which was not asked for/),
    });
  });
});

describe("blocks protocol: fetching", () => {
  test("behavior: an answer that is all there, its end included, before the fetcher reads a byte of it still ends the fetch", async () => {
    const b = await store("b");
    const leaf = new Uint8Array(randomBytes(1 * KiB));
    const root = await fileRoot([leaf]);
    // The whole answer and the end of the stream go out as soon as the stream opens: a short segment from a fast
    // provider arrives like this. A fetch that started reading the bytes only after the header could miss that end.
    const fast = await dishonestProvider(
      [
        { cid: root.cid, bytes: root.bytes },
        { cid: root.leafCids[0]!, bytes: leaf },
      ],
      { answerBeforeRequest: true },
    );
    const got = await b.store.get(root.cid, { providers: [fast.node.getMultiaddrs()[0]!], timeout: 20_000 });
    expect(Buffer.from(got).equals(leaf)).toBe(true);
  });
});

describe("blocks protocol: blocks wanted together", () => {
  test("behavior: blocks wanted in the same turn from one provider go out as one request; one it lacks fails alone", async () => {
    const a = await store("a");
    const b = await store("b");
    const blocks = Array.from({ length: 12 }, () => new Uint8Array(randomBytes(2 * KiB)));
    const cids = await Promise.all(blocks.map(rawCid));
    for (const [i, cid] of cids.entries()) await a.store.putBlock(cid, blocks[i]!);
    const lacking = await rawCid(new Uint8Array(randomBytes(2 * KiB)));
    const opened = protocolsOpenedBy(b.node);
    const providers = [a.node.getMultiaddrs()[0]!];
    const results = await Promise.allSettled([...cids, lacking].map((cid) => b.store.getBlock(cid, { providers, timeout: 20_000 })));
    for (const [i, r] of results.slice(0, 12).entries()) {
      expect(r.status).toBe("fulfilled");
      expect(Buffer.from((r as PromiseFulfilledResult<Uint8Array>).value).equals(blocks[i]!)).toBe(true);
    }
    expect(results[12]).toMatchObject({
      status: "rejected",
      reason: { name: "SegmentStoreError", message: expect.stringMatching(/does not hold it/) },
    });
    expect(opened.filter((p) => p === BLOCKS_PROTOCOL)).toHaveLength(1);
    expect(opened.filter((p) => p.startsWith("/ipfs/bitswap/"))).toEqual([]);
  });

  test("behavior: more blocks than one request may list are asked for in several requests, and all arrive", async () => {
    const a = await store("a");
    const b = await store("b");
    const blocks = Array.from({ length: MAX_BLOCKS_PER_REQUEST + 10 }, () => new Uint8Array(randomBytes(64)));
    const cids = await Promise.all(blocks.map(rawCid));
    for (const [i, cid] of cids.entries()) await a.store.putBlock(cid, blocks[i]!, { pin: false });
    const opened = protocolsOpenedBy(b.node);
    const providers = [a.node.getMultiaddrs()[0]!];
    const got = await Promise.all(cids.map((cid) => b.store.getBlock(cid, { providers, timeout: 60_000 })));
    expect(got.every((bytes, i) => Buffer.from(bytes).equals(blocks[i]!))).toBe(true);
    expect(opened.filter((p) => p === BLOCKS_PROTOCOL)).toHaveLength(2);
  });

  test("behavior: a provider that answers BUSY is fetched from over bitswap instead", async () => {
    const a = await store("a");
    const b = await store("b");
    const bytes = new Uint8Array(randomBytes(2 * KiB));
    const cid = await rawCid(bytes);
    await a.store.putBlock(cid, bytes);
    let refused = 0;
    await handleProtocol(
      a.node,
      BLOCKS_PROTOCOL,
      async () => {
        refused++;
        throw new ProtocolError("BUSY", "Too many requests in flight.");
      },
      { force: true },
    );
    const got = await b.store.getBlock(cid, { providers: [a.node.getMultiaddrs()[0]!], timeout: 20_000 });
    expect(Buffer.from(got).equals(bytes)).toBe(true);
    expect(refused).toBe(1);
  });
});

describe("blocks protocol: serving", () => {
  test("behavior: a provider answers only from its own blocks: asked for a DAG it does not hold, it says NOT_HELD and asks nobody else", async () => {
    const a = await store("a");
    const b = await store("b");
    const c = await store("c");
    const cid = await c.store.add(new Uint8Array(randomBytes(8 * KiB)));
    await a.node.dial(c.node.getMultiaddrs()[0]!); // a could reach the block over bitswap, and must not try
    const asked = protocolsOpenedBy(a.node);
    await expect(
      fetchBlocks(
        b.node,
        a.node.getMultiaddrs()[0]!,
        { type: "dag", root: cid.toString() },
        { signal: AbortSignal.timeout(20_000), maxBytes: 1 << 20 },
      ),
    ).rejects.toMatchObject({ name: "NotHeldError", message: expect.stringMatching(/does not hold/) });
    expect(asked).toEqual([]);
    expect(await a.store.has(cid)).toBe(false);
  });

  test("behavior: a segment of identical chunks (one leaf CID linked many times) is sent once per block and put together whole", async () => {
    const a = await store("a");
    const b = await store("b");
    const bytes = new Uint8Array(3 * 1024 * 1024 + 5).fill(7); // three identical 1 MiB leaves and a short one
    const cid = await a.store.add(bytes);
    expect(cid.equals(await segmentCid(bytes))).toBe(true);
    const blocks = await fetchBlocks(
      b.node,
      a.node.getMultiaddrs()[0]!,
      { type: "dag", root: cid.toString() },
      {
        signal: AbortSignal.timeout(20_000),
        maxBytes: 1 << 24,
      },
    );
    expect(blocks.size).toBe(3); // root, the 1 MiB leaf, the 5-byte leaf
    expect(Buffer.from(await b.store.get(cid, { providers: [a.node.getMultiaddrs()[0]!], timeout: 20_000 })).equals(bytes)).toBe(true);
  });

  test("error: a request that is not a blocks request is answered BAD_MESSAGE", async () => {
    const a = await store("a");
    const b = await node();
    const { openProtocolStream } = await import("../src/net/index.js");
    const stream = await openProtocolStream(b, a.node.getMultiaddrs()[0]!, BLOCKS_PROTOCOL);
    await stream.write({ type: "dag", root: "not-a-cid" });
    await expect(stream.read(BlocksRequest)).rejects.toMatchObject({ name: "RemoteError", code: "BAD_MESSAGE" });
  });
});
