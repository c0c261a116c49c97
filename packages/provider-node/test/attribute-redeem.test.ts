// The speculative copy's claim that takes the last free second: this provider rendered both segments of a job and
// holds the client's voucher for both; another provider, which rendered a speculative copy of segment 1 the client
// did not use, claims it once its assignment lapses, reserving the job's last unpaid second. The voucher alone can no
// longer be redeemed in full (JobEscrowSecondsExceeded). The payment loop answers by itself, without the client:
// attributeSegment drops the other claim and redeems the voucher in one transaction. On a real Hardhat node.
import type { JobSpec } from "@rendermesh/shared";
import { NonceManager, sha256, toUtf8Bytes } from "ethers";
import { CID } from "multiformats/cid";
import { create as digest } from "multiformats/hashes/digest";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { assignmentStruct, ClaimStatus, connectContracts, deliveryStruct, signDelivery } from "@rendermesh/shared/chain";
import { FakeCoordinator, type TestChain } from "@rendermesh/testing";
import type { Provider } from "../src/provider.js";
import { MODEL_ID, startChain, startTestProvider, tempDir } from "./helpers/provider.js";

const MESH = 10n ** 18n;
/** 1 MESH per second less the 5 % coordinator and 1 % treasury fees. */
const NET = MESH - MESH / 20n - MESH / 100n;
const STAKE = 500n * MESH;

describe("redeem: a claim on a segment this provider delivered took the voucher's seconds", () => {
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
    // The speculative copy's provider, registered and staked.
    const other = connectContracts(new NonceManager(chain.providers[0]!), chain.deployment);
    await (await other.token.approve(chain.deployment.registry, STAKE)).wait();
    await (await other.registry.register("0x01", MESH, [MODEL_ID], STAKE)).wait();
  }, 240_000);

  afterAll(async () => {
    await provider?.stop();
    await coordinator?.stop();
    await chain?.stop();
    for (const c of cleanups) c();
  }, 60_000);

  const spec: JobSpec = { v: 1, model: MODEL_ID, prompt: "a lighthouse at dusk", seed: 9, seconds: 2, fps: 4, width: 64, height: 64 };

  test("behavior: the payment loop drops the speculative claim and is paid its whole voucher in one attributeSegment", async () => {
    // The deadline is within redeemBeforeDeadlineSeconds: the voucher is due on the next pass.
    const { jobId } = await chain.openJob({ spec, deadlineIn: 300 });
    for (let segment = 0; segment < spec.seconds; segment++) {
      const replies = await coordinator.render(target, await coordinator.signedRequest(jobId, spec, segment, provider.address));
      expect(replies[replies.length - 1]!.type).toBe("delivered");
    }
    const v = { jobId, provider: provider.address, seconds: 2 };
    await coordinator.sendVoucher(target, {
      type: "voucher",
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      voucher: v,
      signature: await chain.signVoucher(v),
    });

    // The other provider's copy of segment 1: assigned with a deadline that lapses at once, delivered, claimed.
    const b = chain.providers[0]!;
    const assignment = {
      jobId,
      segment: 1,
      firstFrame: 4,
      frameCount: 4,
      provider: b.address as `0x${string}`,
      deadline: (await chain.chainTime()) + 1,
    };
    const hash = sha256(toUtf8Bytes("speculative copy")) as `0x${string}`;
    const cid = CID.createV1(0x55, digest(0x12, Buffer.from(hash.slice(2), "hex"))).toString();
    const delivery = { jobId, segment: 1, cid, sha256: hash, frameCount: 4 };
    await chain.increaseTime(2);
    const bEscrow = connectContracts(new NonceManager(b), chain.deployment).escrow;
    await (
      await bEscrow.claim(
        assignmentStruct(assignment),
        await chain.signAssignment(assignment),
        deliveryStruct(delivery),
        await signDelivery(b, chain.domain, delivery),
      )
    ).wait();
    const escrow = chain.contracts.escrow;
    expect((await escrow.getJob(jobId)).reservedSeconds).toBe(1n);

    const tick = await provider.payments.tick();
    expect(tick.errors).toEqual([]);
    expect(tick.attributed).toEqual([
      {
        jobId,
        segments: [1],
        dropped: [b.address.toLowerCase()],
        seconds: 2,
        amount: 2n * NET,
        tx: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      },
    ]);
    expect(tick.redeemed).toEqual([{ jobId, seconds: 2, amount: 2n * NET, tx: tick.attributed[0]!.tx }]);
    const call = escrow.interface.parseTransaction({ data: (await chain.provider.getTransaction(tick.attributed[0]!.tx))!.data });
    expect(call?.name).toBe("attributeSegment");
    // Paid in full; the speculative claimant is paid nothing for the segment and its stake is free again.
    expect(await escrow.paidSeconds(jobId, provider.address)).toBe(2n);
    expect(await escrow.paidSeconds(jobId, b.address)).toBe(0n);
    expect(await chain.contracts.registry.lockedStake(b.address)).toBe(0n);
    const claim = await escrow.getClaim(jobId, 1);
    expect([claim.provider, Number(claim.status)]).toEqual([provider.address, ClaimStatus.Paid]);
    expect(provider.journal.getVoucher(jobId)).toMatchObject({ seconds: 2, redeemedSeconds: 2 });
    // The next pass has nothing left to do for the job.
    const again = await provider.payments.tick();
    expect(again.redeemed.concat(again.attributed as never[])).toEqual([]);
  }, 180_000);
});
