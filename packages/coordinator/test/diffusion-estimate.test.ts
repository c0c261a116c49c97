import { Wallet } from "ethers";
import { afterEach, describe, expect, it } from "vitest";
import { announceMessage, createLogger } from "@rendermesh/shared";
import type { ChainView } from "../src/chain/types.js";
import { ProviderDirectory, speedFor } from "../src/directory/index.js";
import { schedule, segmentWork } from "../src/scheduler/index.js";
import { Supervisor } from "../src/supervisor/index.js";
import { JOB_ID, newJob, openStore, spec } from "./helpers/fixtures.js";
import { SeamDispatcher } from "./helpers/seam.js";

/**
 * Bench 81N1Tw: providers serving the field model and the default diffusion
 * pipeline announced one speed, the fastest of their models (the field's,
 * 2.84 reference frames/s), so a 64×64 8 fps diffusion segment was expected
 * in ~176 ms and every attempt's deadline was the bare 20 s grace. Their
 * self-benchmark of the pipeline (one whole clip at the manifest's default
 * steps and guidance) said 2.11 native frames/s, 0.132 at the reference
 * size: ~3.8 s a segment.
 */
const FIELD = `0x${"f1".repeat(32)}` as `0x${string}`;
const DIFFUSION = `0x${"d1".repeat(32)}` as `0x${string}`;
const FIELD_FPS = 2.84;
const DIFFUSION_FPS = 2.11 * ((64 * 64) / (256 * 256));
const REFERENCE = { width: 256, height: 256, fps: 24 };
const diffusionSpec = spec({ model: DIFFUSION, width: 64, height: 64, fps: 8, seconds: 1 });

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function admitted(announceModelFps: boolean) {
  const { store, cleanup } = openStore();
  cleanups.push(cleanup);
  const w = Wallet.createRandom();
  const peer = "12D3KooWTwoFamilies000000000000000000000000000";
  const chain = {
    providerOfPeer: async () => w.address,
    getProvider: async () => ({ registered: true, peerId: "0x", stake: 1n, askPerSecond: 1n, models: [FIELD, DIFFUSION] }),
    isActive: async () => true,
  } as unknown as ChainView;
  const directory = new ProviderDirectory({ store, chain, log: createLogger({ name: "test", level: "silent" }) });
  const timestamp = Date.now();
  const live = await directory.admit(
    {
      type: "announce",
      address: w.address as `0x${string}`,
      models: [FIELD, DIFFUSION],
      askPerSecond: 1n,
      capacity: 1,
      benchmarkFps: FIELD_FPS,
      ...(announceModelFps
        ? {
            modelFps: [
              { model: FIELD, fps: FIELD_FPS },
              { model: DIFFUSION, fps: DIFFUSION_FPS },
            ],
          }
        : {}),
      device: "cpu",
      active: 0,
      agent: "test",
      timestamp,
      signature: (await w.signMessage(announceMessage(peer, w.address, timestamp))) as `0x${string}`,
    },
    peer,
    new TextEncoder().encode(peer),
    [],
  );
  return { store, directory, live, chain };
}

describe("render-time estimate for a diffusion pipeline", () => {
  it("regression (bench 81N1Tw): a provider's per-model figures time a diffusion segment by the pipeline's speed, not the field's", async () => {
    const { live } = await admitted(true);
    expect(speedFor(live, FIELD)).toBeCloseTo(FIELD_FPS);
    expect(speedFor(live, DIFFUSION)).toBeCloseTo(DIFFUSION_FPS);
    const provider = {
      key: live.address,
      models: live.models,
      ask: live.ask,
      capacity: live.capacity,
      window: 2,
      inFlight: 0,
      speedFps: live.speedFps,
      speedByModel: live.speedByModel,
      reliability: live.reliability,
    };
    const job = (s: typeof diffusionSpec) => ({
      jobId: JOB_ID,
      model: s.model,
      pricePerSecond: 10n ** 18n,
      spec: s,
      segmentWork: segmentWork(s, REFERENCE),
      pending: [0],
    });
    const [d] = schedule([job(diffusionSpec)], [provider], { reference: REFERENCE, minShare: 0.2 });
    // 8 frames at 64×64 = 0.5 reference frames, at 0.132 reference frames/s: ~3.8 s (it was 176 ms).
    expect(d!.expectedMs).toBeGreaterThan(3_500);
    expect(d!.expectedMs).toBeLessThan(4_000);
    const [f] = schedule([job({ ...diffusionSpec, model: FIELD })], [provider], { reference: REFERENCE, minShare: 0.2 });
    expect(f!.expectedMs).toBeLessThan(200);
  });

  it("behavior: the supervisor gives a diffusion attempt a deadline from that estimate, a missed deadline lengthens the next, and a speed on one model leaves the other's alone", async () => {
    const { store, directory, live } = await admitted(true);
    let now = 1_000_000;
    store.insertJob(newJob({ spec: diffusionSpec }));
    const dispatcher = new SeamDispatcher();
    const supervisor = new Supervisor(
      {
        store,
        directory,
        chain: {
          chainId: 31337,
          escrow: `0x${"ee".repeat(20)}`,
          coordinator: `0x${"cd".repeat(20)}`,
          signAssignment: async () => `0x${"00".repeat(65)}`,
          recoverDelivery: () => live.address,
        },
        dispatcher,
        log: createLogger({ name: "test", level: "silent" }),
      },
      { tickMs: 3_600_000, now: () => now, timeoutFactor: 3, graceMs: 20_000 },
    );
    cleanups.push(() => supervisor.stop());
    supervisor.start();
    await supervisor.settled();
    dispatcher.call(1);
    const [a] = store.attempts(JOB_ID, 0);
    expect(a!.expectedMs).toBeGreaterThan(3_500);
    expect(a!.deadlineMs - now).toBe(a!.expectedMs * 3 + 20_000);

    // Under load the provider misses that deadline: its speed on the pipeline is capped at what the
    // elapsed time shows, so its next diffusion deadline is longer than the one missed.
    now = a!.deadlineMs + 1;
    supervisor.kick();
    await supervisor.settled();
    expect(store.attempt(a!.id)).toMatchObject({ status: "failed", failCode: "TIMEOUT" });
    const elapsedS = (now - 1_000_000) / 1000;
    const capped = speedFor(directory.get(live.address)!, DIFFUSION);
    expect(capped).toBeCloseTo(segmentWork(diffusionSpec, REFERENCE) / elapsedS);
    expect(((1000 * segmentWork(diffusionSpec, REFERENCE)) / capped) * 3 + 20_000).toBeGreaterThan(a!.deadlineMs - 1_000_000);
    expect(speedFor(directory.get(live.address)!, FIELD)).toBeCloseTo(FIELD_FPS);

    // A measurement on the field model moves the field's figure only.
    store.recordSpeed(live.address, 10, 1, FIELD);
    directory.refresh(live.address);
    expect(speedFor(directory.get(live.address)!, FIELD)).toBeCloseTo(10);
    expect(speedFor(directory.get(live.address)!, DIFFUSION)).toBeCloseTo(capped);
    // A delivery measured on the pipeline folds in as usual.
    store.recordSpeed(live.address, 0.05, 1, DIFFUSION);
    directory.refresh(live.address);
    expect(speedFor(directory.get(live.address)!, DIFFUSION)).toBeCloseTo(0.05);
  });

  it("behavior: a provider that announces no per-model figures is timed by its single one, as before", async () => {
    const { live } = await admitted(false);
    expect(speedFor(live, DIFFUSION)).toBeCloseTo(FIELD_FPS);
  });
});
