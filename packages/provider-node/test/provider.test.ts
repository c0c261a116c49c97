import { announceMessage, type JobSpec } from "@rendermesh/shared";
import { peerIdBytes } from "@rendermesh/shared/net";
import { hexlify, verifyMessage, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { TestChain } from "../../../test/compliance/test-chain.js";
import type { Provider } from "../src/provider.js";
import { FakeCoordinator, type Reply } from "./helpers/coordinator.js";
import { MODEL_ID, startChain, startTestProvider, tempDir } from "./helpers/provider.js";

const until = async (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe("provider node", () => {
  let chain: TestChain;
  let provider: Provider;
  let coordinator: FakeCoordinator;
  let target: string;
  const dirs: Array<{ cleanup: () => void }> = [];
  const coordDir = tempDir("rm-coord-");
  dirs.push(coordDir);

  beforeAll(async () => {
    chain = await startChain();
    coordinator = await new FakeCoordinator(chain, { dataDir: coordDir.dir, heartbeatIntervalMs: 60_000 }).start();
    const data = tempDir();
    dirs.push(data);
    provider = await startTestProvider(chain, chain.providers[1]!, data.dir, { coordinators: [coordinator.multiaddr], concurrency: 1 });
    target = `${provider.multiaddrs()[0]!}`;
    if (!target.includes("/p2p/")) target = `${target}/p2p/${provider.peerId}`;
  }, 240_000);

  afterAll(async () => {
    await provider?.stop();
    await coordinator?.stop();
    await chain?.stop();
    for (const d of dirs) d.cleanup();
  }, 60_000);

  const spec = (over: Partial<JobSpec> = {}): JobSpec => ({ v: 1, model: MODEL_ID, prompt: "amber dunes under a violet sky", seed: 5, seconds: 3, fps: 4, width: 64, height: 64, ...over });

  test("default: registers on first start and binds its peer id on-chain", async () => {
    const entry = await chain.contracts.registry.getProvider(provider.address);
    expect(entry.registered).toBe(true);
    expect(entry.stake).toBe(100n * 10n ** 18n);
    expect(entry.peerId.toLowerCase()).toBe(hexlify(peerIdBytes(provider.node.peerId)).toLowerCase());
    expect(entry.models.map((m) => m.toLowerCase())).toEqual([MODEL_ID]);
    expect(await chain.contracts.registry.isActive(provider.address)).toBe(true);
  });

  test("default: announces its capabilities with a signature binding peer id and address", async () => {
    await coordinator.waitForAnnouncements(1);
    const a = coordinator.announcements[0]!;
    expect(a).toMatchObject({ type: "announce", address: provider.address, models: [MODEL_ID], askPerSecond: 10n ** 15n, capacity: 1, benchmarkFps: 50, device: "cpu", active: 0 });
    expect(verifyMessage(announceMessage(provider.peerId, a.address, a.timestamp), a.signature)).toBe(provider.address);
    await until("the ack to be processed", () => provider.links.coordinatorOf(coordinator.node.peerId.toString()) !== undefined);
    expect(provider.links.coordinatorOf(coordinator.node.peerId.toString())).toBe(chain.coordinator.address);
  });

  test("behavior: the journal holds the assignment from accepted to delivered, with the receipt", async () => {
    const s = spec();
    const { jobId } = await chain.openJob({ spec: s });
    const replies = await coordinator.render(target, await coordinator.signedRequest(jobId, s, 2, provider.address));
    const last = replies[replies.length - 1]!;
    expect(last.type).toBe("delivered");
    const row = provider.journal.getAssignment(jobId, 2)!;
    expect(row).toMatchObject({ state: "delivered", payState: "unpaid", framesDone: 4 });
    expect(row.delivery).toEqual((last as Extract<Reply, { type: "delivered" }>).delivery);
    expect(row.reportedAt).not.toBeNull();
    expect(provider.journal.getJob(jobId)).toMatchObject({ status: "open", seconds: 3, coordinator: chain.coordinator.address.toLowerCase() });
  });

  test("behavior: one segment renders, one waits in the queue, and a third is refused with BUSY", async () => {
    const big = spec({ width: 128, height: 128, fps: 8, seed: 6 });
    const { jobId } = await chain.openJob({ spec: big });
    const first = coordinator.render(target, await coordinator.signedRequest(jobId, big, 0, provider.address));
    await until("the first segment to start", () => provider.render.active === 1);
    const queued = coordinator.render(target, await coordinator.signedRequest(jobId, big, 1, provider.address));
    await until("the second segment to be queued", () => provider.render.active === 2);
    const third = await coordinator.render(target, await coordinator.signedRequest(jobId, big, 2, provider.address));
    expect(third[third.length - 1]).toMatchObject({ type: "error", code: "BUSY" });
    const done = await first;
    expect(done[done.length - 1]!.type).toBe("delivered");
    const next = await queued;
    expect(next[next.length - 1]!.type).toBe("delivered");
  }, 180_000);

  test("behavior: a coordinator that hangs up mid-segment (a restart) does not lose the work: the render goes on and the re-send gets the same receipt", async () => {
    const big = spec({ width: 128, height: 128, fps: 8, seed: 7 });
    const { jobId } = await chain.openJob({ spec: big });
    const request = await coordinator.signedRequest(jobId, big, 1, provider.address);
    const cut = await coordinator.render(target, request, { stopAfter: (r) => r.type === "accepted" });
    expect(cut.map((r) => r.type)).toEqual(["accepted"]);
    await until("the orphaned segment to finish", () => provider.journal.getAssignment(jobId, 1)?.state === "delivered");
    const row = provider.journal.getAssignment(jobId, 1)!;
    expect(row.reportedAt).toBeNull();

    const again = await coordinator.render(target, request);
    const last = again[again.length - 1]!;
    expect(last.type).toBe("delivered");
    expect((last as Extract<Reply, { type: "delivered" }>).delivery).toEqual(row.delivery);
    expect(provider.journal.getAssignment(jobId, 1)).toMatchObject({ state: "delivered", attempts: 1 });
    expect(provider.journal.getAssignment(jobId, 1)!.reportedAt).not.toBeNull();
  }, 120_000);

  test("default: vouchers signed by the job's client are kept, highest first", async () => {
    const s = spec({ seed: 8 });
    const { jobId } = await chain.openJob({ spec: s });
    const voucher = (seconds: number) => ({ jobId, provider: provider.address, seconds });
    const message = async (seconds: number, signer?: Wallet) => ({
      type: "voucher",
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      voucher: voucher(seconds),
      signature: await chain.signVoucher(voucher(seconds), signer),
    });
    expect(await coordinator.sendVoucher(target, await message(2))).toMatchObject({ type: "voucher-ack", jobId, seconds: 2 });
    expect(await coordinator.sendVoucher(target, await message(1))).toMatchObject({ type: "voucher-ack", seconds: 2 });
    expect(provider.journal.getVoucher(jobId)).toMatchObject({ seconds: 2 });
  });

  test("error: a voucher not signed by the job's client is refused with BAD_SIGNATURE", async () => {
    const s = spec({ seed: 9 });
    const { jobId } = await chain.openJob({ spec: s });
    const v = { jobId, provider: provider.address, seconds: 1 };
    const reply = await coordinator.sendVoucher(target, { type: "voucher", chainId: chain.chainId, escrow: chain.deployment.escrow, voucher: v, signature: await chain.signVoucher(v, Wallet.createRandom()) });
    expect(reply).toMatchObject({ type: "error", code: "BAD_SIGNATURE" });
    expect(provider.journal.getVoucher(jobId)).toBeUndefined();
  });

  test("error: a voucher for another provider or chain is refused", async () => {
    const s = spec({ seed: 10 });
    const { jobId } = await chain.openJob({ spec: s });
    const v = { jobId, provider: Wallet.createRandom().address, seconds: 1 };
    const base = { type: "voucher", chainId: chain.chainId, escrow: chain.deployment.escrow, voucher: v, signature: await chain.signVoucher(v) };
    expect(await coordinator.sendVoucher(target, base)).toMatchObject({ type: "error", code: "BAD_MESSAGE" });
    expect(await coordinator.sendVoucher(target, { ...base, chainId: 1 })).toMatchObject({ type: "error", code: "WRONG_CHAIN" });
  });

  test("default: Prometheus metrics count frames, segments, queue and refusals", async () => {
    const text = await (await fetch(provider.metricsUrl!)).text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, "m").exec(text)?.[1] ?? NaN);
    expect(value("rendermesh_provider_frames_rendered_total")).toBeGreaterThanOrEqual(4);
    expect(value("rendermesh_provider_segments_delivered_total")).toBeGreaterThanOrEqual(1);
    expect(value("rendermesh_provider_queue_depth")).toBe(0);
    expect(value("rendermesh_provider_benchmark_fps")).toBe(50);
    expect(text).toMatch(/rendermesh_provider_assignments_refused_total\{code="BUSY"\} 1/);
    expect(text).toMatch(/rendermesh_provider_segment_render_seconds_count \d+/);
    expect(text).toContain("rendermesh_provider_tokens_earned_total");
  });

  test("behavior: re-announces after the coordinator restarts", async () => {
    const addr = coordinator.multiaddr;
    const listen = addr.replace(/\/p2p\/.*$/, "");
    await coordinator.stop();
    const restarted = await new FakeCoordinator(chain, { dataDir: coordDir.dir, listen, heartbeatIntervalMs: 60_000 }).start();
    coordinator = restarted;
    await restarted.waitForAnnouncements(1, 90_000);
    expect(restarted.announcements[0]).toMatchObject({ address: provider.address });
    await until("the link to be live again", () => provider.links.status()[0]!.live);
  }, 120_000);
});
