/**
 * No Kubo daemon is available in this environment, so these tests run the
 * Kubo store against a tiny local HTTP server that fakes the few RPC
 * endpoints it uses (/api/v0/add, cat, pin/add, block/stat, swarm/connect).
 * They check the argument mapping (CIDv1, raw leaves, 1 MiB chunker, …) and
 * the store's own verification, not Kubo itself.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { multiaddr } from "@multiformats/multiaddr";
import type { CID } from "multiformats/cid";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { createKuboSegmentStore, segmentCid, type SegmentStore } from "../src/ipfs/index.js";

interface Call {
  path: string;
  query: URLSearchParams;
  body: Buffer;
}

/** What the fake Kubo answers: settable per test. */
interface Fake {
  calls: Call[];
  /** CID string that /add reports. */
  addCid?: string;
  /** Bytes that /cat returns, by CID string. */
  files: Map<string, Uint8Array>;
  /** CIDs whose block /block/stat knows. */
  blocks: Set<string>;
}

let server: Server;
let url: string;
let fake: Fake;
let store: SegmentStore;

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

beforeEach(async () => {
  fake = { calls: [], files: new Map(), blocks: new Set() };
  server = createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? "/", "http://127.0.0.1");
      const call: Call = { path: u.pathname, query: u.searchParams, body: await readBody(req) };
      fake.calls.push(call);
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(value));
      };
      const arg = u.searchParams.get("arg") ?? "";
      switch (u.pathname) {
        case "/api/v0/add":
          res.writeHead(200, { "content-type": "application/x-ndjson" });
          res.end(`${JSON.stringify({ Name: fake.addCid, Hash: fake.addCid, Size: "1" })}\n`);
          return;
        case "/api/v0/cat": {
          const bytes = fake.files.get(arg);
          if (!bytes) return json(500, { Message: "block was not found locally (offline)", Code: 0, Type: "error" });
          res.writeHead(200, { "content-type": "text/plain" });
          res.end(Buffer.from(bytes));
          return;
        }
        case "/api/v0/pin/add":
          return json(200, { Pins: [arg] });
        case "/api/v0/block/stat":
          if (!fake.blocks.has(arg)) return json(500, { Message: "block was not found locally (offline)", Code: 0, Type: "error" });
          return json(200, { Key: arg, Size: 1 });
        case "/api/v0/swarm/connect":
          return json(200, { Strings: [`connect ${arg} success`] });
        default:
          return json(404, { Message: `unknown command ${u.pathname}`, Code: 0, Type: "error" });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  store = createKuboSegmentStore({ url });
});

afterEach(async () => {
  await store.stop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const calls = (path: string) => fake.calls.filter((c) => c.path === `/api/v0/${path}`);

describe("createKuboSegmentStore", () => {
  test("args: add sends CIDv1, raw leaves, the 1 MiB chunker, sha2-256, balanced layout, pin", async () => {
    const bytes = new Uint8Array(randomBytes(2 * 1024 * 1024 + 5));
    const expected = await segmentCid(bytes);
    fake.addCid = expected.toString();

    const cid = await store.add(bytes);
    expect(cid.toString()).toBe(expected.toString());
    const [call] = calls("add");
    expect(call).toBeDefined();
    expect(Object.fromEntries(call!.query)).toMatchObject({
      "cid-version": "1",
      "raw-leaves": "true",
      chunker: "size-1048576",
      hash: "sha2-256",
      trickle: "false",
      pin: "true",
      "wrap-with-directory": "false",
    });
    // the multipart body carries the bytes themselves
    expect(call!.body.includes(Buffer.from(bytes.subarray(0, 4096)))).toBe(true);
  });

  test("args: add with pin: false", async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    fake.addCid = (await segmentCid(bytes)).toString();
    await store.add(bytes, { pin: false });
    expect(calls("add")[0]!.query.get("pin")).toBe("false");
  });

  test("error: a Kubo CID other than Rendermesh's is refused (misconfigured Import.*)", async () => {
    const bytes = new Uint8Array(randomBytes(1000));
    fake.addCid = (await segmentCid(new Uint8Array([9]))).toString();
    await expect(store.add(bytes)).rejects.toMatchObject({ name: "CidMismatchError", code: "CID_MISMATCH" });
  });

  test("default: get cats the CID, connects to multiaddr providers, and verifies the bytes", async () => {
    const bytes = new Uint8Array(randomBytes(1_500_000));
    const cid = await segmentCid(bytes);
    fake.files.set(cid.toString(), bytes);
    const provider = multiaddr("/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq");

    const got = await store.get(cid, { providers: [provider] });
    expect(Buffer.from(got).equals(Buffer.from(bytes))).toBe(true);
    expect(calls("swarm/connect").map((c) => c.query.get("arg"))).toEqual([provider.toString()]);
    expect(calls("cat").map((c) => c.query.get("arg"))).toEqual([cid.toString()]);
  });

  test("error: bytes that do not hash to the CID give CidMismatchError", async () => {
    const bytes = new Uint8Array(randomBytes(2000));
    const cid = await segmentCid(bytes);
    const tampered = Uint8Array.from(bytes);
    tampered[0]! ^= 1;
    fake.files.set(cid.toString(), tampered);
    await expect(store.get(cid)).rejects.toMatchObject({ name: "CidMismatchError" });
  });

  test("error: a segment over maxBytes is refused while streaming", async () => {
    const bytes = new Uint8Array(randomBytes(5000));
    const cid = await segmentCid(bytes);
    fake.files.set(cid.toString(), bytes);
    await expect(store.get(cid, { maxBytes: 1000 })).rejects.toMatchObject({ name: "SegmentTooLargeError" });
  });

  test("error: Kubo's error answer becomes SegmentStoreError", async () => {
    const cid = await segmentCid(new Uint8Array([1]));
    await expect(store.get(cid)).rejects.toMatchObject({ name: "SegmentStoreError", code: "SEGMENT_STORE" });
  });

  test("default: pin and has (offline block/stat)", async () => {
    const cid: CID = await segmentCid(new Uint8Array([4, 5, 6]));
    await store.pin(cid);
    expect(calls("pin/add").map((c) => c.query.get("arg"))).toEqual([cid.toString()]);

    expect(await store.has(cid)).toBe(false);
    fake.blocks.add(cid.toString());
    expect(await store.has(cid)).toBe(true);
    for (const call of calls("block/stat")) expect(call.query.get("offline")).toBe("true");
  });

  test("error: an unreachable Kubo gives SegmentStoreError with a fix", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const dead = createKuboSegmentStore({ url: `http://127.0.0.1:${port}` });
    const err = await dead.add(new Uint8Array([1])).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "SegmentStoreError" });
    expect((err as { hint?: string }).hint).toMatch(/Start Kubo/);
  });
});
