import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { identify, type Identify } from "@libp2p/identify";
import type { Libp2p, PrivateKey } from "@libp2p/interface";
import { ping, type Ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { createLibp2p, type Libp2pOptions } from "libp2p";
import { DEFAULT_LISTEN_ADDRESSES } from "./constants.js";

export type MeshServices = { identify: Identify; ping: Ping };

/** A Rendermesh libp2p node: TCP + Noise + Yamux, with identify and ping. */
export type MeshNode = Libp2p<MeshServices>;

export type ConnectionManagerInit = NonNullable<Libp2pOptions["connectionManager"]>;

/**
 * Connection limits for a long-running daemon. A coordinator talks to every
 * provider and client; a provider to one or two coordinators and the
 * clients fetching its segments. libp2p's defaults (100 connections, 5 new
 * connections per second per host) are tuned for browsers and would refuse a
 * local network whose nodes all share 127.0.0.1.
 *
 * Against sockets that connect and never finish the Noise handshake: an
 * unfinished upgrade is dropped after 3 s, one IP may open at most 32 new
 * connections a second (libp2p's per-host rate limit), so one IP can hold at
 * most about 96 upgrades pending, well below the 256 the node admits at once.
 * (Before: 32 pending for 10 s, which 32 idle sockets from anywhere filled.)
 */
export const MESH_CONNECTION_MANAGER_DEFAULTS: Readonly<ConnectionManagerInit> = {
  maxConnections: 300,
  maxParallelDials: 50,
  maxIncomingPendingConnections: 256,
  inboundConnectionThreshold: 32,
  dialTimeout: 10_000,
  inboundUpgradeTimeout: 3_000,
  inboundStreamProtocolNegotiationTimeout: 5_000,
};

export interface MeshNodeInit {
  /** Identity; from `loadOrCreatePeerKey(dataDir)` for a stable peer id. A fresh Ed25519 key if omitted. */
  privateKey?: PrivateKey;
  /** Listen multiaddrs (default `/ip4/127.0.0.1/tcp/0`). */
  listen?: readonly string[];
  /** Addresses to announce instead of the listen addresses (e.g. behind NAT). */
  announce?: readonly string[];
  /** Overrides of `MESH_CONNECTION_MANAGER_DEFAULTS`, key by key. */
  connectionManager?: ConnectionManagerInit;
  /** Sent in identify (default `rendermesh`). */
  userAgent?: string;
  /** Start listening before returning (default true). */
  start?: boolean;
}

/**
 * Creates (and by default starts) a libp2p 3 node with TCP, Noise, Yamux,
 * identify and ping. No peer discovery, DHT or bootstrap: Rendermesh nodes
 * dial the addresses they are given.
 *
 * @example
 * ```ts
 * const node = await createMeshNode({ privateKey: await loadOrCreatePeerKey(dataDir) });
 * console.log(node.peerId.toString(), node.getMultiaddrs().map(String));
 * await node.stop();
 * ```
 */
export async function createMeshNode(init: MeshNodeInit = {}): Promise<MeshNode> {
  return createLibp2p<MeshServices>({
    privateKey: init.privateKey,
    addresses: {
      listen: [...(init.listen ?? DEFAULT_LISTEN_ADDRESSES)],
      ...(init.announce ? { announce: [...init.announce] } : {}),
    },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { ...MESH_CONNECTION_MANAGER_DEFAULTS, ...init.connectionManager },
    nodeInfo: { name: "rendermesh", userAgent: init.userAgent ?? "rendermesh" },
    services: { identify: identify(), ping: ping() },
    start: init.start ?? true,
  });
}
