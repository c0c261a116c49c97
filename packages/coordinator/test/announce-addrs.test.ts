import { afterEach, describe, expect, test } from "vitest";
import type { Connection } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { createMeshNode, type MeshNode } from "@rendermesh/shared/net";
import { nextEvent } from "@rendermesh/testing";
import { dialableAddrs } from "../src/protocols/announce/dialable.js";

// Two real libp2p nodes on 127.0.0.1: the "provider" dials the "coordinator", as a provider announcing does.
describe("dialableAddrs", () => {
  const nodes: MeshNode[] = [];
  afterEach(async () => {
    for (const n of nodes.splice(0)) await n.stop();
  });
  /** `provider` dials `coordinator`; resolves with the connection as the coordinator holds it (an inbound one). */
  const connect = async (coordinator: MeshNode, provider: MeshNode): Promise<Connection> => {
    const inbound = nextEvent<Connection>(coordinator, "connection:open", (c) => c.remotePeer.equals(provider.peerId));
    await provider.dial(coordinator.getMultiaddrs()[0]!);
    return inbound;
  };
  const node = async () => {
    const n = await createMeshNode({ listen: ["/ip4/127.0.0.1/tcp/0"] });
    nodes.push(n);
    return n;
  };

  test("default: a provider that dialled in is listed at its listen addresses, not at the connection's outbound port", async () => {
    const coordinator = await node();
    const provider = await node();
    const connection = await connect(coordinator, provider);

    const addrs = await dialableAddrs(coordinator, provider.peerId, connection);
    const listen = provider.getMultiaddrs().map(String);
    expect(addrs.sort()).toEqual(listen.sort());
    // The remote address is the provider's outbound port: nothing listens there.
    const remote = connection.remoteAddr.toString();
    expect(addrs.some((a) => a.startsWith(remote.replace(/\/p2p\/.*$/, "")))).toBe(false);
    expect(addrs.every((a) => a.endsWith(`/p2p/${provider.peerId.toString()}`))).toBe(true);
  });

  test("behavior: the listed address is one a third node can dial the provider on", async () => {
    const coordinator = await node();
    const provider = await node();
    const connection = await connect(coordinator, provider);
    const [first] = await dialableAddrs(coordinator, provider.peerId, connection);
    const client = await node();
    const dialled = await client.dial(multiaddr(first!));
    expect(dialled.remotePeer.toString()).toBe(provider.peerId.toString());
  });
});
