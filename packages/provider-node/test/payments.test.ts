import type { JobSpec } from "@rendermesh/shared";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FakeCoordinator, type TestChain } from "@rendermesh/testing";
import { PaymentLoop } from "../src/chain/payments.js";
import { runCli } from "../src/cli.js";
import type { Provider } from "../src/provider.js";
import { MODEL_ID, startChain, startTestProvider, tempDir, testLogger } from "./helpers/provider.js";

const MESH = 10n ** 18n;
/** 1 MESH per second less the 5 % coordinator and 1 % treasury fees. */
const NET = MESH - MESH / 20n - MESH / 100n;

describe("payments: vouchers, claims, withdraw, status", () => {
  let chain: TestChain;
  let provider: Provider;
  let coordinator: FakeCoordinator;
  let target: string;
  let dataDir: string;
  const cleanups: Array<() => void> = [];

  beforeAll(async () => {
    chain = await startChain({ disputeWindow: 60n, claimWindow: 600n });
    const c = tempDir("rm-coord-");
    cleanups.push(c.cleanup);
    coordinator = await new FakeCoordinator(chain, { dataDir: c.dir }).start();
    const data = tempDir();
    cleanups.push(data.cleanup);
    dataDir = data.dir;
    provider = await startTestProvider(chain, chain.providers[2]!, dataDir, {
      redeemBeforeDeadlineSeconds: 600,
      redeemAfterQuietSeconds: 86_400,
    });
    target = `${provider.multiaddrs()[0]!}/p2p/${provider.peerId}`.replace(/\/p2p\/[^/]+\/p2p\//, "/p2p/");
    // The tests run each payment pass themselves (tick), so none runs on the schedule meanwhile.
    await provider.payments.stop();
  }, 240_000);

  afterAll(async () => {
    await provider?.stop();
    await coordinator?.stop();
    await chain?.stop();
    for (const c of cleanups) c();
  }, 60_000);

  const spec = (seed: number): JobSpec => ({
    v: 1,
    model: MODEL_ID,
    prompt: "rain on a tin roof",
    seed,
    seconds: 2,
    fps: 4,
    width: 64,
    height: 64,
  });

  async function renderAll(jobId: `0x${string}`, s: JobSpec) {
    for (let segment = 0; segment < s.seconds; segment++) {
      const replies = await coordinator.render(target, await coordinator.signedRequest(jobId, s, segment, provider.address));
      expect(replies[replies.length - 1]!.type).toBe("delivered");
    }
  }

  const cli = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli([...argv, "--rpc-url", chain.rpcUrl, "--deployment", chain.deploymentFile, "--data-dir", dataDir], {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      env: { RENDERMESH_PRIVATE_KEY: chain.providers[2]!.privateKey, RENDERMESH_LOG_LEVEL: "warn" },
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  test("behavior: a voucher is redeemed by itself once the job's deadline is near, not before", async () => {
    const s = spec(1);
    const { jobId } = await chain.openJob({ spec: s, deadlineIn: 1_800 });
    await renderAll(jobId, s);
    const v = { jobId, provider: provider.address, seconds: 2 };
    const ack = await coordinator.sendVoucher(target, {
      type: "voucher",
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      voucher: v,
      signature: await chain.signVoucher(v),
    });
    expect(ack).toMatchObject({ type: "voucher-ack", seconds: 2 });

    const early = await provider.payments.tick();
    expect(early.redeemed).toEqual([]);
    expect(await chain.contracts.escrow.paidSeconds(jobId, provider.address)).toBe(0n);

    await chain.increaseTime(1_300);
    const near = await provider.payments.tick();
    expect(near.redeemed).toEqual([expect.objectContaining({ jobId, seconds: 2, amount: 2n * NET })]);
    expect(await chain.contracts.escrow.paidSeconds(jobId, provider.address)).toBe(2n);
    expect(provider.journal.getVoucher(jobId)).toMatchObject({ redeemedSeconds: 2 });
    expect(provider.journal.listAssignments({ jobId }).map((a) => a.payState)).toEqual(["covered", "covered"]);
  }, 120_000);

  test("behavior: delivered segments without a voucher are claimed after the deadline and finalised after the dispute window", async () => {
    const s = spec(2);
    const { jobId } = await chain.openJob({ spec: s, deadlineIn: 300 });
    await renderAll(jobId, s);
    expect((await provider.payments.tick()).claimed).toEqual([]);

    await chain.increaseTime(301);
    const claimed = await provider.payments.tick();
    expect(claimed.claimed.filter((c) => c.jobId === jobId).map((c) => c.segment)).toEqual([0, 1]);
    expect(provider.journal.listAssignments({ jobId }).map((a) => a.payState)).toEqual(["claimed", "claimed"]);
    expect(Number((await chain.contracts.escrow.getClaim(jobId, 0)).status)).toBe(1);

    const before = await chain.contracts.escrow.balanceOf(provider.address);
    await chain.increaseTime(61);
    const finalized = await provider.payments.tick();
    expect(finalized.finalized.filter((f) => f.jobId === jobId).map((f) => f.amount)).toEqual([NET, NET]);
    expect(await chain.contracts.escrow.balanceOf(provider.address)).toBe(before + 2n * NET);
    expect(provider.journal.listAssignments({ jobId }).map((a) => a.payState)).toEqual(["finalized", "finalized"]);
  }, 120_000);

  test("behavior: a settle by the client is noticed and recorded as earnings", async () => {
    const s = spec(3);
    const { jobId } = await chain.openJob({ spec: s });
    await renderAll(jobId, s);
    const { connectContracts } = await import("@rendermesh/shared/chain");
    // The provider acknowledges its two seconds with the voucher; the client's settle is cooperative and closes the job.
    const v = { jobId, provider: provider.address as `0x${string}`, seconds: 2 };
    const ack = await coordinator.sendVoucher(target, {
      type: "voucher",
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      voucher: v,
      signature: await chain.signVoucher(v),
    });
    if (ack.type !== "voucher-ack" || !ack.acknowledgement || !ack.allocation)
      throw new Error(`no acknowledgement: ${JSON.stringify(ack)}`);
    const entry = {
      provider: provider.address,
      totalSeconds: 2,
      allocated: ack.allocation.seconds,
      allocationSig: ack.allocation.signature,
      acknowledgementSig: ack.acknowledgement,
    };
    await (await connectContracts(chain.client, chain.deployment).escrow.settle(jobId, [entry])).wait();
    const tick = await provider.payments.tick();
    expect(tick.settled).toEqual([expect.objectContaining({ jobId, seconds: 2, amount: 2n * NET })]);
    expect(provider.journal.getJob(jobId)).toMatchObject({ status: "settled", paidSeconds: 2, done: true });
    expect(provider.journal.listAssignments({ jobId }).map((a) => a.payState)).toEqual(["covered", "covered"]);
  }, 120_000);

  test("behavior: a client that has gone quiet has its voucher redeemed before the deadline", async () => {
    const s = spec(4);
    const { jobId } = await chain.openJob({ spec: s, deadlineIn: 7_200 });
    await renderAll(jobId, s);
    const v = { jobId, provider: provider.address, seconds: 2 };
    await coordinator.sendVoucher(target, {
      type: "voucher",
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      voucher: v,
      signature: await chain.signVoucher(v),
    });
    // The same loop, seen from an hour later by the wall clock: the client has said nothing since.
    const later = new PaymentLoop(
      {
        address: provider.address,
        chain: provider.chain,
        escrow: provider.chain,
        journal: provider.journal,
        logger: testLogger(),
        now: () => Date.now() + 3_600_000,
      },
      { redeemAfterQuietSeconds: 900, redeemBeforeDeadlineSeconds: 60 },
    );
    expect((await provider.payments.tick()).redeemed.filter((r) => r.jobId === jobId)).toEqual([]);
    const tick = await later.tick();
    expect(tick.redeemed).toEqual([expect.objectContaining({ jobId, seconds: 2, amount: 2n * NET })]);
  }, 120_000);

  test("default: `status --json` shows stake, earnings, pending vouchers and claims", async () => {
    const r = await cli("status", "--json");
    expect(r.code).toBe(0);
    const status = JSON.parse(r.out) as Record<string, unknown>;
    expect(status).toMatchObject({
      address: provider.address,
      registered: true,
      stake: (100n * MESH).toString(),
      peerIdBound: true,
      pendingVoucherSeconds: 0,
    });
    expect(BigInt(status.earned as string)).toBe(8n * NET);
    expect(BigInt(status.escrowBalance as string)).toBe(8n * NET);
  }, 60_000);

  test("default: `withdraw` moves the escrow balance to the wallet", async () => {
    const before = await chain.contracts.token.balanceOf(provider.address);
    const r = await cli("withdraw", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ withdrawn: (8n * NET).toString() });
    expect(await chain.contracts.token.balanceOf(provider.address)).toBe(before + 8n * NET);
    expect(await chain.contracts.escrow.balanceOf(provider.address)).toBe(0n);
    const again = await cli("withdraw");
    expect(again.out).toContain("nothing to withdraw");
  }, 60_000);

  test("default: `unstake --request` then `--withdraw` after the cooldown returns stake", async () => {
    const requested = await cli("unstake", "--request", "10", "--json");
    expect(requested.code).toBe(0);
    expect(JSON.parse(requested.out)).toMatchObject({ requested: (10n * MESH).toString() });
    const tooSoon = await cli("unstake", "--withdraw");
    expect(tooSoon.code).toBe(1);
    expect(tooSoon.err).toMatch(/ProviderRegistryUnstakeNotReady/);
    await chain.increaseTime(61);
    const before = await chain.contracts.token.balanceOf(provider.address);
    const withdrawn = await cli("unstake", "--withdraw", "--json");
    expect(withdrawn.code).toBe(0);
    expect(await chain.contracts.token.balanceOf(provider.address)).toBe(before + 10n * MESH);
  }, 60_000);
});
