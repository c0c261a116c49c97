import type { Connection, IdentifyResult, PeerId } from "@libp2p/interface";
import type { MeshNode } from "@rendermesh/shared/net";

/** The part of the node `dialableAddrs` reads: the peer store, and the event identify ends with. */
export type DialableAddrsNode = Pick<MeshNode, "peerStore" | "addEventListener" | "removeEventListener">;

/**
 * The addresses `peer` can be dialled on: the listen addresses it sent in
 * identify, each ending in `/p2p/<peer>`. Never the connection's remote
 * address: a provider dials the coordinator, so that is the provider's
 * outbound port, which nothing listens on, and a client or arbiter given it
 * could not reach the provider. libp2p identifies each new connection by
 * itself; an announcement that arrives before that has finished waits for its
 * `peer:identify` event (bounded by `signal`, the handler's deadline).
 */
export async function dialableAddrs(
  node: DialableAddrsNode,
  peer: PeerId,
  connection: Connection,
  options: { signal?: AbortSignal } = {},
): Promise<string[]> {
  let onIdentify: ((e: CustomEvent<IdentifyResult>) => void) | undefined;
  let onAbort: (() => void) | undefined;
  // Listening before the peer store is read, so an identify that ends in between is not missed.
  const identified = new Promise<string[]>((resolve, reject) => {
    onIdentify = (e) => {
      if (e.detail.peerId.equals(peer)) resolve(e.detail.listenAddrs.map(String));
    };
    onAbort = () => reject(options.signal!.reason);
    node.addEventListener("peer:identify", onIdentify);
    options.signal?.addEventListener("abort", onAbort, { once: true });
  });
  identified.catch(() => undefined);
  try {
    const stored = await node.peerStore.get(peer, options).catch(() => undefined);
    let addrs = (stored?.addresses ?? []).map((a) => a.multiaddr.toString());
    if (addrs.length === 0) addrs = await identified;
    const suffix = `/p2p/${peer.toString()}`;
    const remote = connection.remoteAddr.toString().replace(suffix, "");
    const full = addrs.map((a) => (a.endsWith(suffix) ? a : `${a}${suffix}`));
    return [...new Set(full)].filter((a) => a.replace(suffix, "") !== remote);
  } finally {
    if (onIdentify) node.removeEventListener("peer:identify", onIdentify);
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
  }
}
