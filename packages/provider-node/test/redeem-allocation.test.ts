import type { JobSpec } from "@rendermesh/shared";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FakeCoordinator, type TestChain } from "@rendermesh/testing";
import type { Provider } from "../src/provider.js";
import { MODEL_ID, startChain, startTestProvider, tempDir } from "./helpers/provider.js";

const MESH = 10n ** 18n;
/** 1 MESH per second less the 5 % coordinator and 1 % treasury fees. */
const NET = MESH - MESH / 20n - MESH / 100n;

describe("redeem: the allocation the escrow keeps", () => {
  let chain: TestChain;
  let provider: Provider;
  let coordinator: FakeCoordinator;
  let target: string;
  const cleanups: Array<() => void> = [];

  beforeAll(async () => {
    chain = await startChain({ disputeWindow: 60n, claimWindow: 600n });
    const c = tempDir("rm-coord-");
    cleanups.push(c.cleanup);
    coordinator = await new FakeCoordinator(chain, { dataDir: c.dir }).start();
    const data = tempDir();
    cleanups.push(data.cleanup);
    provider = await startTestProvider(chain, chain.providers[2]!, data.dir, {
      redeemBeforeDeadlineSeconds: 600,
      redeemAfterQuietSeconds: 86_400,
    });
    target = `${provider.multiaddrs()[0]!}/p2p/${provider.peerId}`.replace(/\/p2p\/[^/]+\/p2p\//, "/p2p/");
    // The test runs each payment pass itself (tick), so none runs on the schedule meanwhile.
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

  test("behavior: a later redeem in a job whose allocation the escrow already keeps sends an empty allocation signature", async () => {
    const s = spec(5);
    // The deadline is within redeemBeforeDeadlineSeconds: each voucher is redeemed on the next pass.
    const { jobId } = await chain.openJob({ spec: s, deadlineIn: 300 });
    await renderAll(jobId, s);
    const send = async (seconds: number) => {
      const v = { jobId, provider: provider.address, seconds };
      await coordinator.sendVoucher(target, {
        type: "voucher",
        chainId: chain.chainId,
        escrow: chain.deployment.escrow,
        voucher: v,
        signature: await chain.signVoucher(v),
      });
      const tick = await provider.payments.tick();
      const r = tick.redeemed.find((x) => x.jobId === jobId);
      if (!r) throw new Error(`no redeem for ${seconds} s: ${JSON.stringify(tick.errors)}`);
      const tx = await chain.provider.getTransaction(r.tx);
      const call = chain.contracts.escrow.interface.parseTransaction({ data: tx!.data });
      return { amount: r.amount, allocated: Number(call!.args[2]), allocationSig: call!.args[3] as string };
    };
    // The first redeem carries the coordinator's allocation of both segments; the escrow records it.
    expect(await send(1)).toMatchObject({ amount: NET, allocated: 2 });
    const second = await send(2);
    expect(second).toMatchObject({ amount: NET, allocationSig: "0x" });
    expect(await chain.contracts.escrow.paidSeconds(jobId, provider.address)).toBe(2n);
    expect(provider.journal.getAllocation(jobId)).toMatchObject({ seconds: 2, onChainSeconds: 2 });
  }, 120_000);

  test("error: an empty-signature redeem the escrow refuses (a journal that believed a record the chain lacks) is sent with the signature on the next pass", async () => {
    const s = spec(6);
    const { jobId } = await chain.openJob({ spec: s, deadlineIn: 300 });
    await renderAll(jobId, s);
    const v = { jobId, provider: provider.address, seconds: 2 };
    await coordinator.sendVoucher(target, {
      type: "voucher",
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      voucher: v,
      signature: await chain.signVoucher(v),
    });
    // As if restored from another machine's journal: it notes an allocation on record that this chain never saw.
    provider.journal.setOnChainAllocation(jobId, 2);
    const refused = await provider.payments.tick();
    expect(refused.redeemed.filter((r) => r.jobId === jobId)).toEqual([]);
    expect(refused.errors).toEqual([
      expect.objectContaining({ jobId, action: "redeem", message: expect.stringMatching(/OverAllocation/) }),
    ]);
    expect(provider.journal.getAllocation(jobId)).toMatchObject({ onChainSeconds: 0 });

    const next = await provider.payments.tick();
    const r = next.redeemed.find((x) => x.jobId === jobId);
    expect(r).toMatchObject({ seconds: 2, amount: 2n * NET });
    const tx = await chain.provider.getTransaction(r!.tx);
    expect(chain.contracts.escrow.interface.parseTransaction({ data: tx!.data })!.args[3]).not.toBe("0x");
    expect(provider.journal.getAllocation(jobId)).toMatchObject({ onChainSeconds: 2 });
  }, 120_000);
});
