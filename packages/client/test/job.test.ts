import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { getAddress, type Wallet } from "ethers";
import { scalePrice, type JobSpec } from "@rendermesh/shared";
import { probeSegment } from "@rendermesh/shared/media";
import type { Coordinator } from "@rendermesh/coordinator";
import { generateVideo } from "../src/actions/generateVideo.js";
import { getJob } from "../src/actions/getJob.js";
import { openJob } from "../src/actions/openJob.js";
import { feePerSecond } from "../src/actions/payments.js";
import { quoteJob } from "../src/actions/quoteJob.js";
import { checkPolicy } from "../src/actions/checkPolicy.js";
import { refundJob } from "../src/actions/refundJob.js";
import { runJob } from "../src/actions/runJob.js";
import { settleEntries, settleJob } from "../src/actions/settleJob.js";
import { verifyManifest } from "../src/actions/verifyManifest.js";
import type { JobProgressEvent } from "../src/events.js";
import { account, fund, MESH, startChain, type TestChain } from "./support/chain.js";
import { REFERENCE, Stack, startClient, startCoordinator, startProvider } from "./support/network.js";
import { closeRenderer } from "./support/segments.js";
import type { TestProvider } from "@rendermesh/testing";

// A real Hardhat chain with the contracts deployed by scripts/deploy.ts, the
// real coordinator in-process, and test providers that render with the ONNX
// model, encode with ffmpeg and serve segments over Helia/bitswap.

const ASK = MESH / 1000n + 7n; // per second at the 32x32@4 reference: prices that do not divide evenly
let chain: TestChain;
const stack = new Stack();
let coordinator: Coordinator;
let honest: TestProvider[];

const SPEC = { prompt: "a calm blue sea at night", seconds: 3, fps: 4, width: 32, height: 32 };

async function tokenBalance(who: string): Promise<bigint> {
  return chain.contracts.token.balanceOf(who);
}

beforeAll(async () => {
  chain = await startChain();
  coordinator = await startCoordinator(chain, stack);
  honest = [await startProvider(chain, stack, { ask: ASK, coordinator }), await startProvider(chain, stack, { ask: ASK, coordinator })];
  for (const i of [9, 10, 11]) await fund(chain, account(i).address, 1_000n * MESH);
}, 180_000);

afterAll(async () => {
  await stack.stopAll();
  await chain?.stop();
  await closeRenderer();
}, 60_000);

describe("a job end to end", { timeout: 180_000 }, () => {
  test("default: an honest job verifies every segment and settles to exact token amounts", async () => {
    const wallet: Wallet = account(9);
    const client = await startClient(chain, stack, wallet, coordinator);
    const escrowBefore = await Promise.all(honest.map((p) => chain.contracts.escrow.balanceOf(p.address)));
    const coordinatorBefore = await chain.contracts.escrow.balanceOf(coordinator.address);
    const clientBefore = await tokenBalance(wallet.address);
    const events: JobProgressEvent[] = [];

    const result = await generateVideo(client, { ...SPEC, onProgress: (e) => events.push(e) });

    expect(result.status).toBe("settled");
    expect(result.verified).toBe(3);
    expect(result.rejected).toBe(0);
    const price = client.journal.getJob(result.jobId).pricePerSecond;
    expect(price).toBeGreaterThanOrEqual(scalePrice(ASK, SPEC, REFERENCE));
    const deposit = price * 3n;
    const cFee = feePerSecond(price, 250);
    const tFee = feePerSecond(price, 125);
    const perSecond = price - cFee - tFee;
    const p = result.payments;
    expect(p.deposit).toBe(deposit);
    expect(p.refund).toBe(0n);
    expect(p.coordinator.amount).toBe(3n * cFee);
    expect(p.treasury.amount).toBe(3n * tFee);
    expect(p.providers.reduce((n, x) => n + x.seconds, 0)).toBe(3);
    for (const x of p.providers) expect(x.amount).toBe(BigInt(x.seconds) * perSecond);
    expect(p.providers.reduce((a, x) => a + x.amount, 0n) + p.coordinator.amount + p.treasury.amount + p.refund).toBe(deposit);

    // The chain agrees: the client paid the deposit, providers and coordinator were credited exactly that.
    expect(clientBefore - (await tokenBalance(wallet.address))).toBe(deposit - p.refund);
    for (const [i, prov] of honest.entries()) {
      const paid = p.providers.find((x) => getAddress(x.provider) === getAddress(prov.address));
      expect((await chain.contracts.escrow.balanceOf(prov.address)) - escrowBefore[i]!).toBe(paid?.amount ?? 0n);
      // Each provider got a cumulative voucher for exactly its verified seconds.
      expect(prov.voucherSeconds(result.jobId)).toBe(paid?.seconds ?? 0);
    }
    expect((await chain.contracts.escrow.balanceOf(coordinator.address)) - coordinatorBefore).toBe(3n * cFee);
    expect((await getJob(client, { jobId: result.jobId })).status).toBe("settled");

    // One MP4 of every frame, and a manifest anyone can re-verify.
    expect(result.video && existsSync(result.video.path)).toBe(true);
    expect((await probeSegment(result.video!.path)).frames).toBe(12);
    expect(existsSync(result.manifestPath)).toBe(true);
    const check = await verifyManifest(client, { path: result.manifestPath });
    expect(check.problems).toEqual([]);
    expect(check.checked).toMatchObject({ segments: 3, payments: true, video: "ok" });

    // A tampered manifest does not verify: another payment split, a segment swapped for another.
    const { readFileSync, writeFileSync } = await import("node:fs");
    const manifest = JSON.parse(readFileSync(result.manifestPath, "utf8")) as {
      payments: { refund: string };
      segments: Array<{ delivery: unknown; assignment: unknown }>;
    };
    manifest.payments.refund = "1";
    [manifest.segments[0]!.delivery, manifest.segments[1]!.delivery] = [manifest.segments[1]!.delivery, manifest.segments[0]!.delivery];
    const tampered = result.manifestPath.replace(/manifest\.json$/, "tampered.json");
    writeFileSync(tampered, JSON.stringify(manifest));
    const bad = await verifyManifest(client, { path: tampered });
    expect(bad.ok).toBe(false);
    expect(bad.problems).toContain("the payments differ from the chain's events");
    expect(bad.problems.some((p) => /^segment 0 fails the signature check/.test(p))).toBe(true);

    const types = events.map((e) => e.type);
    for (const t of [
      "policy:checked",
      "quote:received",
      "job:opened",
      "segment:verified",
      "voucher:signed",
      "settle:confirmed",
      "manifest:written",
    ])
      expect(types).toContain(t);
    expect(types.filter((t) => t === "segment:verified")).toHaveLength(3);
    // Every segment verified before its voucher.
    expect(types.indexOf("segment:verified")).toBeLessThan(types.indexOf("voucher:signed"));
  });

  test("behavior: a client stopped between open and settle resumes from its journal and settles once", async () => {
    const wallet = account(10);
    const first = await startClient(chain, stack, wallet, coordinator);
    const dataDir = first.dataDir;
    const outDir = first.outDir;
    const spec = { ...SPEC, prompt: "spinning purple galaxy", seconds: 3 };
    const stop = new AbortController();
    let jobId: string | undefined;
    await expect(
      generateVideo(first, {
        ...spec,
        signal: stop.signal,
        onProgress: (e) => {
          if (e.type === "job:opened") jobId = e.detail.jobId;
          // Stop the client right after its first verified segment.
          if (e.type === "segment:verified") stop.abort(new Error("client killed"));
        },
      }),
    ).rejects.toThrow();
    expect(jobId).toBeDefined();
    expect((await getJob(first, { jobId: jobId as `0x${string}` })).status).toBe("open");
    const verifiedBefore = first.journal.verifiedSegments(first.journal.getJob(jobId!).ref).length;
    expect(verifiedBefore).toBeGreaterThanOrEqual(1);
    await first.close();

    // A new process: same data dir (journal + peer key), nothing in memory.
    const second = await startClient(chain, stack, wallet, coordinator, { dataDir, outDir });
    const result = await runJob(second, { jobId: jobId! });
    expect(result.status).toBe("settled");
    expect(result.verified).toBe(3);
    const settles = await chain.provider.getLogs({
      address: chain.deployment.escrow,
      topics: [chain.contracts.escrow.interface.getEvent("JobSettled")!.topicHash, jobId!],
      fromBlock: 0,
    });
    expect(settles).toHaveLength(1);
    const nonce = await chain.provider.getTransactionCount(wallet.address);

    // Running it once more changes nothing on-chain.
    const again = await runJob(second, { jobId: jobId! });
    expect(again.settleTx).toBe(result.settleTx);
    expect(await chain.provider.getTransactionCount(wallet.address)).toBe(nonce);
    expect(again.payments).toEqual(result.payments);
  });

  test("behavior: a settle journalled but never broadcast is re-sent as the same transaction, once", async () => {
    const wallet = account(11);
    const client = await startClient(chain, stack, wallet, coordinator);
    const spec = { ...SPEC, prompt: "green forest in the morning", seconds: 2 };
    const stop = new AbortController();
    let ref: string | undefined;
    // Run to job-complete, then stop before settling.
    await expect(
      generateVideo(client, {
        ...spec,
        signal: stop.signal,
        onProgress: (e) => {
          if (e.type === "job:opening") ref = e.detail.txHash;
          if (e.type === "video:assembled") stop.abort(new Error("killed before settle"));
        },
      }),
    ).rejects.toThrow("killed before settle");
    const job = client.journal.getJob(ref!);
    expect(job.phase).toBe("assembled");
    expect(client.journal.lastTx(job.ref, "settle")).toBeUndefined();
    // Sign and journal a settle exactly as settleJob does, but "crash" before broadcasting it.
    const iface = chain.contracts.escrow.interface;
    const populated = await client.wallet.populateTransaction({
      to: chain.deployment.escrow,
      data: iface.encodeFunctionData("settle", [job.jobId, settleEntries(client, job.ref)]),
    });
    const raw = await client.wallet.signTransaction(populated);
    const { Transaction } = await import("ethers");
    const hash = Transaction.from(raw).hash as `0x${string}`;
    client.journal.addTx(job.ref, { kind: "settle", hash, raw: raw as `0x${string}`, nonce: Number(populated.nonce) });

    const settled = await settleJob(client, { jobId: job.ref });
    expect(settled.txHash).toBe(hash);
    expect(settled.alreadySettled).toBe(true);
    const again = await settleJob(client, { jobId: job.ref });
    expect(again.txHash).toBe(hash);
    expect((await getJob(client, { jobId: job.jobId! })).status).toBe("settled");
  });

  test("error: a prompt with a blocked term is refused before any gas is spent", async () => {
    const wallet = account(9);
    const client = await startClient(chain, stack, wallet, coordinator);
    const nonce = await chain.provider.getTransactionCount(wallet.address);
    await expect(generateVideo(client, { ...SPEC, prompt: "a Forbidden garden" })).rejects.toMatchObject({
      name: "PolicyRefusedError",
      term: "forbidden",
      exitCode: 3,
    });
    expect(await chain.provider.getTransactionCount(wallet.address)).toBe(nonce);
  });

  test("error: a job the coordinator refuses is settled at once and the whole deposit comes back after the challenge window", async () => {
    const wallet = account(10);
    const client = await startClient(chain, stack, wallet, coordinator);
    const spec = { v: 1 as const, model: chain.model, seed: 1, ...SPEC, prompt: "misty grey mountains" } satisfies JobSpec;
    const policy = await checkPolicy(client, { spec });
    const quote = await quoteJob(client, { spec });
    const before = await tokenBalance(wallet.address);
    const opened = await openJob(client, { spec, quote, policyVersion: policy.version, coordinatorPeer: coordinator.multiaddrs });
    expect(before - (await tokenBalance(wallet.address))).toBe(opened.deposit);
    // Submit a spec other than the one whose hash the escrow holds.
    client.journal.updateJob(opened.ref, { spec: { ...spec, prompt: "something else" } });
    await expect(runJob(client, { jobId: opened.jobId })).rejects.toMatchObject({
      name: "PeerRefusedError",
      reason: "SPEC_HASH_MISMATCH",
      exitCode: 3,
    });
    expect(client.journal.getJob(opened.ref)).toMatchObject({ phase: "closed", failure: expect.stringMatching(/^SPEC_HASH_MISMATCH/) });
    // Settled with nobody listed: the job is closing, and the deposit comes back once its challenge window ends.
    const closing = await getJob(client, { jobId: opened.jobId });
    expect(closing.status).toBe("closing");
    await chain.increaseTime(closing.closesAt - (await chain.provider.getBlock("latest"))!.timestamp + 1);
    expect((await refundJob(client, { jobId: opened.jobId })).refund).toBe(opened.deposit);
    expect(await tokenBalance(wallet.address)).toBe(before);
  });

  test("behavior: an abandoned job's deposit comes back after its deadline and claim window", async () => {
    const wallet = account(11);
    const client = await startClient(chain, stack, wallet, coordinator);
    const spec = { v: 1 as const, model: chain.model, seed: 1, ...SPEC, prompt: "an old library full of books" } satisfies JobSpec;
    const policy = await checkPolicy(client, { spec });
    const quote = await quoteJob(client, { spec });
    const block = await chain.provider.getBlock("latest");
    const now = Math.max(block!.timestamp, Math.floor(Date.now() / 1000));
    const opened = await openJob(client, {
      spec,
      quote,
      policyVersion: policy.version,
      coordinatorPeer: coordinator.multiaddrs,
      deadline: now + 60,
    });
    const before = await tokenBalance(wallet.address);
    await expect(refundJob(client, { jobId: opened.jobId })).rejects.toMatchObject({ name: "JobStateError", exitCode: 3 });
    await chain.increaseTime(60 + 121);
    const r = await refundJob(client, { jobId: opened.jobId });
    expect(r.refund).toBe(opened.deposit);
    expect((await tokenBalance(wallet.address)) - before).toBe(opened.deposit);
    expect((await getJob(client, { jobId: opened.jobId })).status).toBe("refunded");
    const again = await refundJob(client, { jobId: opened.jobId });
    expect(again).toMatchObject({ alreadyRefunded: true, txHash: r.txHash });
  });
});
