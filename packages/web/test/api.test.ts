// The local node's HTTP API at its edges: bad input and refusals get the
// CLI's codes and sentences, keys never leave the node, files stay inside the
// app folder, and /rpc passes JSON-RPC through. No chain is needed for any of
// these (the upstream RPC here is a tiny recording server).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startWebNode, type WebNode } from "../server/index.js";

const key = Wallet.createRandom();
const stranger = Wallet.createRandom().address;
let dir: string;
let upstream: Server;
let seen: string[] = [];
let node: WebNode;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "rendermesh-web-api-"));
  const app = join(dir, "app");
  mkdirSync(app);
  writeFileSync(join(app, "index.html"), "<!doctype html><title>app</title>");
  writeFileSync(join(dir, "secret.txt"), "not for the page");
  upstream = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push(body);
      const { id } = JSON.parse(body) as { id: number };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", id, result: "0x7a69" }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", () => r()));
  const rpcUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  const a = (n: number) => `0x${String(n).repeat(40)}`;
  node = await startWebNode({
    rpcUrl,
    chainId: 31337,
    deployment: { chainId: 31337, token: a(1), registry: a(2), escrow: a(3), policy: a(4), governor: a(5), timelock: a(6), startBlock: 0 },
    coordinator: [],
    dataDir: join(dir, "data"),
    accounts: [{ address: key.address, privateKey: key.privateKey, label: "client", role: "client" }],
    staticDir: app,
    port: 0,
  });
});

afterAll(async () => {
  await node?.close();
  await new Promise<void>((r) => upstream?.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

async function post(
  path: string,
  body: unknown,
): Promise<{ status: number; json: { error?: { code: string; message: string; hint?: string; exitCode: number } } }> {
  const res = await fetch(`${node.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as never };
}

describe("the local node's API", () => {
  test("config lists the accounts the node signs for, never their keys", async () => {
    const res = await fetch(`${node.url}/api/config`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).not.toContain(key.privateKey.slice(2));
    const config = JSON.parse(text) as { accounts: Array<{ address: string; nodeSigns: boolean }> };
    expect(config.accounts).toEqual([expect.objectContaining({ address: key.address, nodeSigns: true })]);
  });

  test("a quote without an account is bad input, with a sentence saying what to do", async () => {
    const r = await post("/api/quote", { spec: { prompt: "sea", seconds: 2 } });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: "BAD_REQUEST", exitCode: 2, message: "The account must be a 0x address." });
    expect(r.json.error?.hint).toMatch(/wallet/);
  });

  test("a job for an account whose key the node does not hold is refused, not attempted", async () => {
    const r = await post("/api/jobs", { account: stranger, spec: { prompt: "sea", seconds: 2 }, acceptedPricePerSecond: "1" });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: "NO_KEY", exitCode: 3 });
    expect(r.json.error?.message).toContain(stranger);
    expect(seen).toEqual([]);
  });

  test("any account may ask for a quote (it signs nothing): a malformed spec from one the node has no key for gets INVALID_SPEC", async () => {
    const r = await post("/api/quote", { account: stranger, spec: { prompt: "sea", seconds: 0 } });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: "INVALID_SPEC", exitCode: 2 });
    expect(seen).toEqual([]);
  });

  test("a malformed spec is refused with the SDK's INVALID_SPEC before the chain is asked anything", async () => {
    const r = await post("/api/quote", { account: key.address, spec: { prompt: "sea", seconds: "many" } });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: "INVALID_SPEC", exitCode: 2 });
    expect(seen).toEqual([]);
  });

  test("starting a job needs the price accepted on a quote", async () => {
    const r = await post("/api/jobs", { account: key.address, spec: { prompt: "sea", seconds: 2 } });
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toMatch(/Get a quote first/);
  });

  test("a body that is not a JSON object is bad input", async () => {
    const r = await post("/api/quote", "[1,2");
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toBe("The request body must be a JSON object.");
  });

  test("an unknown run says the node forgets runs on restart", async () => {
    const res = await fetch(`${node.url}/api/runs/nope`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/No job run nope/);
  });

  test("a path that climbs out of the app folder gets nothing outside it", async () => {
    const body = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${node.url}/..%2f..%2fsecret.txt`, (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject);
      req.end();
    });
    expect(body.text).not.toContain("not for the page");
    expect(body.status).toBe(404);
  });

  test("/rpc passes JSON-RPC through to the chain unchanged", async () => {
    seen = [];
    const payload = JSON.stringify({ jsonrpc: "2.0", id: 7, method: "eth_chainId", params: [] });
    const res = await fetch(`${node.url}/rpc`, { method: "POST", headers: { "content-type": "application/json" }, body: payload });
    expect(await res.json()).toEqual({ jsonrpc: "2.0", id: 7, result: "0x7a69" });
    expect(seen).toEqual([payload]);
  });
});
