// The CLI's JSON-RPC transport against a real HTTP server on 127.0.0.1 that
// closes a kept-alive connection without answering the request on it, as a
// node does when it runs again after a stall (its idle timers fire at once).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { rpcRequest } from "../src/chain/rpc.js";

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A server that answers every request, except that it drops the connection of the n-th one unanswered. */
async function serve(dropNth: number): Promise<{ url: string; seen: () => number }> {
  let n = 0;
  server = createServer((req, res) => {
    n++;
    if (n === dropNth) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on("end", () => res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: `0x${n.toString(16)}` })));
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen: () => n };
}

const call = (url: string) => {
  const r = rpcRequest(url);
  r.body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] });
  r.setHeader("content-type", "application/json");
  return r.send();
};

describe("rpcRequest", () => {
  test("behavior: a request whose connection the node closes unanswered is sent again and answered", async () => {
    const s = await serve(2);
    expect((await call(s.url)).bodyJson).toMatchObject({ result: "0x1" });
    // The second request is dropped: the transport sends it again on a fresh connection.
    expect((await call(s.url)).bodyJson).toMatchObject({ result: "0x3" });
    expect(s.seen()).toBe(3);
  });

  test("error: a node that answers nothing at all is given up on after a few sends", async () => {
    let n = 0;
    server = createServer((req) => {
      n++;
      req.socket.destroy();
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    await expect(call(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)).rejects.toThrow();
    expect(n).toBe(4);
  });
});
