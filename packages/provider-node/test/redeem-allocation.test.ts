import { describe, expect, test } from "vitest";
import { NET, paymentSpec as spec, usePaymentRig } from "./helpers/payments.js";

describe("redeem: the allocation the escrow keeps", () => {
  // Each test gets the chain as it was before the first and its own provider.
  const rig = usePaymentRig();

  test("behavior: a later redeem in a job whose allocation the escrow already keeps sends an empty allocation signature", async () => {
    const s = spec(5);
    // The deadline is within redeemBeforeDeadlineSeconds: each voucher is redeemed on the next pass.
    const { jobId } = await rig.chain.openJob({ spec: s, deadlineIn: 300 });
    await rig.renderAll(jobId, s);
    const send = async (seconds: number) => {
      await rig.sendVoucher(jobId, seconds);
      const tick = await rig.provider.payments.tick();
      const r = tick.redeemed.find((x) => x.jobId === jobId);
      if (!r) throw new Error(`no redeem for ${seconds} s: ${JSON.stringify(tick.errors)}`);
      const tx = await rig.chain.provider.getTransaction(r.tx);
      const call = rig.chain.contracts.escrow.interface.parseTransaction({ data: tx!.data });
      return { amount: r.amount, allocated: Number(call!.args[2]), allocationSig: call!.args[3] as string };
    };
    // The first redeem carries the coordinator's allocation of both segments; the escrow records it.
    expect(await send(1)).toMatchObject({ amount: NET, allocated: 2 });
    const second = await send(2);
    expect(second).toMatchObject({ amount: NET, allocationSig: "0x" });
    expect(await rig.chain.contracts.escrow.paidSeconds(jobId, rig.provider.address)).toBe(2n);
    expect(rig.provider.journal.getAllocation(jobId)).toMatchObject({ seconds: 2, onChainSeconds: 2 });
  }, 120_000);

  test("error: an empty-signature redeem the escrow refuses (a journal that believed a record the chain lacks) is sent with the signature on the next pass", async () => {
    const s = spec(6);
    const { jobId } = await rig.chain.openJob({ spec: s, deadlineIn: 300 });
    await rig.renderAll(jobId, s);
    await rig.sendVoucher(jobId, 2);
    // As if restored from another machine's journal: it notes an allocation on record that this chain never saw.
    rig.provider.journal.setOnChainAllocation(jobId, 2);
    const refused = await rig.provider.payments.tick();
    expect(refused.redeemed.filter((r) => r.jobId === jobId)).toEqual([]);
    expect(refused.errors).toEqual([
      expect.objectContaining({ jobId, action: "redeem", message: expect.stringMatching(/OverAllocation/) }),
    ]);
    expect(rig.provider.journal.getAllocation(jobId)).toMatchObject({ onChainSeconds: 0 });

    const next = await rig.provider.payments.tick();
    const r = next.redeemed.find((x) => x.jobId === jobId);
    expect(r).toMatchObject({ seconds: 2, amount: 2n * NET });
    const tx = await rig.chain.provider.getTransaction(r!.tx);
    expect(rig.chain.contracts.escrow.interface.parseTransaction({ data: tx!.data })!.args[3]).not.toBe("0x");
    expect(rig.provider.journal.getAllocation(jobId)).toMatchObject({ onChainSeconds: 2 });
  }, 120_000);
});
