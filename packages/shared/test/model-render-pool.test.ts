import { describe, expect, it } from "vitest";
import { PipelineRunner, type Generation } from "../src/model/pipeline/runner.js";
import { PipelineRunnerThread } from "../src/model/pipeline/runner-thread.js";
import { pooledGenerator, pooledRenderer, RenderPool } from "../src/model/render-pool.js";
import type { Renderer } from "../src/model/renderer.js";
import { alphaPipeline } from "./pipeline-fixtures.js";

const silent = { info() {}, warn() {} };
const hex = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex");

/** A member whose renders the test finishes by hand. */
function heldMember(name: string) {
  const held: Array<{ resolve: (v: string) => void; reject: (e: Error) => void }> = [];
  let closed = 0;
  return {
    name,
    held,
    get closed() {
      return closed;
    },
    render: () => new Promise<string>((resolve, reject) => held.push({ resolve, reject })),
    close: async () => void closed++,
  };
}

/** Lets a thread held by `stepGate` go on. */
function open(gate: Int32Array): void {
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
}

describe("a pool of renderers", () => {
  it("behavior: a render goes to the member with the fewest in flight, the first of those on a tie", async () => {
    const a = heldMember("a");
    const b = heldMember("b");
    const pool = new RenderPool([a, b]);
    const first = pool.run(async (m) => `${m.name}:${await m.render()}`);
    const second = pool.run(async (m) => `${m.name}:${await m.render()}`);
    expect(pool.inFlight).toEqual([1, 1]);
    const third = pool.run(async (m) => `${m.name}:${await m.render()}`);
    expect(pool.inFlight).toEqual([2, 1]);
    b.held[0]!.resolve("2");
    expect(await second).toBe("b:2");
    expect(pool.inFlight).toEqual([2, 0]);
    const fourth = pool.run(async (m) => `${m.name}:${await m.render()}`);
    expect(pool.inFlight).toEqual([2, 1]);
    a.held[0]!.resolve("1");
    a.held[1]!.resolve("3");
    b.held[1]!.resolve("4");
    expect(await Promise.all([first, third, fourth])).toEqual(["a:1", "a:3", "b:4"]);
    expect(pool.inFlight).toEqual([0, 0]);
  });

  it("error: a failed render gives its slot back, and the error reaches the caller unchanged", async () => {
    const a = heldMember("a");
    const b = heldMember("b");
    const pool = new RenderPool([a, b]);
    const failing = pool.run((m) => m.render());
    const boom = new Error("the model diverged");
    a.held[0]!.reject(boom);
    await expect(failing).rejects.toBe(boom);
    expect(pool.inFlight).toEqual([0, 0]);
    await expect(pool.run(async () => Promise.reject(new RangeError("refused")))).rejects.toThrow(RangeError);
    expect(pool.inFlight).toEqual([0, 0]);
  });

  it("behavior: a stream holds its member until it ends, fails or is dropped", async () => {
    const pool = new RenderPool([heldMember("a"), heldMember("b")]);
    async function* frames(n: number, failAt?: number) {
      for (let i = 0; i < n; i++) {
        if (i === failAt) throw new Error(`frame ${i} failed`);
        yield i;
      }
    }
    const whole = pool.stream(() => frames(3));
    expect(await whole.next()).toEqual({ value: 0, done: false });
    expect(pool.inFlight).toEqual([1, 0]);
    const dropped = pool.stream(() => frames(5));
    await dropped.next();
    expect(pool.inFlight).toEqual([1, 1]);
    await dropped.return(undefined); // the consumer stops early (an aborted segment)
    expect(pool.inFlight).toEqual([1, 0]);
    const rest: number[] = [];
    for await (const f of whole) rest.push(f);
    expect(rest).toEqual([1, 2]);
    expect(pool.inFlight).toEqual([0, 0]);
    const failing = pool.stream(() => frames(3, 1));
    await expect(
      (async () => {
        for await (const _ of failing) void _;
      })(),
    ).rejects.toThrow(/frame 1 failed/);
    expect(pool.inFlight).toEqual([0, 0]);
  });

  it("behavior: closing closes every member, even after one fails, and rejects with that failure", async () => {
    const a = heldMember("a");
    const c = heldMember("c");
    const broken = { close: () => Promise.reject(new Error("release failed")) };
    await expect(new RenderPool([a, broken, c]).close()).rejects.toThrow(/release failed/);
    expect([a.closed, c.closed]).toEqual([1, 1]);
  });

  it("error: a pool is of one model and not empty", () => {
    expect(() => new RenderPool([])).toThrow(RangeError);
    const renderer = (id: string) =>
      ({ manifest: { id }, device: "cpu", renderFrames: () => undefined, close: async () => {} }) as never as Renderer;
    expect(() => pooledRenderer([renderer("0xaa"), renderer("0xbb")])).toThrow(/one model/);
    const only = renderer("0xaa");
    expect(pooledRenderer([only])).toBe(only);
  });

  it("behavior: two segments asked for at once render on two inference threads at the same time, each as one runner renders it", async () => {
    const pipeline = alphaPipeline();
    const requests = [
      { prompt: "a red circle moving left", seed: 9, segment: 2 },
      { prompt: "a blue square moving right", seed: 4, segment: 0 },
    ];
    const inline = await PipelineRunner.create({ pipeline, device: "cpu", threads: 1, logger: silent });
    const expected: Generation[] = [];
    try {
      for (const r of requests) expected.push(await inline.generate(r));
    } finally {
      await inline.close();
    }
    // Each thread waits after its first step until its gate opens: both are released only once both are mid-render.
    const gates = [0, 1].map(() => new Int32Array(new SharedArrayBuffer(4)));
    const threads = await Promise.all(
      gates.map((stepGate) => PipelineRunnerThread.create({ pipeline, device: "cpu", threads: 1, logger: silent, stepGate })),
    );
    const pool = pooledGenerator(threads);
    try {
      let midRender = 0;
      const rendering: Array<ReturnType<typeof pool.generate>> = [];
      const bothStarted = new Promise<void>((resolve) => {
        const onFirstStep = (e: { done: number }) => void (e.done === 1 && ++midRender === 2 && resolve());
        requests.forEach((r, i) => void (rendering[i] = pool.generate({ ...r, onStep: onFirstStep })));
      });
      await bothStarted;
      gates.forEach(open);
      const got = await Promise.all(rendering);
      got.forEach((g, i) => {
        expect(g.frames.map(hex)).toEqual(expected[i]!.frames.map(hex));
        expect(hex(g.trace.final)).toBe(hex(expected[i]!.trace.final));
      });
    } finally {
      await pool.close();
    }
    await expect(threads[0]!.generate(requests[0]!)).rejects.toThrow(/closed/);
    await expect(threads[1]!.generate(requests[0]!)).rejects.toThrow(/closed/);
  });
});
