import { announceMessage, type JobSpec } from "@rendermesh/shared";
import { peerIdBytes } from "@rendermesh/shared/net";
import { hexlify, verifyMessage, Wallet } from "ethers";
import { FakeCoordinator, nextEvent, PipelineHold, type Reply, type TestChain } from "@rendermesh/testing";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { Provider } from "../src/provider.js";
import type { SegmentEventDetail } from "../src/render/service.js";
import { MODEL_ID, startChain, startTestProvider, tempDir } from "./helpers/provider.js";

// Every test sets up what it needs and none depends on another having run
// (each can run alone with -t). Work is held in flight through `hold` (a
// pipeline that stops at the first frame until released) and followed through
// the render service's events, so no outcome depends on the machine's speed.

describe("provider node", () => {
  let chain: TestChain;
  let provider: Provider;
  let coordinator: FakeCoordinator;
  let target: string;
  const hold = new PipelineHold();
  const dirs: Array<{ cleanup: () => void }> = [];
  const coordDir = tempDir("rm-coord-");
  dirs.push(coordDir);

  beforeAll(async () => {
    chain = await startChain();
    coordinator = await new FakeCoordinator(chain, { dataDir: coordDir.dir, heartbeatIntervalMs: 60_000 }).start();
    const data = tempDir();
    dirs.push(data);
    provider = await startTestProvider(
      chain,
      chain.providers[1]!,
      data.dir,
      { coordinators: [coordinator.multiaddr], concurrency: 1 },
      hold,
    );
    target = `${provider.multiaddrs()[0]!}`;
    if (!target.includes("/p2p/")) target = `${target}/p2p/${provider.peerId}`;
  }, 240_000);

  // A test that fails while holding must not leave the next one held.
  afterEach(() => hold.release());

  afterAll(async () => {
    await provider?.stop();
    await coordinator?.stop();
    await chain?.stop();
    for (const d of dirs) d.cleanup();
  }, 60_000);

  const segmentEvent = (type: "segment:accepted" | "segment:delivered" | "segment:released", jobId: string, segment: number) =>
    nextEvent<SegmentEventDetail>(
      provider.render.events,
      type,
      (d) => d.jobId.toLowerCase() === jobId.toLowerCase() && d.segment === segment,
    );

  const spec = (over: Partial<JobSpec> = {}): JobSpec => ({
    v: 1,
    model: MODEL_ID,
    prompt: "amber dunes under a violet sky",
    seed: 5,
    seconds: 3,
    fps: 4,
    width: 64,
    height: 64,
    ...over,
  });

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
    expect(a).toMatchObject({
      type: "announce",
      address: provider.address,
      models: [MODEL_ID],
      askPerSecond: 10n ** 15n,
      capacity: 1,
      benchmarkFps: 50,
      device: "cpu",
      active: 0,
    });
    expect(verifyMessage(announceMessage(provider.peerId, a.address, a.timestamp), a.signature)).toBe(provider.address);
    await provider.links.waitForAnnouncements(1);
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
    expect(provider.journal.getJob(jobId)).toMatchObject({
      status: "open",
      seconds: 3,
      coordinator: chain.coordinator.address.toLowerCase(),
    });
  });

  test("error: a delivered assignment replayed for another chain or escrow is refused WRONG_CHAIN, not answered from the journal", async () => {
    const s = spec({ seed: 31 });
    const { jobId } = await chain.openJob({ spec: s });
    const request = await coordinator.signedRequest(jobId, s, 0, provider.address);
    expect((await coordinator.render(target, request)).at(-1)?.type).toBe("delivered");
    for (const replay of [
      { ...request, chainId: 1 },
      { ...request, escrow: `0x${"ee".repeat(20)}` },
    ]) {
      const replies = await coordinator.render(target, replay);
      expect(replies).toHaveLength(1);
      expect(replies[0]).toMatchObject({ type: "error", code: "WRONG_CHAIN" });
    }
  });

  /** Holds the renderer, then fills the provider: one segment rendering, one queued; a third is refused. */
  async function fillAndRefuse(seed: number) {
    const s = spec({ seed });
    const { jobId } = await chain.openJob({ spec: s });
    hold.hold();
    const reached = hold.arrivals.length;
    const first = coordinator.render(target, await coordinator.signedRequest(jobId, s, 0, provider.address));
    await hold.reached(reached + 1); // segment 0 holds the one render slot
    const queuedAccepted = segmentEvent("segment:accepted", jobId, 1);
    const queued = coordinator.render(target, await coordinator.signedRequest(jobId, s, 1, provider.address));
    await queuedAccepted; // segment 1 is journalled and waits for the slot
    expect(provider.render.active).toBe(2);
    const third = await coordinator.render(target, await coordinator.signedRequest(jobId, s, 2, provider.address));
    hold.release();
    return { third, first: await first, queued: await queued };
  }

  test("behavior: one segment renders, one waits in the queue, and a third is refused with BUSY", async () => {
    const { third, first, queued } = await fillAndRefuse(6);
    expect(third[third.length - 1]).toMatchObject({ type: "error", code: "BUSY" });
    expect(third.some((r) => r.type === "accepted")).toBe(false);
    expect(first[first.length - 1]!.type).toBe("delivered");
    expect(queued[queued.length - 1]!.type).toBe("delivered");
  }, 180_000);

  test("behavior: a coordinator that hangs up mid-segment gets it given back, and a re-send renders it", async () => {
    const s = spec({ seed: 7 });
    const { jobId } = await chain.openJob({ spec: s });
    const request = await coordinator.signedRequest(jobId, s, 1, provider.address);
    hold.hold(); // the segment is still rendering when the coordinator hangs up, however fast the machine
    const released = segmentEvent("segment:released", jobId, 1);
    const cut = await coordinator.render(target, request, { stopAfter: (r) => r.type === "accepted" });
    expect(cut.map((r) => r.type)).toEqual(["accepted"]);
    expect(await released).toMatchObject({ reason: "coordinator-gone" });
    expect(provider.journal.getAssignment(jobId, 1)).toMatchObject({ state: "released", releaseReason: "coordinator-gone" });
    expect(provider.render.active).toBe(0);

    hold.release();
    const again = await coordinator.render(target, request);
    expect(again[again.length - 1]!.type).toBe("delivered");
    expect(provider.journal.getAssignment(jobId, 1)).toMatchObject({ state: "delivered", attempts: 2 });
  }, 120_000);

  test("behavior: a coordinator lost with its connection mid-segment (a crash) does not lose the work: the render goes on, and the re-send gets the same receipt", async () => {
    const s = spec({ seed: 7 });
    const { jobId } = await chain.openJob({ spec: s });
    const request = await coordinator.signedRequest(jobId, s, 1, provider.address);
    hold.hold(); // the segment is still rendering when the coordinator hangs up, however fast the machine
    const delivered = segmentEvent("segment:delivered", jobId, 1);
    const accepted = segmentEvent("segment:accepted", jobId, 1);
    const cut = coordinator.render(target, request).catch(() => []);
    await accepted;
    await coordinator.node.hangUp(provider.node.peerId); // the whole connection goes, as when the coordinator dies
    expect((await cut).some((r) => r.type === "delivered")).toBe(false);
    hold.release();
    await delivered; // finished and journalled with nobody listening
    const row = provider.journal.getAssignment(jobId, 1)!;
    expect(row.state).toBe("delivered"); // not given back

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
    const reply = await coordinator.sendVoucher(target, {
      type: "voucher",
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      voucher: v,
      signature: await chain.signVoucher(v, Wallet.createRandom()),
    });
    expect(reply).toMatchObject({ type: "error", code: "BAD_SIGNATURE" });
    expect(provider.journal.getVoucher(jobId)).toBeUndefined();
  });

  test("error: a voucher for another provider or chain is refused", async () => {
    const s = spec({ seed: 10 });
    const { jobId } = await chain.openJob({ spec: s });
    const v = { jobId, provider: Wallet.createRandom().address, seconds: 1 };
    const base = {
      type: "voucher",
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      voucher: v,
      signature: await chain.signVoucher(v),
    };
    expect(await coordinator.sendVoucher(target, base)).toMatchObject({ type: "error", code: "BAD_MESSAGE" });
    expect(await coordinator.sendVoucher(target, { ...base, chainId: 1 })).toMatchObject({ type: "error", code: "WRONG_CHAIN" });
  });

  test("default: Prometheus metrics count frames, segments, queue and refusals", async () => {
    const read = async () => {
      const text = await (await fetch(provider.metricsUrl!)).text();
      const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+]+)$`, "m").exec(text)?.[1] ?? 0);
      return { text, value };
    };
    const before = await read();
    // What the metrics count, made by this test: two segments delivered (4 frames each), one BUSY refusal.
    const { third } = await fillAndRefuse(11);
    expect(third[third.length - 1]).toMatchObject({ type: "error", code: "BUSY" });
    const after = await read();
    const delta = (name: string) => after.value(name) - before.value(name);
    expect(delta("rendermesh_provider_frames_rendered_total")).toBe(8);
    expect(delta("rendermesh_provider_segments_delivered_total")).toBe(2);
    expect(after.value("rendermesh_provider_queue_depth")).toBe(0);
    expect(after.value("rendermesh_provider_benchmark_fps")).toBe(50);
    const busy = (text: string) => Number(/rendermesh_provider_assignments_refused_total\{code="BUSY"\} (\d+)/.exec(text)?.[1] ?? 0);
    expect(busy(after.text) - busy(before.text)).toBe(1);
    expect(delta("rendermesh_provider_segment_render_seconds_count")).toBe(2);
    expect(after.text).toContain("rendermesh_provider_tokens_earned_total");
  }, 180_000);

  test("behavior: re-announces after the coordinator restarts", async () => {
    const addr = coordinator.multiaddr;
    const listen = addr.replace(/\/p2p\/.*$/, "");
    await provider.links.waitForAnnouncements(1);
    const acked = provider.links.status()[0]!.announcements;
    await coordinator.stop();
    const restarted = await new FakeCoordinator(chain, { dataDir: coordDir.dir, listen, heartbeatIntervalMs: 60_000 }).start();
    coordinator = restarted;
    await restarted.waitForAnnouncements(1);
    expect(restarted.announcements[0]).toMatchObject({ address: provider.address });
    await provider.links.waitForAnnouncements(acked + 1);
    expect(provider.links.status()[0]!.live).toBe(true);
  }, 120_000);
});
