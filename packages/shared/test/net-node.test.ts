import { mkdtemp, rm, stat, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createMeshNode, loadOrCreatePeerKey, peerIdBytes, peerIdFromBytes, PEER_KEY_FILE, type MeshNode } from "../src/net/index.js";

let dir: string;
const nodes: MeshNode[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rendermesh-net-node-"));
});

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  await rm(dir, { recursive: true, force: true });
});

async function node(...args: Parameters<typeof createMeshNode>): Promise<MeshNode> {
  const n = await createMeshNode(...args);
  nodes.push(n);
  return n;
}

describe("createMeshNode", () => {
  test("default: listens on 127.0.0.1 with a free port, runs identify and ping", async () => {
    const a = await node();
    const b = await node();
    const addrs = a.getMultiaddrs().map(String);
    expect(addrs.length).toBeGreaterThan(0);
    for (const addr of addrs) expect(addr).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo/);
    const rtt = await b.services.ping.ping(a.getMultiaddrs()[0]!);
    expect(rtt).toBeGreaterThanOrEqual(0);
    const info = await b.services.identify.identify(b.getConnections(a.peerId)[0]!);
    expect(info.agentVersion).toBe("rendermesh");
    expect(info.protocols).toContain("/ipfs/ping/1.0.0");
  });

  test("args: privateKey fixes the peer id", async () => {
    const key = await loadOrCreatePeerKey(dir);
    const a = await node({ privateKey: key });
    await a.stop();
    const b = await node({ privateKey: key });
    expect(b.peerId.equals(a.peerId)).toBe(true);
  });
});

describe("loadOrCreatePeerKey", () => {
  test("behavior: the peer id is stable across restarts (same data dir)", async () => {
    const first = await node({ privateKey: await loadOrCreatePeerKey(dir) });
    const id = first.peerId.toString();
    await first.stop();
    const second = await node({ privateKey: await loadOrCreatePeerKey(dir) });
    expect(second.peerId.toString()).toBe(id);
    expect(id.startsWith("12D3Koo")).toBe(true); // Ed25519
  });

  test("behavior: peer.key is written with mode 0600 and loose modes are tightened", async () => {
    await loadOrCreatePeerKey(join(dir, "nested", "data"));
    const file = join(dir, "nested", "data", PEER_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await chmod(file, 0o644);
    await loadOrCreatePeerKey(join(dir, "nested", "data"));
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  test("behavior: concurrent first calls agree on one key", async () => {
    const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreatePeerKey(dir)));
    const raw = keys.map((k) => Buffer.from(k.raw).toString("hex"));
    expect(new Set(raw).size).toBe(1);
  });

  test("error: a corrupt peer.key is refused, not replaced", async () => {
    const file = join(dir, PEER_KEY_FILE);
    await writeFile(file, "not a key");
    await expect(loadOrCreatePeerKey(dir)).rejects.toMatchObject({ name: "PeerKeyError", code: "PEER_KEY_INVALID" });
    expect((await stat(file)).size).toBe("not a key".length);
  });
});

describe("peerIdBytes / peerIdFromBytes", () => {
  test("default: round-trips the multihash bytes and their 0x hex", async () => {
    const a = await node({ start: false });
    const bytes = peerIdBytes(a.peerId);
    expect(bytes).toEqual(a.peerId.toMultihash().bytes);
    expect(bytes[0]).toBe(0x00); // identity multihash for Ed25519 keys
    expect(peerIdFromBytes(bytes).equals(a.peerId)).toBe(true);
    expect(peerIdFromBytes(`0x${Buffer.from(bytes).toString("hex")}`).equals(a.peerId)).toBe(true);
  });

  test("error: junk bytes throw InvalidPeerIdError", () => {
    expect(() => peerIdFromBytes(new Uint8Array([1, 2, 3]))).toThrow(expect.objectContaining({ name: "InvalidPeerIdError" }));
    expect(() => peerIdFromBytes("0xzz")).toThrow(expect.objectContaining({ name: "InvalidPeerIdError" }));
  });
});
