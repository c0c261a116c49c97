import { randomBytes } from "node:crypto";
import * as dagPb from "@ipld/dag-pb";
import { importBytes } from "ipfs-unixfs-importer";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";
import { UnixFS } from "ipfs-unixfs";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import { describe, expect, test } from "vitest";
import { assembleFile } from "../src/ipfs/unixfs-assemble.js";

/** Imports `bytes` into a Map the way a fetch leaves them (CID string → block). */
async function imported(bytes: Uint8Array, chunkSize: number, maxChildrenPerNode: number, rawLeaves = true) {
  const blocks = new Map<string, Uint8Array>();
  const blockstore = {
    put: async (cid: CID, block: Uint8Array) => {
      blocks.set(cid.toString(), block);
      return cid;
    },
  };
  const { cid } = await importBytes(bytes, blockstore as never, {
    cidVersion: 1,
    rawLeaves,
    reduceSingleLeafToSelf: true,
    chunker: fixedSize({ chunkSize }),
    layout: balanced({ maxChildrenPerNode }),
  });
  return { cid, blocks };
}

describe("assembleFile", () => {
  test("behavior: a three-level DAG of raw leaves is put back together byte for byte", async () => {
    const bytes = new Uint8Array(randomBytes(10_000));
    const { cid, blocks } = await imported(bytes, 256, 3); // 40 leaves, 3 links a node: several levels
    expect(blocks.size).toBeGreaterThan(40);
    expect(Buffer.from(assembleFile(cid, blocks, 1 << 20)).equals(bytes)).toBe(true);
  });

  test("behavior: leaves that are dag-pb nodes (no raw leaves) and a single raw block both work", async () => {
    const bytes = new Uint8Array(randomBytes(3_000));
    const pb = await imported(bytes, 1024, 174, false);
    expect(Buffer.from(assembleFile(pb.cid, pb.blocks, 1 << 20)).equals(bytes)).toBe(true);
    const single = await imported(bytes, 4096, 174);
    expect(single.blocks.size).toBe(1);
    expect(Buffer.from(assembleFile(single.cid, single.blocks, 1 << 20)).equals(bytes)).toBe(true);
  });

  test("error: a file over maxBytes is refused from its root's declared size", async () => {
    const { cid, blocks } = await imported(new Uint8Array(randomBytes(5_000)), 1024, 174);
    expect(() => assembleFile(cid, blocks, 4_999)).toThrow(expect.objectContaining({ name: "SegmentTooLargeError" }));
  });

  test("error: a node whose declared block sizes do not match its children is refused", async () => {
    const bytes = new Uint8Array(randomBytes(2_048));
    const { cid, blocks } = await imported(bytes, 1024, 174);
    const root = dagPb.decode(blocks.get(cid.toString())!);
    // Same children, but the first declared 1 byte shorter and the second 1 longer: the total still adds up.
    const lying = new UnixFS({ type: "file", blockSizes: [1023n, 1025n] });
    const forged = dagPb.encode({ Data: lying.marshal(), Links: root.Links });
    const forgedCid = CID.createV1(dagPb.code, await sha256.digest(forged));
    blocks.set(forgedCid.toString(), forged);
    expect(() => assembleFile(forgedCid, blocks, 1 << 20)).toThrow(/declares 1023/);
  });

  test("error: a directory is not a segment", async () => {
    const dir = dagPb.encode({ Data: new UnixFS({ type: "directory" }).marshal(), Links: [] });
    const cid = CID.createV1(dagPb.code, await sha256.digest(dir));
    expect(() => assembleFile(cid, new Map([[cid.toString(), dir]]), 1 << 20)).toThrow(/UnixFS directory, not a file/);
  });

  test("error: a missing block is named", async () => {
    const { cid, blocks } = await imported(new Uint8Array(randomBytes(2_048)), 1024, 174);
    const leaf = dagPb.decode(blocks.get(cid.toString())!).Links[1]!.Hash;
    blocks.delete(leaf.toString());
    expect(() => assembleFile(cid, blocks, 1 << 20)).toThrow(new RegExp(`lacks block ${leaf.toString()}`));
  });
});
