/** Defaults for the net/ module; every one can be overridden per call or per protocol. */

/** Largest control message (one length-prefixed JSON frame). Video bytes never travel on control protocols. */
export const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024;

/** One read or write on a message stream. */
export const DEFAULT_MESSAGE_TIMEOUT = 30_000;

/** Dialling a peer and negotiating a protocol. */
export const DEFAULT_DIAL_TIMEOUT = 10_000;

/** A whole request/response exchange (dial, write, read). */
export const DEFAULT_REQUEST_TIMEOUT = 30_000;

/** A whole inbound handler run; pass `timeout: 0` for long-lived streaming handlers. */
export const DEFAULT_HANDLER_TIMEOUT = 30_000;

/** How long a handler waits for the peer to close its end after we closed ours, before resetting. */
export const DEFAULT_CLOSE_GRACE = 5_000;

/** libp2p's per-connection cap on concurrent inbound streams of one protocol. */
export const DEFAULT_MAX_INBOUND_STREAMS = 32;

/** libp2p's per-connection cap on concurrent outbound streams of one protocol. */
export const DEFAULT_MAX_OUTBOUND_STREAMS = 64;

/** Handlers in flight for one remote peer on one protocol, across all of its connections. */
export const DEFAULT_MAX_STREAMS_PER_PEER = 8;

/** Where a mesh node listens unless told otherwise: loopback, any free port. */
export const DEFAULT_LISTEN_ADDRESSES: readonly string[] = ["/ip4/127.0.0.1/tcp/0"];

/** File name of the persisted libp2p private key inside a data dir. */
export const PEER_KEY_FILE = "peer.key";

/** Default ceiling on a fetched segment (the client expects a few MiB per second of video). */
export const DEFAULT_MAX_SEGMENT_BYTES = 256 * 1024 * 1024;

/** Fetching one segment from the network. */
export const DEFAULT_SEGMENT_TIMEOUT = 120_000;
