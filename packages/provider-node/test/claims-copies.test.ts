// Two providers deliver the same segment (a speculative copy); the client
// verifies one of them and disappears. After the deadline only the provider
// whose copy was verified claims it: the other asks the job's coordinator
// which copy was verified and claims nothing, even when its payment pass
// runs first (before, it could win the segment's only claim). And seconds a
// voucher pays are never claimed again.
import type { JobSpec } from "@rendermesh/shared";
import { ClaimStatus } from "@rendermesh/shared/chain";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FakeCoordinator, type TestChain } from "@rendermesh/testing";
import type { Provider } from "../src/provider.js";
import { MODEL_ID, startChain, startTestProvider, tempDir } from "./helpers/provider.js";

const MESH = 10n ** 18n;
/** 1 MESH per second less the 5 % coordinator and 1 % treasury fees. */
const NET = MESH - MESH / 20n - MESH / 100n;

describe("claims go to the copy the client verified", () => {
  let chain: TestChain;
  let coordinator: FakeCoordinator;
  let a: Provider;
  let b: Provider;
  const target = (p: Provider) => `${p.multiaddrs()[0]!}/p2p/${p.peerId}`.replace(/\/p2p\/[^/]+\/p2p\//, "/p2p/");
  const cleanups: Array<() => void> = [];

  beforeAll(async () => {
    chain = await startChain({ disputeWindow: 60n, claimWindow: 600n });
    const c = tempDir("rm-coord-");
    cleanups.push(c.cleanup);
    coordinator = await new FakeCoordinator(chain, { dataDir: c.dir }).start();
    const link = `${coordinator.multiaddr}`.includes("/p2p/")
      ? coordinator.multiaddr
      : `${coordinator.multiaddr}/p2p/${coordinator.node.peerId}`;
    const start = async (i: number) => {
      const data = tempDir();
      cleanups.push(data.cleanup);
      const p = await startTestProvider(chain, chain.providers[i]!, data.dir, {
        coordinators: [link],
        redeemBeforeDeadlineSeconds: 60,
        redeemAfterQuietSeconds: 86_400,
      });
      // The tests run each payment pass themselves (tick), so none runs on the schedule meanwhile.
      await p.payments.stop();
      return p;
    };
    a = await start(0);
    b = await start(1);
    // Both linked: each knows the coordinator's address from its announce ack.
    await Promise.all([a.links.waitForAnnouncements(1), b.links.waitForAnnouncements(1)]);
  }, 240_000);

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await coordinator?.stop();
    await chain?.stop();
    for (const c of cleanups) c();
  }, 60_000);

  const spec = (seed: number, seconds: number): JobSpec => ({
    v: 1,
    model: MODEL_ID,
    prompt: "two kites racing",
    seed,
    seconds,
    fps: 4,
    width: 64,
    height: 64,
  });

  /** Renders one segment on `p` with an assignment that lapses with the job (so claims open after its deadline). */
  async function deliver(p: Provider, job: { jobId: `0x${string}`; deadline: number }, s: JobSpec, segment: number): Promise<string> {
    const request = await coordinator.signedRequest(job.jobId, s, segment, p.address, { deadline: job.deadline });
    const replies = await coordinator.render(target(p), request);
    const last = replies[replies.length - 1]!;
    expect(last.type).toBe("delivered");
    return (last as { delivery: { cid: string } }).delivery.cid;
  }

  test("behavior: after the deadline only the provider whose copy was verified claims it; the superseded copy claims nothing", async () => {
    const s = spec(71, 1);
    const job = await chain.openJob({ spec: s, deadlineIn: 300 });
    const { jobId } = job;
    const cidA = await deliver(a, job, s, 0);
    await deliver(b, job, s, 0); // the speculative copy, delivered too
    coordinator.verifiedCopies.set(jobId.toLowerCase(), new Map([[0, { provider: a.address, cid: cidA }]]));
    const balanceB = await chain.contracts.escrow.balanceOf(b.address);

    await chain.increaseTime(301);
    // B's pass runs first: without the check it would take the segment's only claim.
    const passB = await b.payments.tick();
    expect(passB.claimed).toEqual([]);
    expect(passB.errors).toEqual([]);
    expect(coordinator.segmentQueries).toContain(jobId.toLowerCase());
    expect(b.journal.getAssignment(jobId, 0)).toMatchObject({ payState: "rejected" });
    expect(Number((await chain.contracts.escrow.getClaim(jobId, 0)).status)).toBe(ClaimStatus.None);

    const passA = await a.payments.tick();
    expect(passA.claimed.map((c) => c.segment)).toEqual([0]);
    expect((await chain.contracts.escrow.getClaim(jobId, 0)).provider).toBe(a.address);

    await chain.increaseTime(61);
    expect((await a.payments.tick()).finalized.map((f) => f.amount)).toEqual([NET]);
    const later = await b.payments.tick();
    expect(later.claimed).toEqual([]);
    expect(await chain.contracts.escrow.balanceOf(b.address)).toBe(balanceB);
    expect(await chain.contracts.escrow.paidSeconds(jobId, b.address)).toBe(0n);
  }, 180_000);

  test("behavior: seconds a voucher pays are redeemed, never claimed again, and the superseded copy of one of them claims nothing", async () => {
    const s = spec(72, 2);
    const job = await chain.openJob({ spec: s, deadlineIn: 300 });
    const { jobId } = job;
    const cid0 = await deliver(a, job, s, 0);
    const cid1 = await deliver(a, job, s, 1);
    await deliver(b, job, s, 1);
    coordinator.verifiedCopies.set(
      jobId.toLowerCase(),
      new Map([
        [0, { provider: a.address, cid: cid0 }],
        [1, { provider: a.address, cid: cid1 }],
      ]),
    );
    const v = { jobId, provider: a.address, seconds: 2 };
    const ack = await coordinator.sendVoucher(target(a), {
      type: "voucher",
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      voucher: v,
      signature: await chain.signVoucher(v),
    });
    expect(ack).toMatchObject({ type: "voucher-ack", seconds: 2 });

    await chain.increaseTime(301);
    expect((await b.payments.tick()).claimed).toEqual([]);
    const passA = await a.payments.tick();
    expect(passA.claimed).toEqual([]);
    expect(passA.redeemed).toEqual([expect.objectContaining({ jobId, seconds: 2, amount: 2n * NET })]);
    for (const segment of [0, 1]) expect(Number((await chain.contracts.escrow.getClaim(jobId, segment)).status)).toBe(ClaimStatus.None);
    // A second pass claims nothing either: the voucher paid every second A delivered.
    expect((await a.payments.tick()).claimed).toEqual([]);
    expect(await chain.contracts.escrow.paidSeconds(jobId, a.address)).toBe(2n);
    expect(await chain.contracts.escrow.paidSeconds(jobId, b.address)).toBe(0n);
  }, 180_000);
});
