import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Wallet } from "ethers";
import { Writable } from "node:stream";
import {
  createLogger,
  JobEvent,
  JobSegmentsResponse,
  MAX_MESSAGE_BYTES,
  PROTOCOLS,
  QuoteResponse,
  type JobSpec,
  type Logger,
} from "@rendermesh/shared";
import { openProtocolStream, request } from "@rendermesh/shared/net";
import { Coordinator } from "../src/coordinator.js";
import type { SupervisorInit } from "../src/supervisor/index.js";
import { CoordinatorConfig } from "../src/config.js";
import { EthersChain } from "../src/chain/ethers-chain.js";
import { account, fundClient, MESH, openJob, registerProvider, startChain, type TestChain } from "./helpers/chain.js";
import { TestClient, type Event } from "./helpers/test-client.js";
import { TestProvider } from "@rendermesh/testing";
import { tempDir } from "./helpers/fixtures.js";

const MODEL = `0x${"ab".repeat(32)}`;
const ASK = MESH / 1000n;
const PRICE = (2n * MESH) / 1000n;

let chain: TestChain;
const client = new Wallet(account(9).privateKey);
let nextProvider = 2;
const stops: Array<() => Promise<unknown> | unknown> = [];

beforeAll(async () => {
  chain = await startChain({ model: MODEL, blockedTerm: "forbidden" });
  await fundClient(chain, client);
}, 120_000);

afterAll(async () => {
  await chain?.stop();
});

afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

function spec(over: Partial<JobSpec> = {}): JobSpec {
  return {
    v: 1,
    model: MODEL as `0x${string}`,
    prompt: "a red sunrise over the sea",
    seed: 7,
    seconds: 6,
    fps: 4,
    width: 32,
    height: 32,
    ...over,
  };
}

/** Log lines of a coordinator, parsed as they are written, with a wait on the first line that matches. */
class LogCapture {
  readonly lines: Array<{ level: number; msg?: string; [k: string]: unknown }> = [];
  readonly #waiters: Array<{ match: (l: LogCapture["lines"][number]) => boolean; resolve: (l: LogCapture["lines"][number]) => void }> = [];
  readonly log = createLogger({
    name: "coordinator",
    level: "info",
    destination: new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const text of chunk.toString().split("\n").filter(Boolean)) {
          const line = JSON.parse(text) as LogCapture["lines"][number];
          this.lines.push(line);
          for (const w of this.#waiters.filter((x) => x.match(line))) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(line);
          }
        }
        done();
      },
    }),
  });

  waitFor(match: (l: LogCapture["lines"][number]) => boolean): Promise<LogCapture["lines"][number]> {
    const seen = this.lines.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }
}

async function startCoordinator(over: { log?: Logger; supervisor?: SupervisorInit } = {}): Promise<Coordinator> {
  const dir = tempDir();
  const config = CoordinatorConfig.parse({
    dataDir: dir.dir,
    httpPort: 0,
    heartbeatIntervalMs: 1000,
    referenceWidth: 32,
    referenceHeight: 32,
    referenceFps: 4,
    logLevel: "silent",
    segmentGraceSeconds: 3,
  });
  const ethersChain = new EthersChain({
    rpcUrl: chain.rpcUrl,
    deployment: chain.deployment,
    signer: new Wallet(account(1).privateKey),
    pollingIntervalMs: 200,
  });
  const c = new Coordinator(config, {
    chain: ethersChain,
    supervisor: { tickMs: 100, graceMs: 3000, resumeGraceMs: 3000, ...over.supervisor },
    ...(over.log ? { log: over.log } : {}),
  });
  await c.start();
  stops.push(() => dir.cleanup());
  stops.push(() => c.stop());
  return c;
}

async function startProvider(
  coordinatorAddr: string,
  over: Partial<ConstructorParameters<typeof TestProvider>[0]> = {},
  register = true,
): Promise<TestProvider> {
  const wallet = new Wallet(account(nextProvider++).privateKey);
  const p = new TestProvider({
    wallet,
    chainId: chain.deployment.chainId,
    escrow: chain.deployment.escrow,
    model: MODEL,
    askPerSecond: ASK,
    render: "stub",
    msPerFrame: 40,
    ...over,
  });
  await p.start();
  stops.push(() => p.stop());
  if (register) await registerProvider(chain, wallet, p.node.peerId, ASK);
  await p.announceTo(coordinatorAddr, 1000);
  return p;
}

async function startClient(c: Coordinator): Promise<TestClient> {
  const tc = new TestClient(() => c.multiaddrs[0]!, { wallet: client, chainId: chain.deployment.chainId, escrow: chain.deployment.escrow });
  await tc.start();
  stops.push(() => tc.stop());
  return tc;
}

const delivered = (events: Event[]) => events.filter((e) => e.type === "segment-delivered");

function expectEachSegmentOnce(events: Event[], seconds: number) {
  const seqs = events.map((e) => e.seq);
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  for (const e of events) JobEvent.parse(e);
  expect(events.at(-1)?.type).toBe("job-complete");
  const segs = delivered(events).map((e) => e.segment);
  expect([...new Set(segs)].sort((a, b) => a! - b!)).toEqual(Array.from({ length: seconds }, (_, i) => i));
}

describe("coordinator over libp2p (real Hardhat chain, loopback)", { timeout: 120_000 }, () => {
  it("default: quotes, spreads segments across providers and moves them when one disappears", async () => {
    const c = await startCoordinator();
    const addr = c.multiaddrs[0]!;
    const providers = [await startProvider(addr), await startProvider(addr), await startProvider(addr, { msPerFrame: 150 })];
    const tc = await startClient(c);

    const quote = await request(
      tc.node,
      addr,
      PROTOCOLS.quote,
      { type: "quote", spec: { model: MODEL, seconds: 12, fps: 4, width: 32, height: 32 } },
      QuoteResponse,
    );
    expect(quote.type).toBe("quote-result");
    if (quote.type !== "quote-result") return;
    expect(quote.providers).toBeGreaterThanOrEqual(1);
    expect(quote.policyVersion).toBeGreaterThanOrEqual(1n);
    expect(quote.pricePerSecond).toBeGreaterThanOrEqual(ASK);

    const s = spec({ seconds: 12 });
    const jobId = await openJob(chain, client, s, c.address, PRICE);
    let killed = false;
    let allocationsMidJob = 0;
    const { events, error } = await tc.submit(jobId, chain.deployment.chainId, chain.deployment.escrow, s, {
      verdict: () => {
        allocationsMidJob = Math.max(allocationsMidJob, c.allocationsHeld(jobId));
        // After the first delivery, the slow provider disappears mid-job.
        if (!killed) {
          killed = true;
          void providers[2]!.stop();
        }
        return true;
      },
    });
    expect(error).toBeUndefined();
    expect(events[0]?.type).toBe("job-accepted");
    expectEachSegmentOnce(events, 12);
    // The per-provider allocations of the job were held while it ran and dropped when it completed.
    expect(allocationsMidJob).toBeGreaterThan(0);
    expect(c.allocationsHeld(jobId)).toBe(0);
    expect(c.allocationsHeld()).toBe(0);
    const assignedTo = new Set(
      events.filter((e) => e.type === "segment-assigned").map((e) => (e.assignment as { provider: string }).provider.toLowerCase()),
    );
    expect(assignedTo.size).toBe(3);
    const deliveredBy = new Set(
      delivered(events).map((e) => (e.assignment as { assignment: { provider: string } }).assignment.provider.toLowerCase()),
    );
    expect(deliveredBy.size).toBeGreaterThanOrEqual(2);

    // Exactly one verified copy per segment in the database.
    const segs = c.db.segments(jobId);
    expect(segs.every((x) => x.status === "verified" && x.verifiedAttempt !== null)).toBe(true);
    expect(new Set(segs.map((x) => x.verifiedAttempt)).size).toBe(12);

    // The HTTP API and metrics show it.
    const job = (await (await fetch(`${c.httpUrl}/api/jobs/${jobId}`)).json()) as { status: string; segmentCounts: { verified: number } };
    expect(job).toMatchObject({ status: "complete", segmentCounts: { verified: 12 } });
    const seg = (await (await fetch(`${c.httpUrl}/api/jobs/${jobId}/segments`)).json()) as { segments: unknown[] };
    expect(seg.segments).toHaveLength(12);
    const providersApi = (await (await fetch(`${c.httpUrl}/api/providers`)).json()) as {
      providers: Array<{ address: string; multiaddrs: string[] }>;
    };
    expect(providersApi.providers.map((p) => p.address)).toEqual(expect.arrayContaining([providers[0]!.address, providers[1]!.address]));
    // Each still running is listed at the addresses it listens on (where a client can dial it), not its connection's outbound port.
    for (const p of providers.slice(0, 2)) {
      const listed = providersApi.providers.find((x) => x.address.toLowerCase() === p.address.toLowerCase());
      expect([...listed!.multiaddrs].sort()).toEqual(p.node.getMultiaddrs().map(String).sort());
    }
    const policy = (await (await fetch(`${c.httpUrl}/api/policy`)).json()) as { allowedModels: string[] };
    expect(policy.allowedModels).toEqual([MODEL]);
    const metrics = await (await fetch(`${c.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/rendermesh_coordinator_jobs\{status="complete"\} 1/);
    expect((await fetch(`${c.httpUrl}/api/jobs`, { method: "POST" })).status).toBe(405);

    // A watcher resuming from seq 3 gets the rest of the log and the end.
    const watched = await tc.follow({ type: "watch", jobId, fromSeq: 3 });
    expect(watched.events[0]?.seq).toBe(4);
    expect(watched.events.at(-1)?.type).toBe("job-complete");

    // The network's view of the segments: anyone sees each one's status and the copy the client verified (what a
    // provider checks before claiming); the job's client sees every attempt too.
    const counted = new Map(
      c.db.segments(jobId).map((x) => {
        const a = c.db.attempt(x.verifiedAttempt!)!;
        return [x.index, { provider: a.provider, cid: a.delivery!.delivery.cid }];
      }),
    );
    const stranger = new TestClient(() => addr);
    await stranger.start();
    stops.push(() => stranger.stop());
    const open = await request(stranger.node, addr, PROTOCOLS.job, { type: "segments", jobId }, JobSegmentsResponse);
    expect(open).toMatchObject({ type: "job-segments", status: "complete", segments: 12 });
    if (open.type !== "job-segments") return;
    expect(open.next).toBeUndefined();
    expect(open.items.map((i) => i.segment)).toEqual([...counted.keys()].sort((x, y) => x - y));
    for (const i of open.items) {
      expect(i.status).toBe("verified");
      expect(i.attempts).toBeUndefined();
      expect({ provider: i.verified!.provider.toLowerCase(), cid: i.verified!.cid }).toEqual(counted.get(i.segment));
    }
    const full = await request(
      tc.node,
      addr,
      PROTOCOLS.job,
      { type: "segments", jobId, from: 10, auth: await tc.auth(jobId) },
      JobSegmentsResponse,
    );
    if (full.type !== "job-segments") throw new Error(`segments query refused: ${full.message}`);
    expect(full.items.map((i) => i.segment)).toEqual([10, 11]);
    for (const i of full.items)
      expect(i.attempts?.some((a) => a.status === "verified" && a.cid === counted.get(i.segment)!.cid)).toBe(true);
    // Someone else's auth is refused, not answered with less.
    const forged = await request(
      stranger.node,
      addr,
      PROTOCOLS.job,
      { type: "segments", jobId, auth: await tc.auth(jobId) },
      JobSegmentsResponse,
    );
    expect(forged).toMatchObject({ type: "error", code: "NOT_JOB_CLIENT" });
  });

  it("behavior: a segment stuck rendering, then waiting for a provider, is logged as a warning, and the job's failure as an error", async () => {
    const capture = new LogCapture();
    const c = await startCoordinator({ log: capture.log, supervisor: { segmentWaitMs: 200 } });
    const addr = c.multiaddrs[0]!;
    await startProvider(addr, { mode: "hang" });
    const tc = await startClient(c);
    const s = spec({ seconds: 1, seed: 11 });
    const jobId = await openJob(chain, client, s, c.address, PRICE);
    const run = tc.submit(jobId, chain.deployment.chainId, chain.deployment.escrow, s, { verdict: () => true });
    const ofJob = (l: Record<string, unknown>) => String(l.jobId).toLowerCase() === jobId.toLowerCase();

    // The only provider takes the segment and never delivers: a warning names it while it renders…
    const slow = await capture.waitFor((l) => l.msg === "segment still rendering past its bound" && ofJob(l));
    expect(slow).toMatchObject({ level: 40, segment: 0, attempt: 1 });
    // …then its attempt times out, and nobody else can take the segment: a warning says it waits.
    const waits = await capture.waitFor((l) => l.msg === "segment waits for a provider past its bound" && ofJob(l));
    expect(waits).toMatchObject({ level: 40, segment: 0 });
    // Two providers whose receipts never verify use up the segment's last tries: the job fails, logged as an error.
    await startProvider(addr, { mode: "bad-receipt" });
    await startProvider(addr, { mode: "bad-receipt" });
    const failed = await capture.waitFor((l) => l.msg === "job failed" && ofJob(l));
    expect(failed).toMatchObject({ level: 50, segments: 1, segment: 0 });
    const { events } = await run;
    expect(events.at(-1)?.type).toBe("job-failed");
    // Logged once.
    expect(capture.lines.filter((l) => l.msg === "job failed" && ofJob(l))).toHaveLength(1);
  });

  it("error: refuses blocked terms, wrong spec, unknown jobs, other chains, low prices and near deadlines with reason codes", async () => {
    const c = await startCoordinator();
    await startProvider(c.multiaddrs[0]!);
    const tc = await startClient(c);
    const { chainId, escrow } = chain.deployment;

    const blocked = spec({ prompt: "a FORBIDDEN castle" });
    const r1 = await tc.submit(await openJob(chain, client, blocked, c.address, PRICE), chainId, escrow, blocked);
    expect(r1.error?.code).toBe("POLICY_BLOCKED_TERM");

    const s = spec();
    const jobId = await openJob(chain, client, s, c.address, PRICE);
    expect((await tc.submit(jobId, chainId, escrow, { ...s, seed: 8 })).error?.code).toBe("SPEC_HASH_MISMATCH");
    expect((await tc.submit(`0x${"77".repeat(32)}`, chainId, escrow, s)).error?.code).toBe("UNKNOWN_JOB");
    expect((await tc.submit(jobId, chainId + 1, escrow, s)).error?.code).toBe("WRONG_CHAIN");

    const cheap = spec({ seed: 9 });
    expect((await tc.submit(await openJob(chain, client, cheap, c.address, ASK - 1n), chainId, escrow, cheap)).error?.code).toBe(
      "PRICE_TOO_LOW",
    );

    const rushed = spec({ seed: 10, seconds: 30 });
    expect(
      (await tc.submit(await openJob(chain, client, rushed, c.address, PRICE, { deadlineSeconds: 5 }), chainId, escrow, rushed)).error
        ?.code,
    ).toBe("DEADLINE_TOO_SOON");

    const elsewhere = spec({ seed: 11 });
    const other = await openJob(chain, client, elsewhere, account(8).address, PRICE);
    expect((await tc.submit(other, chainId, escrow, elsewhere)).error?.code).toBe("WRONG_COORDINATOR");
    // None of the refused jobs was recorded.
    expect(c.db.countJobs().running).toBe(0);
  });

  it("error: a peer not bound on-chain is refused, and a provider whose receipts do not verify loses its segments", async () => {
    const c = await startCoordinator();
    const addr = c.multiaddrs[0]!;
    const unbound = await startProvider(addr, {}, false);
    expect(unbound.lastAnnounce).toMatchObject({ type: "error", code: "NOT_REGISTERED" });
    const liar = await startProvider(addr, { mode: "bad-receipt", msPerFrame: 5 });
    await startProvider(addr);
    const tc = await startClient(c);
    const s = spec({ seconds: 6, seed: 12 });
    const jobId = await openJob(chain, client, s, c.address, PRICE);
    const { events, error } = await tc.submit(jobId, chain.deployment.chainId, chain.deployment.escrow, s, { verdict: () => true });
    expect(error).toBeUndefined();
    expectEachSegmentOnce(events, 6);
    const failed = events.filter((e) => e.type === "segment-failed");
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((e) => e.code === "BAD_SIGNATURE" && e.provider === liar.address)).toBe(true);
    expect(
      delivered(events).every(
        (e) => (e.assignment as { assignment: { provider: string } }).assignment.provider.toLowerCase() !== liar.address,
      ),
    ).toBe(true);
  });

  it("error: a malformed or oversized message gets a typed error and the node stays up", async () => {
    const c = await startCoordinator();
    const tc = await startClient(c);
    const addr = c.multiaddrs[0]!;
    for (const [payload, code] of [
      [{ type: "submit", jobId: "nope" }, "BAD_MESSAGE"],
      [
        { type: "quote", spec: { model: MODEL, seconds: 1, fps: 4, width: 32, height: 32 }, pad: "x".repeat(MAX_MESSAGE_BYTES + 10) },
        "MESSAGE_TOO_LARGE",
      ],
    ] as const) {
      const stream = await openProtocolStream(tc.node, addr, code === "BAD_MESSAGE" ? PROTOCOLS.job : PROTOCOLS.quote, {
        maxMessageBytes: 1024 * 1024,
      });
      await stream.write(payload);
      await expect(stream.read(QuoteResponse)).resolves.toMatchObject({ type: "error", code });
      stream.abort(new Error("done"));
    }
    // Unregistered provider: NOT_REGISTERED.
    const stranger = new TestProvider({
      wallet: new Wallet(Wallet.createRandom().privateKey),
      chainId: chain.deployment.chainId,
      escrow: chain.deployment.escrow,
      model: MODEL,
      askPerSecond: ASK,
      render: "stub",
    });
    await stranger.start();
    stops.push(() => stranger.stop());
    await expect(stranger.announceTo(addr)).resolves.toMatchObject({ type: "error", code: "NOT_REGISTERED" });
    // Still serving.
    const q = await request(
      tc.node,
      addr,
      PROTOCOLS.quote,
      { type: "quote", spec: { model: MODEL, seconds: 1, fps: 4, width: 32, height: 32 } },
      QuoteResponse,
    );
    expect(q).toMatchObject({ type: "error", code: "NO_PROVIDERS" });
  });
});
