import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Connection } from "@libp2p/interface";
import * as dagJson from "@ipld/dag-json";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createMeshNode, type MeshNode } from "../src/net/index.js";
import { createHeliaSegmentStore, segmentCid, SEGMENT_CHUNK_SIZE, type HeliaSegmentStore } from "../src/ipfs/index.js";
import { BLOCKS_PROTOCOL } from "../src/ipfs/block-transfer.js";

const MiB = 1024 * 1024;
const DAG_PB = 0x70;
const RAW = 0x55;

let dir: string;
const cleanups: Array<() => Promise<unknown>> = [];
/** Every connection any node in a test opened or accepted. */
const connections: Connection[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rendermesh-net-helia-"));
});

afterEach(async () => {
  // stores before nodes: a store shares its node
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  // Helia must never have reached anything but loopback.
  for (const conn of connections.splice(0)) expect(conn.remoteAddr.toString()).toMatch(/^\/ip4\/127\.0\.0\.1\//);
  await rm(dir, { recursive: true, force: true });
});

async function peer(
  name: string,
  init: Pick<Parameters<typeof createHeliaSegmentStore>[0], "wrapBlockstore"> = {},
): Promise<{ node: MeshNode; store: HeliaSegmentStore; dataDir: string }> {
  const node = await createMeshNode();
  node.addEventListener("connection:open", (evt) => connections.push(evt.detail));
  cleanups.push(async () => {
    await node.stop();
  });
  const dataDir = join(dir, name);
  const store = await createHeliaSegmentStore({ libp2p: node, dataDir, ...init });
  cleanups.push(() => store.stop());
  return { node, store, dataDir };
}

describe("createHeliaSegmentStore", () => {
  test("default: a 2 MiB segment added on A is fetched by B by CID with A as provider", async () => {
    const a = await peer("a");
    const b = await peer("b");
    const bytes = new Uint8Array(randomBytes(2 * MiB));

    const cid = await a.store.add(bytes);
    expect(cid.version).toBe(1);
    expect(cid.code).toBe(DAG_PB); // 2 chunks of 1 MiB under one root
    expect(cid.multihash.code).toBe(0x12); // sha2-256
    expect(cid.toString()).toMatch(/^bafybei/);
    expect(cid.equals(await segmentCid(bytes))).toBe(true);
    expect(await a.store.has(cid)).toBe(true);
    expect(await a.store.helia.pins.isPinned(cid)).toBe(true);

    expect(await b.store.has(cid)).toBe(false);
    expect(b.node.getConnections()).toHaveLength(0);
    // Record every dial B makes (its own and Helia's): only A, only on loopback.
    const dialled: string[] = [];
    for (const method of ["dial", "dialProtocol"] as const) {
      const original = b.node[method].bind(b.node) as (...args: unknown[]) => Promise<never>;
      (b.node as unknown as Record<string, unknown>)[method] = (target: unknown, ...rest: unknown[]) => {
        dialled.push(String(target));
        return original(target, ...rest);
      };
    }
    const fetched = await b.store.get(cid, { providers: [a.node.getMultiaddrs()[0]!], timeout: 20_000 });
    expect(Buffer.from(fetched).equals(Buffer.from(bytes))).toBe(true);
    // it came straight from A
    expect(b.node.getConnections().map((c) => c.remotePeer.toString())).toEqual([a.node.peerId.toString()]);
    expect(dialled.length).toBeGreaterThan(0);
    for (const target of dialled) expect(target).toMatch(new RegExp(`^(/ip4/127\\.0\\.0\\.1/.*)?${a.node.peerId.toString()}$`));
    expect(await b.store.has(cid)).toBe(true);
  });

  test("behavior: a segment of one chunk or less is a single raw block (bafkrei…)", async () => {
    const a = await peer("a");
    const bytes = new Uint8Array(randomBytes(SEGMENT_CHUNK_SIZE));
    const cid = await a.store.add(bytes);
    expect(cid.version).toBe(1);
    expect(cid.code).toBe(RAW);
    expect(cid.toString()).toMatch(/^bafkrei/);
    expect(Buffer.from(await a.store.get(cid)).equals(Buffer.from(bytes))).toBe(true);
  });

  test("behavior: a peer id already in the peer store works as a provider", async () => {
    const a = await peer("a");
    const b = await peer("b");
    const bytes = new Uint8Array(randomBytes(300_000));
    const cid = await a.store.add(bytes);
    await b.node.peerStore.merge(a.node.peerId, { multiaddrs: a.node.getMultiaddrs() });
    const fetched = await b.store.get(cid, { providers: [a.node.peerId], timeout: 20_000 });
    expect(Buffer.from(fetched).equals(Buffer.from(bytes))).toBe(true);
  });

  test("behavior: a pinned segment survives a Helia restart on the same data dir", async () => {
    const node = await createMeshNode();
    cleanups.push(async () => {
      await node.stop();
    });
    const dataDir = join(dir, "provider");
    const bytes = new Uint8Array(randomBytes(3 * MiB + 17));

    const first = await createHeliaSegmentStore({ libp2p: node, dataDir });
    const cid = await first.add(bytes);
    await first.stop();
    expect(node.status).toBe("started"); // the store does not own the node

    const second = await createHeliaSegmentStore({ libp2p: node, dataDir });
    cleanups.push(() => second.stop());
    expect(await second.helia.pins.isPinned(cid)).toBe(true);
    expect(await second.has(cid)).toBe(true);
    // offline: no providers, no connections; the blocks are on disk
    const again = await second.get(cid, { timeout: 5_000 });
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
    expect(node.getConnections()).toHaveLength(0);
  });

  test("behavior: pin is idempotent and fetches what it pins", async () => {
    const a = await peer("a");
    const b = await peer("b");
    const cid = await a.store.add(new Uint8Array(randomBytes(1500 * 1024)), { pin: false });
    expect(await a.store.helia.pins.isPinned(cid)).toBe(false);
    await a.store.pin(cid);
    await a.store.pin(cid);
    expect(await a.store.helia.pins.isPinned(cid)).toBe(true);

    await b.node.dial(a.node.getMultiaddrs()[0]!);
    await b.store.pin(cid, { signal: AbortSignal.timeout(20_000) });
    expect(await b.store.helia.pins.isPinned(cid)).toBe(true);
  });

  test("error: a segment its provider does not hold is refused at once, without waiting for the deadline", async () => {
    const a = await peer("a");
    const b = await peer("b");
    const missing = await segmentCid(new Uint8Array(randomBytes(1000)));
    // The provider answers DONT_HAVE to a session want: the fetch ends on that answer, long before this deadline.
    const refused = b.store.get(missing, { providers: [a.node.getMultiaddrs()[0]!], timeout: 600_000 });
    await expect(refused).rejects.toMatchObject({
      name: "SegmentStoreError",
      message: expect.stringMatching(/its provider does not hold it/),
    });
    const block = await segmentCid(new Uint8Array(randomBytes(1000)));
    await expect(b.store.getBlock(block, { providers: [a.node.getMultiaddrs()[0]!], timeout: 600_000 })).rejects.toMatchObject({
      name: "SegmentStoreError",
      message: expect.stringMatching(/its provider does not hold it/),
    });
  });

  test("error: a segment nobody has times out with TimeoutError", async () => {
    const b = await peer("b");
    const missing = await segmentCid(new Uint8Array(randomBytes(1000)));
    await expect(b.store.get(missing, { timeout: 1_000 })).rejects.toMatchObject({ name: "TimeoutError", code: "TIMEOUT" });
  });

  /** Records, per peer, every protocol `node` opens a stream of. */
  function recordStreams(node: MeshNode): Array<{ peer: string; protocol: string }> {
    const opened: Array<{ peer: string; protocol: string }> = [];
    const dialProtocol = node.dialProtocol.bind(node);
    node.dialProtocol = ((target: Parameters<typeof dialProtocol>[0], protocols: string | string[], options?: never) => {
      for (const protocol of [protocols].flat()) opened.push({ peer: target.toString(), protocol });
      return dialProtocol(target, protocols, options);
    }) as typeof node.dialProtocol;
    return opened;
  }

  test("behavior: a fetch from a named provider asks that provider only, over the blocks protocol, with no bitswap want to anyone", async () => {
    const a = await peer("a");
    const b = await peer("b");
    const c = await peer("c");
    const cid = await a.store.add(new Uint8Array(randomBytes(3 * MiB)));
    // b is connected to c too, as a client is to every provider of its job.
    await b.node.dial(c.node.getMultiaddrs()[0]!);
    const opened = recordStreams(b.node);
    expect(await b.store.get(cid, { providers: [a.node.getMultiaddrs()[0]!], timeout: 20_000 })).toHaveLength(3 * MiB);
    expect(opened.map((o) => o.protocol)).toEqual([BLOCKS_PROTOCOL]);
    expect(opened[0]!.peer).toContain(a.node.peerId.toString());
    // Stored as fetched: a second read needs nobody.
    expect(await b.store.has(cid)).toBe(true);
    expect(await b.store.get(cid)).toHaveLength(3 * MiB);
    expect(opened).toHaveLength(1);
  });

  test("behavior: from a provider without the blocks protocol (Kubo, an older node) the fetch falls back to bitswap, and its wants go to that provider only", async () => {
    const a = await peer("a");
    const b = await peer("b");
    const c = await peer("c");
    const bytes = new Uint8Array(randomBytes(200 * 1024));
    const cid = await a.store.add(bytes);
    await a.node.unhandle(BLOCKS_PROTOCOL);
    await b.node.dial(c.node.getMultiaddrs()[0]!);
    const opened = recordStreams(b.node);
    expect(Buffer.from(await b.store.get(cid, { providers: [a.node.getMultiaddrs()[0]!], timeout: 20_000 })).equals(bytes)).toBe(true);
    const bitswap = opened.filter((o) => o.protocol.startsWith("/ipfs/bitswap/"));
    // A broadcast want would have gone to c in the same flush as to a, before a could answer.
    expect(bitswap.length).toBeGreaterThan(0);
    expect(bitswap.every((o) => o.peer === a.node.peerId.toString())).toBe(true);
  });

  test("error: unreachable providers give DialError", async () => {
    const b = await peer("b");
    const gone = await createMeshNode();
    const addr = gone.getMultiaddrs()[0]!;
    await gone.stop();
    const cid = CID.parse("bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e");
    await expect(b.store.get(cid, { providers: [addr], timeout: 5_000 })).rejects.toMatchObject({ name: "DialError" });
  });

  test("error: a segment over maxBytes is refused", async () => {
    const a = await peer("a");
    const cid = await a.store.add(new Uint8Array(randomBytes(2 * MiB)));
    await expect(a.store.get(cid, { maxBytes: MiB })).rejects.toMatchObject({ name: "SegmentTooLargeError" });
  });

  test("error: a pin whose deadline passes mid-walk rejects with TimeoutError, leaves no unhandled rejection, and a later pin completes", async () => {
    // The seam: once `hold` is set, the second block read of the walk waits until the caller's signal aborts.
    let hold = false;
    let reads = 0;
    let entered!: () => void;
    const reached = new Promise<void>((resolve) => (entered = resolve));
    const a = await peer("a", {
      wrapBlockstore: (blockstore) =>
        new Proxy(blockstore, {
          get(target, prop) {
            if (prop === "get") {
              // A block read is an async generator of chunks (interface-blockstore 7).
              return async function* (cid: CID, options: { signal?: AbortSignal } = {}) {
                if (!hold || ++reads < 2) return yield* target.get(cid, options);
                entered();
                const signal = options.signal!;
                await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
                throw signal.reason as Error;
              };
            }
            const value = Reflect.get(target, prop, target) as unknown;
            return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
          },
        }),
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      const cid = await a.store.add(new Uint8Array(randomBytes(1500 * 1024)), { pin: false });
      hold = true;
      const controller = new AbortController();
      const pinning = a.store.pin(cid, { signal: controller.signal });
      await reached;
      controller.abort(new DOMException("The assignment's deadline passed.", "TimeoutError"));
      await expect(pinning).rejects.toMatchObject({ name: "TimeoutError", code: "TIMEOUT" });
      // Let every callback queued by the abort run: an unhandled rejection is reported within these turns.
      for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
      hold = false;
      await a.store.pin(cid);
      // The pin itself is recorded (not only its root block marked by the cut-off walk).
      await expect(a.store.helia.pins.get(cid)).resolves.toMatchObject({ depth: Infinity });
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  test("behavior: blocks put with pin: false and their root pinned once, from bytes in hand, read nothing back and are all pinned", async () => {
    let reads = 0;
    const a = await peer("a", {
      wrapBlockstore: (blockstore) =>
        new Proxy(blockstore, {
          get(target, prop) {
            if (prop === "get") return (cid: CID, options?: { signal?: AbortSignal }) => (reads++, target.get(cid, options));
            const value = Reflect.get(target, prop, target) as unknown;
            return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
          },
        }),
    });
    // A render trace in small: raw leaves under one dag-json root.
    const leaves = await Promise.all(
      [1, 2, 3].map(async () => {
        const bytes = new Uint8Array(randomBytes(8192));
        return { cid: CID.createV1(RAW, await sha256.digest(bytes)), bytes };
      }),
    );
    const rootBytes = dagJson.encode({ leaves: leaves.map((l) => l.cid) });
    const root = CID.createV1(dagJson.code, await sha256.digest(rootBytes));
    const known = new Map<string, Uint8Array>([[root.toString(), rootBytes], ...leaves.map((l) => [l.cid.toString(), l.bytes] as const)]);
    for (const { cid, bytes } of [...leaves, { cid: root, bytes: rootBytes }]) await a.store.putBlock(cid, bytes, { pin: false });
    for (const cid of [root, ...leaves.map((l) => l.cid)]) expect(await a.store.helia.pins.isPinned(cid)).toBe(false);

    await a.store.pin(root, { known });
    expect(reads).toBe(0);
    for (const cid of [root, ...leaves.map((l) => l.cid)]) expect(await a.store.helia.pins.isPinned(cid)).toBe(true);
    const pins = [];
    for await (const p of a.store.helia.pins.ls()) pins.push(p.cid.toString());
    expect(pins).toEqual([root.toString()]); // one recursive pin, not one per block
    await a.store.pin(root, { known }); // a second pin is a no-op
    // Without `known` the walk reads each block back.
    const other = new Uint8Array(randomBytes(100));
    const otherCid = CID.createV1(RAW, await sha256.digest(other));
    await a.store.putBlock(otherCid, other, { pin: false });
    await a.store.pin(otherCid);
    expect(reads).toBe(1);
    expect(Buffer.from(await a.store.getBlock(leaves[1]!.cid)).equals(Buffer.from(leaves[1]!.bytes))).toBe(true);
  });
});
