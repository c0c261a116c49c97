// The render service renders the next segment while the previous one
// encodes: a real provider (ONNX Runtime, ffmpeg, Helia, journal, escrow on
// a Hardhat node) whose encoder is held at a seam once it has every frame of
// its segment. The second segment's render must start while the first's
// encode is still held; nothing here depends on the machine's speed.
import type { JobSpec } from "@rendermesh/shared";
import { FakeCoordinator, type TestChain } from "@rendermesh/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Provider } from "../src/provider.js";
import type { PipelineComponents } from "../src/render/pipeline.js";
import { MODEL_ID, startChain, tempDir, testConfig, testLogger } from "./helpers/provider.js";
import { startProvider } from "../src/provider.js";

/** What the seams saw, in order, with a way to wait for a line. */
class Seen {
  readonly lines: string[] = [];
  readonly #waiters: Array<{ line: string; resolve: () => void }> = [];
  push(line: string): void {
    this.lines.push(line);
    for (const w of this.#waiters.filter((x) => x.line === line)) {
      this.#waiters.splice(this.#waiters.indexOf(w), 1);
      w.resolve();
    }
  }
  when(line: string): Promise<void> {
    if (this.lines.includes(line)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ line, resolve }));
  }
}

function gate(): { open: Promise<void>; release: () => void } {
  let release!: () => void;
  const open = new Promise<void>((resolve) => (release = resolve));
  return { open, release };
}

describe("render service: the next segment renders while the previous one encodes", () => {
  let chain: TestChain;
  let provider: Provider;
  let coordinator: FakeCoordinator;
  let target: string;
  const dirs: Array<{ cleanup: () => void }> = [];
  const seen = new Seen();
  /** The n-th encode waits at gates[n] once it has all its frames. */
  const gates = [gate(), gate()];
  let encodes = 0;

  const wrap = (_model: string, c: PipelineComponents): PipelineComponents => ({
    ...c,
    renderer: {
      renderFrames: (o) =>
        (async function* () {
          seen.push(`render ${o.firstFrame}`);
          yield* c.renderer.renderFrames(o);
        })(),
    },
    encode: async (frames, o) => {
      const n = encodes++; // the n-th segment to reach the encoder
      const all: Uint8Array[] = [];
      for await (const f of frames) all.push(f);
      seen.push(`encoding #${n}`);
      await gates[n]?.open;
      const out = await c.encode(
        (async function* () {
          yield* all;
        })(),
        o,
      );
      seen.push(`encoded #${n}`);
      return out;
    },
  });

  beforeAll(async () => {
    chain = await startChain();
    const c = tempDir("rm-coord-");
    dirs.push(c);
    coordinator = await new FakeCoordinator(chain, { dataDir: c.dir, heartbeatIntervalMs: 60_000 }).start();
    const data = tempDir();
    dirs.push(data);
    provider = await startProvider({
      config: testConfig(chain, data.dir, { coordinators: [coordinator.multiaddr], concurrency: 1 }),
      privateKey: chain.providers[2]!.privateKey,
      logger: testLogger(),
      pipeline: wrap,
    });
    await provider.payments.stop();
    target = `${provider.multiaddrs()[0]!}`;
    if (!target.includes("/p2p/")) target = `${target}/p2p/${provider.peerId}`;
  }, 240_000);

  afterAll(async () => {
    for (const g of gates) g.release();
    await provider?.stop();
    await coordinator?.stop();
    await chain?.stop();
    for (const d of dirs) d.cleanup();
  }, 60_000);

  test("behavior: the second segment's render starts before the first one's encode finishes; both are delivered and journalled", async () => {
    const spec: JobSpec = {
      v: 1,
      model: MODEL_ID,
      prompt: "a lantern over still water",
      seed: 12,
      seconds: 2,
      fps: 4,
      width: 64,
      height: 64,
    };
    const { jobId } = await chain.openJob({ spec });
    const first = coordinator.render(target, await coordinator.signedRequest(jobId, spec, 0, provider.address));
    await seen.when("encoding #0"); // segment 0 has every frame and its encode is held
    const second = coordinator.render(target, await coordinator.signedRequest(jobId, spec, 1, provider.address));
    await seen.when("render 4"); // segment 1 renders although segment 0 still holds its encode
    expect(seen.lines).not.toContain("encoded #0");
    await seen.when("encoding #1");
    expect(seen.lines).toEqual(["render 0", "encoding #0", "render 4", "encoding #1"]);

    gates[0]!.release();
    gates[1]!.release();
    const [a, b] = await Promise.all([first, second]);
    expect(a.at(-1)!.type).toBe("delivered");
    expect(b.at(-1)!.type).toBe("delivered");
    expect(provider.journal.getAssignment(jobId, 0)).toMatchObject({ state: "delivered" });
    expect(provider.journal.getAssignment(jobId, 1)).toMatchObject({ state: "delivered" });
    expect(provider.render.active).toBe(0);
  }, 180_000);
});
