// A dishonest client on a real network: a Hardhat node over JSON-RPC, the
// deployed contracts, a coordinator, three honest provider nodes and the
// arbiter, all real processes; the client is a real process too
// (test/fixtures/dishonest-client.ts, the SDK). It gets every segment of its
// video verified, then tries not to pay: it settles with nobody and disputes
// every claim, it front-runs the providers' redeems with a low settle in the
// same block, or it diverts the deposit to an address of its own. Each time
// the honest providers are paid in full for what they delivered (their
// escrow balances, read from the chain) and every token is accounted for.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Contract } from "ethers";
import { Wallet, type JsonRpcProvider } from "ethers";
import { OutputWatcher, tsNodeArgs } from "@rendermesh/testing";
import { repoRoot, startDevNetwork, type RunningDevNetwork } from "../scripts/lib/devnet.ts";
import { chain, askEachBlock, removeTempDirs, runCli, tempDir, type CliResult } from "./helpers/network.ts";

const FIXTURE = join(repoRoot, "test", "fixtures", "dishonest-client.ts");
const CLAIM_PAID = 3;
const JOB_CLOSING = 4;

let net: RunningDevNetwork;
let rpc: JsonRpcProvider;
let escrow: Contract;
let token: Contract;
let policy: Contract;

beforeAll(async () => {
  net = await startDevNetwork({ dir: tempDir("cheat"), providers: 3, log: () => {} });
  ({ provider: rpc, escrow, token, policy } = chain(net.dev));
});

afterAll(async () => {
  rpc?.destroy();
  await net?.stop();
  removeTempDirs();
});

interface Result {
  jobId: `0x${string}`;
  deposit: string;
  /** Segments each provider delivered and the client verified. */
  delivered: Record<string, number[]>;
  /** Every provider that delivered a copy of each segment (a straggler gets a speculative second copy). */
  copies: Record<string, string[]>;
  settleTx: string;
  bonds?: string;
  settleEntries?: Array<{ provider: string; seconds: number }>;
  block?: Array<{ tx: string; block: number; index: number; status: number }>;
  divertTo?: string;
  attempts?: Record<string, string>;
  mined?: unknown;
}

/** Runs the dishonest client to its end; `watch` sees its stdout as it comes. */
function runDishonestClient(mode: string, watch?: (out: OutputWatcher) => void): Promise<Result> {
  const child = spawn(process.execPath, [...tsNodeArgs(), FIXTURE, mode], {
    cwd: repoRoot,
    env: { ...process.env, RENDERMESH_DEV_FILE: net.file, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = new OutputWatcher(child.stdout);
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  watch?.(out);
  return new Promise((resolve, reject) => {
    child.on("close", (code) => {
      const m = /^RESULT (.*)$/m.exec(out.text);
      if (code === 0 && m) resolve(JSON.parse(m[1]!) as Result);
      else reject(new Error(`the dishonest client exited with ${code}:\n${stderr.slice(-4000)}`));
    });
  });
}

/** `rendermesh-provider …` on provider `index`'s own data dir and key, as its operator would run it beside the node. */
function providerCli(index: number, args: string[]): Promise<CliResult> {
  const p = net.processes.find((x) => x.name === `provider-${index + 1}`)!;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [p.args[0]!, ...args], { cwd: repoRoot, env: { ...process.env, ...p.env, NO_COLOR: "1" } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const balanceOf = async (a: string) => (await escrow.getFunction("balanceOf")(a)) as bigint;
const tokenOf = async (a: string) => (await token.getFunction("balanceOf")(a)) as bigint;
const getJob = async (jobId: string) =>
  (await escrow.getFunction("getJob")(jobId)) as {
    status: bigint;
    closesAt: bigint;
    pricePerSecond: bigint;
    coordinatorFeeBps: bigint;
    treasuryFeeBps: bigint;
    totalSeconds: bigint;
    disputeWindow: bigint;
  };
/** A provider's share of one second, as the escrow computes it (each fee rounded down). */
const netPerSecond = (j: Awaited<ReturnType<typeof getJob>>) =>
  j.pricePerSecond - (j.pricePerSecond * j.coordinatorFeeBps) / 10_000n - (j.pricePerSecond * j.treasuryFeeBps) / 10_000n;

/** Every escrow balance and the client's tokens, to compare before and after a job. */
async function books(extra: string[] = []) {
  const treasury = (await policy.getFunction("treasury")()) as string;
  const accounts = [...net.dev.providers.map((p) => p.address), net.dev.coordinator.address, treasury, ...extra];
  const balances = new Map<string, bigint>();
  for (const a of accounts) balances.set(a.toLowerCase(), await balanceOf(a));
  return { balances, clientTokens: await tokenOf(net.dev.accounts.client.address), treasury };
}

/** What each account gained between two `books`. */
function gains(before: Awaited<ReturnType<typeof books>>, after: Awaited<ReturnType<typeof books>>) {
  const out = new Map<string, bigint>();
  for (const [a, v] of after.balances) out.set(a, v - (before.balances.get(a) ?? 0n));
  return out;
}

/** Moves chain time past the job's challenge window, refunds the client's unspent deposit and checks the job ended. */
async function refundAfterWindow(jobId: string): Promise<void> {
  const job = await getJob(jobId);
  const now = (await rpc.getBlock("latest"))!.timestamp;
  if (Number(job.closesAt) >= now) await rpc.send("evm_increaseTime", [Number(job.closesAt) - now + 1]);
  await rpc.send("evm_mine", []);
  // A claim can still be finishing in a provider's pass: refund once none is pending.
  const asClient = escrow.connect(new Wallet(net.dev.accounts.client.privateKey, rpc)) as Contract;
  await askEachBlock(net.dev, "the refund", async () => {
    const tx = (await asClient.getFunction("refund")(jobId)) as { wait(): Promise<unknown> };
    return tx.wait();
  });
}

/** The honest providers are paid exactly `net × delivered` (plus `extra`), and every token is conserved. */
function expectPaidInFull(
  r: Result,
  job: Awaited<ReturnType<typeof getJob>>,
  before: Awaited<ReturnType<typeof books>>,
  after: Awaited<ReturnType<typeof books>>,
  extra: (provider: string) => bigint = () => 0n,
) {
  const g = gains(before, after);
  const per = netPerSecond(job);
  let delivered = 0;
  for (const [provider, segments] of Object.entries(r.delivered)) {
    delivered += segments.length;
    expect(g.get(provider.toLowerCase()), `provider ${provider}`).toBe(per * BigInt(segments.length) + extra(provider));
  }
  expect(delivered).toBe(Number(job.totalSeconds)); // the client got the whole video
  // Conservation: what the client's tokens lost is exactly what the escrow credited to someone.
  const credited = [...g.values()].reduce((a, b) => a + b, 0n);
  expect(before.clientTokens - after.clientTokens).toBe(credited);
}

/** Who delivered each segment of the job, by the coordinator's record of its attempts. */
async function deliveredBy(jobId: string): Promise<Map<number, string[]>> {
  const res = await fetch(`${net.dev.coordinator.httpUrl}/api/jobs/${jobId}/segments`);
  const body = (await res.json()) as { segments: Array<{ index: number; attempts: Array<{ provider: string; delivery: unknown }> }> };
  return new Map(body.segments.map((s) => [s.index, s.attempts.filter((a) => a.delivery).map((a) => a.provider.toLowerCase())]));
}

/**
 * A job paid by claims: every second is paid once, to a provider that delivered a copy of that segment, and each
 * provider gains exactly its paid claims (and the bonds of the disputes it won); every token is conserved.
 */
async function expectClaimsPaidInFull(
  r: Result,
  before: Awaited<ReturnType<typeof books>>,
  after: Awaited<ReturnType<typeof books>>,
  bondPerDispute = 0n,
) {
  const job = await getJob(r.jobId);
  const per = netPerSecond(job);
  const owed = new Map<string, bigint>();
  const deliverers = await deliveredBy(r.jobId);
  for (let s = 0; s < Number(job.totalSeconds); s++) {
    const c = (await escrow.getFunction("getClaim")(r.jobId, s)) as { provider: string; status: bigint };
    expect(Number(c.status), `segment ${s}`).toBe(CLAIM_PAID);
    // Paid to a provider the coordinator assigned the segment to and that delivered it (the client saw one copy;
    // a straggler's speculative copy delivered later is a delivery too, with its own assignment and receipt).
    expect(deliverers.get(s) ?? [], `segment ${s}`).toContain(c.provider.toLowerCase());
    owed.set(c.provider.toLowerCase(), (owed.get(c.provider.toLowerCase()) ?? 0n) + per + bondPerDispute);
  }
  const g = gains(before, after);
  for (const p of net.dev.providers)
    expect(g.get(p.address.toLowerCase()), `provider ${p.address}`).toBe(owed.get(p.address.toLowerCase()) ?? 0n);
  const credited = [...g.values()].reduce((a, b) => a + b, 0n);
  expect(before.clientTokens - after.clientTokens).toBe(credited);
}

describe("a dishonest client", () => {
  test("error: settling with nobody and disputing every claim pays the providers in full (claims, the arbiter's verdicts)", async () => {
    const before = await books();
    const r = await runDishonestClient("withhold");
    const segments = Object.values(r.delivered).flat();
    // The arbiter fetches each disputed segment from its provider over bitswap, re-runs the client's checks and pays.
    await askEachBlock(net.dev, "the arbiter to pay every disputed claim", async () => {
      for (const s of segments)
        if (Number(((await escrow.getFunction("getClaim")(r.jobId, s)) as { status: bigint }).status) !== CLAIM_PAID) return undefined;
      return true;
    });
    // …it judged every one by the client's checks and refused none (its own metrics).
    const metrics = await (await fetch(net.dev.arbiter!.metricsUrl!)).text();
    expect(Number(/rendermesh_arbiter_verdicts_total\{verdict="pay"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(segments.length);
    expect(metrics).not.toMatch(/rendermesh_arbiter_verdicts_total\{verdict="refuse"\} [1-9]/);
    await refundAfterWindow(r.jobId);
    // A dispute the arbiter pays gives the client's bond to the provider.
    const bond = BigInt(r.bonds ?? "0") / BigInt(segments.length);
    await expectClaimsPaidInFull(r, before, await books(), bond);
  });

  test("error: a low settle ordered before the providers' redeems in the same block does not cut them off", async () => {
    const before = await books();
    const r = await runDishonestClient("frontrun");
    const [settle, ...redeems] = r.block!;
    expect(redeems.length).toBe(Object.keys(r.delivered).length);
    for (const x of redeems) {
      expect(x.block).toBe(settle!.block); // the same block…
      expect(x.index).toBeGreaterThan(settle!.index); // …the settle first…
      expect(x.status, JSON.stringify(r.mined)).toBe(1); // …and the redeem still pays
    }
    expect(settle!.status).toBe(1);
    expect(Number((await getJob(r.jobId)).status)).toBe(JOB_CLOSING);
    await refundAfterWindow(r.jobId);
    expectPaidInFull(r, await getJob(r.jobId), before, await books());
  });

  test("error: vouchers to the client's own address are refused, and the providers claim and are paid in full", async () => {
    const before = await books();
    const r = await runDishonestClient("divert");
    expect(r.attempts).toMatchObject({
      redeem: "JobEscrowInvalidSigner",
      settle: "JobEscrowInvalidSigner",
    });
    expect(r.attempts!["voucher to the provider"]).toMatch(/BAD_MESSAGE|not/);
    const segments = Object.values(r.delivered).flat();
    // Undisputed claims are paid once their dispute window has passed: move the chain past it.
    await askEachBlock(net.dev, "every provider to claim", async () => {
      for (const s of segments)
        if (Number(((await escrow.getFunction("getClaim")(r.jobId, s)) as { status: bigint }).status) === 0) return undefined;
      return true;
    });
    // The client CLI shows each pending claim, when its dispute window ends, and when the deposit unlocks.
    const status = await runCli(["job", "status", r.jobId, "--json"], net.file);
    expect(status.code, status.stderr).toBe(0);
    const shown = JSON.parse(status.stdout) as {
      chain: { status: string };
      refundableAt: number;
      depositUnlocksAt: number;
      claims: Array<{ segment: number; provider: string; status: string; until: number }>;
    };
    const now = (await rpc.getBlock("latest"))!.timestamp;
    expect(shown.chain.status).toBe("closing");
    expect(shown.claims.map((c) => c.segment).sort((a, b) => a - b)).toEqual([...segments].sort((a, b) => a - b));
    for (const c of shown.claims) {
      expect(c.status).toBe("pending");
      expect(c.until).toBe(Number(((await escrow.getFunction("getClaim")(r.jobId, c.segment)) as { deadlineAt: bigint }).deadlineAt));
      expect(c.until).toBeGreaterThan(now);
    }
    expect(shown.depositUnlocksAt).toBe(Math.max(shown.refundableAt, ...shown.claims.map((c) => c.until)));
    const human = await runCli(["job", "status", r.jobId], net.file);
    expect(human.stdout).toMatch(/^Claim: +segment \d+ claimed by 0x[0-9a-fA-F]{40}: dispute it until \d{4}-/m);
    expect(human.stdout).toMatch(/^Unlocks: +the unspent deposit returns after \d{4}-/m);
    // And a provider's own CLI shows its pending claims with when each is paid.
    const claimer = shown.claims[0]!.provider.toLowerCase();
    const index = net.dev.providers.findIndex((p) => p.address.toLowerCase() === claimer);
    const mine = await providerCli(index, ["status", "--json"]);
    expect(mine.code, mine.stderr).toBe(0);
    const own = (
      JSON.parse(mine.stdout) as { claims: Array<{ jobId: string; segment: number; payState: string; disputableUntil: number }> }
    ).claims.filter((c) => c.jobId.toLowerCase() === r.jobId.toLowerCase());
    expect(own.map((c) => c.segment).sort()).toEqual(
      shown.claims
        .filter((c) => c.provider.toLowerCase() === claimer)
        .map((c) => c.segment)
        .sort(),
    );
    for (const c of own) {
      expect(c.payState).toBe("claimed");
      expect(c.disputableUntil).toBe(shown.claims.find((x) => x.segment === c.segment)!.until);
    }
    // …and the job's challenge window: until when it may still redeem and claim.
    const jobs = (JSON.parse(mine.stdout) as { jobs: Array<{ jobId: string; status: string; windowEndsAt: number }> }).jobs;
    expect(jobs.find((j) => j.jobId.toLowerCase() === r.jobId.toLowerCase())).toMatchObject({
      status: "closing",
      windowEndsAt: Number((await getJob(r.jobId)).closesAt),
    });
    expect((await providerCli(index, ["status"])).stdout).toMatch(
      /claim 0x[0-9a-f]{64} segment \d+: pending; finalised and paid after \d{4}-/,
    );

    const job = await getJob(r.jobId);
    await rpc.send("evm_increaseTime", [Number(job.disputeWindow) + 1]);
    await rpc.send("evm_mine", []);
    await askEachBlock(net.dev, "the providers to finalise their claims", async () => {
      for (const s of segments)
        if (Number(((await escrow.getFunction("getClaim")(r.jobId, s)) as { status: bigint }).status) !== CLAIM_PAID) return undefined;
      return true;
    });
    await refundAfterWindow(r.jobId);
    const after = await books([r.divertTo!]);
    expect(await balanceOf(r.divertTo!)).toBe(0n);
    await expectClaimsPaidInFull(r, before, after);
  });
});
