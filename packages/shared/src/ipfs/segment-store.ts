import type { AbortOptions, PeerId } from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import type { CID } from "multiformats/cid";

export interface AddSegmentOptions extends AbortOptions {
  /** Pin the segment so garbage collection keeps it (default true). */
  pin?: boolean;
}

export interface GetSegmentOptions extends AbortOptions {
  /**
   * Peers known to hold the segment, dialled first so the bytes come straight
   * from them (a provider's multiaddr with `/p2p/<id>`, or a peer id already
   * in the peer store). The Kubo store can only use multiaddrs.
   */
  providers?: Array<Multiaddr | PeerId>;
  /** Deadline in ms (default 120 s; 0 disables). */
  timeout?: number;
  /** Refuse segments larger than this many bytes (default 256 MiB). */
  maxBytes?: number;
}

export interface PutBlockOptions extends AbortOptions {
  /**
   * Pin the block on its own (default true). A caller storing a whole DAG
   * (a render trace) passes false for each block and pins the root once,
   * recursively, with `pin`: one walk instead of a pin per block.
   */
  pin?: boolean;
}

export interface PinOptions extends AbortOptions {
  /**
   * Blocks of the DAG the caller has just stored and still holds, by CID
   * string: the pin walk takes them from here instead of reading each back
   * (stores without a walk of their own ignore it).
   */
  known?: ReadonlyMap<string, Uint8Array> | undefined;
}

/**
 * Where rendered segments live: added and pinned by providers, fetched and
 * verified by clients. Implementations: `createHeliaSegmentStore` (default,
 * embedded) and `createKuboSegmentStore` (`--ipfs-api URL`). Both produce the
 * same CIDv1 for the same bytes (see `SEGMENT_IMPORT_OPTIONS`).
 */
export interface SegmentStore {
  /** Imports `bytes` as a UnixFS file with Rendermesh's settings and pins it; returns its CIDv1. */
  add(bytes: Uint8Array, options?: AddSegmentOptions): Promise<CID>;
  /** Pins a segment, or any DAG, recursively (fetching it if needed). Pinning a pinned one is a no-op. */
  pin(cid: CID, options?: PinOptions): Promise<void>;
  /** The segment's bytes, verified against `cid`. */
  get(cid: CID, options?: GetSegmentOptions): Promise<Uint8Array>;
  /** Whether the segment's root block is stored locally (no network access). */
  has(cid: CID, options?: AbortOptions): Promise<boolean>;
  /**
   * Stores one raw IPFS block under its CID (a render trace's tensors and
   * root), pinned unless `pin: false`. Optional: a store without it cannot
   * serve diffusion pipelines.
   */
  putBlock?(cid: CID, bytes: Uint8Array, options?: PutBlockOptions): Promise<void>;
  /**
   * Stores several unpinned blocks at once, as `putBlock` with `pin: false`
   * does one by one, in as few writes of the store as it can (the embedded
   * store: one SQLite transaction per batch). A render trace's tensors.
   */
  putBlocks?(blocks: ReadonlyArray<{ cid: CID; bytes: Uint8Array }>, options?: AbortOptions): Promise<void>;
  /** One block by CID, from the local store or the given peers, checked against the CID. */
  getBlock?(cid: CID, options?: GetSegmentOptions): Promise<Uint8Array>;
  /** Releases the store; the libp2p node it shares (Helia) keeps running. */
  stop(): Promise<void>;
}
