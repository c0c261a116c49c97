import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { getAddress } from "ethers";
import { generateVideo } from "../src/actions/generateVideo.js";
import { getJob } from "../src/actions/getJob.js";
import { refundJob } from "../src/actions/refundJob.js";
import type { CheckName } from "../src/verify/types.js";
import { account, fund, MESH, startChain, type TestChain } from "./support/chain.js";
import { Stack, startClient, startCoordinator, startProvider } from "./support/network.js";
import type { ProviderMode, TestProvider } from "@rendermesh/testing";
import { closeRenderer } from "./support/segments.js";

// Providers that speak the real render protocol but answer wrongly. Each
// case runs one job on a fresh coordinator where, at first, only the
// dishonest provider is live, so it gets every first attempt; once the
// client has rejected its delivery an honest provider comes online and the
// coordinator reassigns (it never gives a segment back to a provider that
// failed it). The client must catch every bad delivery and pay it nothing.

const ASK = MESH / 1000n;
let chain: TestChain;
const stack = new Stack();
let clientIndex = 12;

beforeAll(async () => {
  chain = await startChain();
  for (const i of [12, 13, 14, 15, 16]) await fund(chain, account(i).address, 1_000n * MESH);
}, 180_000);

afterAll(async () => {
  await stack.stopAll();
  await chain?.stop();
  await closeRenderer();
}, 60_000);

const CASES: Array<[ProviderMode, CheckName[], string]> = [
  ["wrong-cid", ["fetch"], "a receipt naming a CID nobody serves"],
  ["wrong-hash", ["sha256"], "a receipt whose sha256 is not the file's"],
  ["truncated", ["decode", "frames"], "a truncated video"],
  ["wrong-frames", ["content"], "frames rendered with another seed"],
];

describe("dishonest providers are caught and not paid", { timeout: 180_000 }, () => {
  test.each(CASES)("error: %s (%s) is rejected, reassigned and never paid", async (mode, checks) => {
    const local = new Stack();
    try {
      const coordinator = await startCoordinator(chain, local);
      const cheat: TestProvider = await startProvider(chain, local, { mode, ask: ASK, coordinator, capacity: 2 });
      const honest = await startProvider(chain, local, { ask: ASK });
      // A CID nobody serves is only found out by waiting: wait less for it (nothing can arrive meanwhile).
      const verifier = mode === "wrong-cid" ? { verifier: { fetchTimeoutMs: 3_000, fetchAttempts: 1, fetchBackoffMs: 100 } } : {};
      const client = await startClient(chain, local, account(clientIndex++), coordinator, verifier);
      let honestOnline: Promise<unknown> | undefined;

      const result = await generateVideo(client, {
        prompt: "golden sunset over rolling hills",
        seconds: 2,
        fps: 4,
        width: 32,
        height: 32,
        onProgress: (e) => {
          if (e.type === "segment:rejected" && !honestOnline) honestOnline = honest.announceTo(coordinator.multiaddrs[0]!);
        },
      });

      const ref = client.journal.getJob(result.jobId).ref;
      const rejections = client.journal.rejections(ref);
      expect(rejections.length).toBeGreaterThanOrEqual(1);
      for (const r of rejections) {
        expect(getAddress(r.provider)).toBe(getAddress(cheat.address));
        expect(checks).toContain(r.check);
      }
      // Every delivery of the cheat was rejected; none was verified.
      const verified = client.journal.verifiedSegments(ref);
      expect(verified.every((s) => getAddress(s.provider) === getAddress(honest.address))).toBe(true);
      expect(verified).toHaveLength(2);
      expect(cheat.delivered.filter((x) => x.jobId === result.jobId).length).toBe(rejections.length);

      // Not paid: no voucher, nothing in the settle, nothing credited.
      expect(cheat.voucherSeconds(result.jobId)).toBe(0);
      expect(client.journal.voucher(ref, cheat.address)).toBeUndefined();
      expect(result.payments.providers.map((p) => getAddress(p.provider))).toEqual([getAddress(honest.address)]);
      expect(await chain.contracts.escrow.balanceOf(cheat.address)).toBe(0n);
      expect(result.status).toBe("settled");
      expect(result.payments.refund).toBe(0n);
    } finally {
      await local.stopAll();
    }
  });

  test("behavior: when every provider fails a segment the job fails, nothing is paid and the deposit comes back after the challenge window", async () => {
    const local = new Stack();
    try {
      const coordinator = await startCoordinator(chain, local);
      // Three tries per segment, each on a different provider: three cheats exhaust them.
      const cheats = [];
      for (let i = 0; i < 3; i++)
        cheats.push(await startProvider(chain, local, { mode: "wrong-frames", ask: ASK, coordinator, capacity: 1 }));
      const wallet = account(clientIndex++);
      const client = await startClient(chain, local, wallet, coordinator);
      const before = await chain.contracts.token.balanceOf(wallet.address);
      const result = await generateVideo(client, { prompt: "explosive yellow fireworks", seconds: 1, fps: 4, width: 32, height: 32 });
      expect(result.status).toBe("failed");
      expect(result.verified).toBe(0);
      expect(result.rejected).toBe(3);
      expect(result.video).toBeUndefined();
      expect(result.payments.providers).toEqual([]);
      // Nothing on-chain proves that nobody delivered, so the settle leaves the job closing: the cheats may claim
      // (and be disputed) until the challenge window ends; then the whole deposit comes back.
      const onChain = await getJob(client, { jobId: result.jobId as `0x${string}` });
      expect(onChain.status).toBe("closing");
      await chain.increaseTime(onChain.closesAt - (await chain.provider.getBlock("latest"))!.timestamp + 1);
      const refunded = await refundJob(client, { jobId: result.jobId });
      expect(refunded.refund).toBe(result.payments.deposit);
      expect(await chain.contracts.token.balanceOf(wallet.address)).toBe(before);
      for (const c of cheats) expect(c.voucherSeconds(result.jobId)).toBe(0);
    } finally {
      await local.stopAll();
    }
  });
});
