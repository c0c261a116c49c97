// Hostile peers against real nodes on loopback (real Hardhat chain, real
// libp2p, real SQLite): floods, hijack attempts, cheap resource exhaustion
// and malformed input. Each case sends the attack and asserts the node kept
// its state and answered the honest party. No timing in any assertion: the
// figures live in `pnpm bench` (scripts/bench/flood.ts).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Wallet } from "ethers";
import { jobAccessMessage, JobSpec, JobStreamMessage, PROTOCOLS, ReportResponse } from "@rendermesh/shared";
import { ErrorFrameSchema, openProtocolStream, request, type MeshNode } from "@rendermesh/shared/net";
import { account, fundClient, openJob, startChain, type TestChain } from "../packages/coordinator/test/helpers/chain.ts";
import { TestClient } from "../packages/coordinator/test/helpers/test-client.ts";
import { connect, type Socket } from "node:net";
import { capturingLogger, MODEL, pool, PRICE, quote, spec, Stack } from "./helpers/hostile.ts";

let chain: TestChain;
let stack: Stack;
const client = new Wallet(account(9).privateKey);

beforeAll(async () => {
  chain = await startChain({ model: MODEL, blockedTerm: "forbidden" });
  await fundClient(chain, client);
  stack = new Stack(chain);
}, 180_000);

afterAll(async () => {
  await chain?.stop();
});

afterEach(async () => {
  await stack.stopAll();
});

describe("hostile peers (real chain, real libp2p, loopback)", { timeout: 600_000 }, () => {
  it("behavior: many thousands of short streams neither freeze the coordinator nor cost it its providers", async () => {
    // Liveness of 8 s: the freeze this guards against (AbortSignal.any
    // dependents on long-lived signals) stalled the event loop for 10-30 s
    // after ~15k streams, which dropped every provider.
    const c = await stack.coordinator({}, 8_000);
    const addr = c.multiaddrs[0]!;
    const provider = await stack.provider(addr);
    expect((await quote(provider.node, addr)).type).toBe("quote-result");

    const flooders = await Promise.all(Array.from({ length: 8 }, () => stack.node()));
    const STREAMS = 16_000;
    let typed = 0;
    // 32 workers, 4 per flooder node: half ask for quotes, half watch jobs nobody opened.
    await pool(STREAMS, 32, async (i, worker) => {
      const node = flooders[worker % 8]!;
      if (worker % 8 < 4) {
        const q = await quote(node, addr).catch(() => undefined);
        if (q) typed++;
        return;
      }
      const s = await openProtocolStream(node, addr, PROTOCOLS.job, { timeout: 30_000 }).catch(() => undefined);
      if (!s) return;
      try {
        await s.write({ type: "watch", jobId: `0x${i.toString(16).padStart(64, "0")}` });
        const m = await s.read(JobStreamMessage, { timeout: 30_000 });
        if (m.type === "error") typed++;
      } catch {
        // counted as untyped
      } finally {
        s.abort(new Error("done"));
      }
    });
    // Every flood stream got a typed answer (a quote, UNKNOWN_JOB, or BUSY when a worker outran the per-peer limit)…
    expect(typed).toBe(STREAMS);
    // …the provider is still in the directory, and an honest request is answered with it.
    const after = await quote(provider.node, addr);
    expect(after).toMatchObject({ type: "quote-result", providers: 1 });
    const listed = (await (await fetch(`${c.httpUrl}/api/providers`)).json()) as { providers: Array<{ address: string }> };
    expect(listed.providers.map((p) => p.address)).toContain(provider.address);
  });

  it("error: a stranger who knows the spec cannot re-submit, report, cancel or follow someone else's job", async () => {
    const c = await stack.coordinator();
    const addr = c.multiaddrs[0]!;
    await stack.provider(addr);
    const { chainId, escrow } = chain.deployment;
    const tc = await honestClient(c.multiaddrs[0]!);
    const s = spec({ seed: 21 });
    const jobId = await openJob(chain, client, s, c.address, PRICE);
    const accepted = await tc.submit(jobId, chainId, escrow, s, { until: (e) => e.type === "job-accepted" });
    expect(accepted.error).toBeUndefined();

    const attacker = await stack.node();
    const stranger = Wallet.createRandom();
    const strangerAuth = await stranger.signMessage(jobAccessMessage(chainId, escrow, jobId, attacker.peerId.toString()));
    // The honest client's own signature, replayed from another peer: it names the client's peer id.
    const stolenAuth = await tc.auth(jobId);
    const submit = { type: "submit", jobId, chainId, escrow, spec: s };
    expect(await first(attacker, addr, submit)).toMatchObject({ type: "error", code: "BAD_MESSAGE" });
    expect(await first(attacker, addr, { ...submit, auth: strangerAuth })).toMatchObject({ type: "error", code: "NOT_JOB_CLIENT" });
    expect(await first(attacker, addr, { ...submit, auth: stolenAuth })).toMatchObject({ type: "error", code: "NOT_JOB_CLIENT" });
    expect(await first(attacker, addr, { type: "cancel", jobId, auth: stolenAuth })).toMatchObject({
      type: "error",
      code: "NOT_JOB_CLIENT",
    });
    expect(await first(attacker, addr, { type: "watch", jobId, auth: strangerAuth })).toMatchObject({
      type: "error",
      code: "NOT_JOB_CLIENT",
    });
    const verdict = {
      type: "verdict",
      jobId,
      segment: 0,
      provider: `0x${"01".repeat(20)}`,
      cid: `b${"a".repeat(58)}`,
      ok: false,
      check: "content",
      message: "forged",
    };
    for (const v of [verdict, { ...verdict, auth: strangerAuth }, { ...verdict, auth: stolenAuth }]) {
      await expect(request(attacker, addr, PROTOCOLS.report, v, ReportResponse)).resolves.toMatchObject({
        type: "error",
        code: "NOT_JOB_CLIENT",
      });
    }
    // Without auth anyone gets the public summary, and only that.
    const summary = await first(attacker, addr, { type: "watch", jobId });
    expect(summary).toMatchObject({ type: "job-summary", jobId, status: "running", segments: 4 });
    expect(c.db.getJob(jobId)?.clientPeer).toBe(tc.node.peerId.toString());

    // The honest client carries on and the job completes on its verdicts.
    const rest = await tc.follow({ type: "watch", jobId, fromSeq: 0 }, { verdict: () => true });
    expect(rest.error).toBeUndefined();
    expect(rest.events.at(-1)?.type).toBe("job-complete");
    expect(c.db.segments(jobId).every((x) => x.status === "verified")).toBe(true);
  });

  it("behavior: strangers' watch streams cannot lock a job's client out, and a job's own followers are bounded", async () => {
    const c = await stack.coordinator();
    const addr = c.multiaddrs[0]!;
    await stack.provider(addr, { mode: "hang" });
    const { chainId, escrow } = chain.deployment;
    const tc = await honestClient(addr);
    const s = spec({ seed: 22 });
    const jobId = await openJob(chain, client, s, c.address, PRICE);
    // The submission's own stream stays open: it is the first of the job's followers.
    const submitted = await openFollower(tc, addr, { type: "submit", jobId, chainId, escrow, spec: s, auth: await tc.auth(jobId) });
    expect(submitted.firstEvent.type).toBe("job-accepted");

    // 16 free identities × 16 streams each (the per-peer limit): every one is a summary, none holds a slot.
    const strangers = await Promise.all(Array.from({ length: 16 }, () => stack.node()));
    for (const n of strangers) expect((await first(n, addr, { type: "watch", jobId }))?.type).toBe("job-summary");
    const answers = await Promise.all(strangers.flatMap((n) => Array.from({ length: 16 }, () => first(n, addr, { type: "watch", jobId }))));
    expect(answers.every((a) => a?.type === "job-summary")).toBe(true);

    // The client's own followers: four at once (the submission and three watches), a fifth is BUSY.
    const watch = { type: "watch", jobId, auth: await tc.auth(jobId) };
    const held = await Promise.all(Array.from({ length: 3 }, () => openFollower(tc, addr, watch)));
    expect(held.map((h) => h.firstEvent.type)).toEqual(["job-accepted", "job-accepted", "job-accepted"]);
    expect(await first(tc.node, addr, watch)).toMatchObject({ type: "error", code: "BUSY" });
    for (const h of [submitted, ...held]) h.close();

    // Cancelling takes no follower slot.
    const cancelled = await tc.follow({ type: "cancel", jobId });
    expect(cancelled.error).toBeUndefined();
    expect(cancelled.events.at(-1)).toMatchObject({ type: "job-failed", code: "CANCELLED" });
    expect(c.db.getJob(jobId)?.status).toBe("failed");
  });

  it("error: an error frame sent as a request is answered BAD_MESSAGE on every coordinator protocol, without an error-level log line", async () => {
    const { log, lines } = capturingLogger();
    const c = await stack.coordinator({}, undefined, log);
    const addr = c.multiaddrs[0]!;
    const attacker = await stack.node();
    for (const protocol of [PROTOCOLS.announce, PROTOCOLS.quote, PROTOCOLS.job, PROTOCOLS.report]) {
      const s = await openProtocolStream(attacker, addr, protocol);
      try {
        await s.write({ type: "error", code: "INTERNAL", message: "you failed" });
        expect(await s.read(ErrorFrameSchema)).toMatchObject({ type: "error", code: "BAD_MESSAGE" });
      } finally {
        s.abort(new Error("done"));
      }
    }
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
  });

  it("error: a prompt with a lone surrogate is refused by the schema (BAD_MESSAGE), never INTERNAL", async () => {
    const c = await stack.coordinator();
    const addr = c.multiaddrs[0]!;
    const { chainId, escrow } = chain.deployment;
    const tc = await honestClient(addr);
    const jobId = `0x${"5e".repeat(32)}`;
    const bad = { ...spec(), prompt: "a red \ud800 sunrise" };
    expect(JobSpec.safeParse(bad).error?.issues[0]?.message).toMatch(/well-formed Unicode/);
    expect(await first(tc.node, addr, { type: "submit", jobId, chainId, escrow, spec: bad, auth: await tc.auth(jobId) })).toMatchObject({
      type: "error",
      code: "BAD_MESSAGE",
    });
    // A well-formed astral character (a surrogate pair) is fine.
    expect(JobSpec.safeParse({ ...spec(), prompt: "a red 🌅 sunrise" }).success).toBe(true);
  });

  it("behavior: hundreds of sockets that never finish the handshake, from one IP, do not lock others out of libp2p", async () => {
    const c = await stack.coordinator();
    const addr = c.multiaddrs[0]!;
    const port = Number(/\/tcp\/(\d+)/.exec(addr)![1]);
    // 127.0.0.2 is another host to the node (all of 127/8 is loopback); honest peers come from 127.0.0.1.
    const idle = await openSockets(200, port, (sock) => sock.write(Buffer.from([0x13]))); // half a multistream header, then silence
    stack.push(() => idle.forEach((sock) => sock.destroy()));
    const honest = await stack.node();
    // Answered (NO_PROVIDERS: there are none), so its connection was admitted.
    expect(await quote(honest, addr)).toMatchObject({ type: "error", code: "NO_PROVIDERS" });
  });

  it("behavior: hundreds of slow HTTP clients from one IP do not lock others out of the API, which is strict about routes and parameters", async () => {
    const c = await stack.coordinator();
    const url = new URL(c.httpUrl!);
    const slow = await openSockets(300, Number(url.port), (sock) => sock.write("GET /api/status HTTP/1.1\r\nHost: x\r\n"));
    stack.push(() => slow.forEach((sock) => sock.destroy()));
    const status = await fetch(`${c.httpUrl}/api/status`);
    expect(status.status).toBe(200);
    expect(await status.json()).toMatchObject({ chainId: chain.deployment.chainId });

    const get = async (path: string) => {
      const r = await fetch(`${c.httpUrl}${path}`);
      return { status: r.status, error: ((await r.json()) as { error?: string }).error };
    };
    expect(await get("/api/status/x")).toMatchObject({ status: 404 });
    expect(await get("/api/providers/x/y")).toMatchObject({ status: 404 });
    expect(await get("/api/jobs?limit=-1")).toEqual({ status: 400, error: 'limit must be a whole number from 0 to 1000, got "-1".' });
    expect(await get("/api/jobs?limit=2.5")).toMatchObject({ status: 400 });
    expect(await get("/api/jobs?limit=5000")).toMatchObject({ status: 400 });
    expect(await get("/api/jobs?lmit=5")).toMatchObject({ status: 400, error: expect.stringMatching(/Unknown parameter "lmit"/) });
    expect(await get(`/api/jobs/0x${"1".repeat(64)}/segments/more`)).toMatchObject({ status: 404 });
    expect(await get("/api/jobs?limit=5&offset=0&status=running")).toMatchObject({ status: 200 });
  });
});

async function honestClient(addr: string): Promise<TestClient> {
  const tc = new TestClient(() => addr, { wallet: client, chainId: chain.deployment.chainId, escrow: chain.deployment.escrow });
  await tc.start();
  stack.push(() => tc.stop());
  return tc;
}

/** Opens a job stream, sends `message` and returns the first message back (undefined if the stream ended). */
async function first(
  node: MeshNode,
  addr: string,
  message: unknown,
): Promise<{ type: string; code?: string; [k: string]: unknown } | undefined> {
  const s = await openProtocolStream(node, addr, PROTOCOLS.job, { timeout: 30_000 });
  try {
    await s.write(message);
    for await (const m of s.messages(JobStreamMessage, { timeout: 30_000 })) return m as { type: string };
    return undefined;
  } finally {
    s.abort(new Error("done"));
  }
}

/** A job stream (`submit` or `watch`) held open after its first event. */
async function openFollower(tc: TestClient, addr: string, message: unknown) {
  const s = await openProtocolStream(tc.node, addr, PROTOCOLS.job, { timeout: 30_000, messageTimeout: 0 });
  await s.write(message);
  const firstEvent = (await s.read(JobStreamMessage, { timeout: 30_000 })) as { type: string };
  return { firstEvent, close: () => s.abort(new Error("done")) };
}

/** `n` raw TCP sockets to 127.0.0.1:`port` from 127.0.0.2, each given `after` once connected (or closed by the server). */
async function openSockets(n: number, port: number, after: (sock: Socket) => void): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Socket>((resolve) => {
          const sock = connect({ host: "127.0.0.1", port, localAddress: "127.0.0.2" });
          sock.on("error", () => undefined);
          sock.once("connect", () => {
            after(sock);
            resolve(sock);
          });
          sock.once("close", () => resolve(sock));
        }),
    ),
  );
}
