import type { AbortOptions } from "@libp2p/interface";
import { unixfs, type AddFileOptions, type UnixFSComponents } from "@helia/unixfs";
import { fixedSize } from "ipfs-unixfs-importer/chunker";
import { balanced } from "ipfs-unixfs-importer/layout";
import type { CID } from "multiformats/cid";

/**
 * Chunk size of segment files: 1 MiB, the largest chunk Kubo accepts and the
 * one IPIP-499's `unixfs-v1-2025` profile uses. A few-MiB segment becomes a
 * handful of raw leaves under one dag-pb root; one of 1 MiB or less is a
 * single raw block (`bafkrei…`).
 */
export const SEGMENT_CHUNK_SIZE = 1_048_576;

/**
 * Links per dag-pb node: Kubo's default (174), so the DAG and its CID are the
 * same as Kubo's at any file size. (Helia's own default is 1024; the two
 * differ only above 174 chunks, but pinning it removes the question.)
 */
export const SEGMENT_MAX_LINKS_PER_NODE = 174;

/**
 * The UnixFS import settings every Rendermesh segment is added with. They
 * are all set explicitly so a change of library default cannot change CIDs:
 * CIDv1, sha2-256, raw leaves, fixed 1 MiB chunks, balanced layout with 174
 * links per node, no wrapping directory, no mode/mtime.
 *
 * The Kubo equivalent is `ipfs add --cid-version=1 --raw-leaves
 * --chunker=size-1048576 --hash=sha2-256` (balanced layout, 174 links, are
 * Kubo's defaults), see `KUBO_ADD_OPTIONS`.
 */
export const SEGMENT_IMPORT_OPTIONS = {
  cidVersion: 1,
  rawLeaves: true,
  reduceSingleLeafToSelf: true,
  chunker: fixedSize({ chunkSize: SEGMENT_CHUNK_SIZE }),
  layout: balanced({ maxChildrenPerNode: SEGMENT_MAX_LINKS_PER_NODE }),
} as const satisfies AddFileOptions;

/** `kubo-rpc-client` `add` options that give the same CID as `SEGMENT_IMPORT_OPTIONS`. */
export const KUBO_ADD_OPTIONS = {
  cidVersion: 1,
  rawLeaves: true,
  chunker: `size-${SEGMENT_CHUNK_SIZE}`,
  hashAlg: "sha2-256",
  trickle: false,
  wrapWithDirectory: false,
} as const;

/** A blockstore that only hashes: computing a CID must not store anything. */
const hashOnlyBlockstore: UnixFSComponents["blockstore"] = {
  put: async (cid: CID) => cid,
  has: async () => false,
  // eslint-disable-next-line require-yield
  get: async function* (cid: CID): AsyncGenerator<Uint8Array> {
    throw new Error(`block ${cid.toString()} is not stored (hash-only blockstore)`);
  },
};

/**
 * The CID `bytes` get when added as a Rendermesh segment, computed locally
 * without storing anything. Providers and tests use it to check a store's
 * answer; the Kubo store uses it to verify fetched bytes.
 */
export async function segmentCid(bytes: Uint8Array, options: AbortOptions = {}): Promise<CID> {
  return unixfs({ blockstore: hashOnlyBlockstore }).addBytes(bytes, { ...SEGMENT_IMPORT_OPTIONS, signal: options.signal });
}
