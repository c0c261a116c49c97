import { describe, expect, it } from "vitest";
import { ModelContractError, RenderError, RenderRequestError } from "../src/model/errors.js";
import { assemblePipeline, type Pipeline } from "../src/model/pipeline/load.js";
import { PipelineRunner, type Generation } from "../src/model/pipeline/runner.js";
import { PipelineRunnerThread } from "../src/model/pipeline/runner-thread.js";
import { alphaPipeline, betaPipeline, build, BETA, DPM_SOLVER_2M } from "./pipeline-fixtures.js";

const silent = { info() {}, warn() {} };
const request = { prompt: "a red circle moving left", seed: 9, segment: 2 };
const hex = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("hex");

/** Lets a thread held by `stepGate` go on. */
function open(gate: Int32Array): void {
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
}

/** Every tensor of a trace in the order the runner hands them to `onTensor`. */
function traceOrder(trace: Generation["trace"]): Float32Array[] {
  const { text, steps, final } = trace;
  return [
    text.cond,
    ...(text.uncond ? [text.uncond] : []),
    ...steps.flatMap((s) => [s.latent, s.cond, ...(s.uncond ? [s.uncond] : [])]),
    final,
  ];
}

async function reference(pipeline: Pipeline): Promise<Generation> {
  const runner = await PipelineRunner.create({ pipeline, device: "cpu", threads: 1, logger: silent });
  try {
    return await runner.generate(request);
  } finally {
    await runner.close();
  }
}

async function withThread<T>(pipeline: Pipeline, fn: (runner: PipelineRunnerThread) => Promise<T>): Promise<T> {
  const runner = await PipelineRunnerThread.create({ pipeline, device: "cpu", threads: 1, logger: silent });
  try {
    return await fn(runner);
  } finally {
    await runner.close();
  }
}

describe("pipeline runner on its own thread", () => {
  for (const [label, make] of [
    ["alpha (classifier-free guidance)", alphaPipeline],
    ["beta under DPM-Solver++ 2M (no guidance, a multistep scheduler)", () => build({ ...BETA, scheduler: DPM_SOLVER_2M })],
  ] as const) {
    it(`renders ${label} bit for bit as PipelineRunner does; onTensor sees the trace's own arrays, in order`, async () => {
      const pipeline = make();
      const expected = await reference(pipeline);
      await withThread(pipeline, async (runner) => {
        expect(runner.device).toBe("cpu");
        const seen: Float32Array[] = [];
        const steps: number[] = [];
        const out = await runner.generate({ ...request, onTensor: (d) => seen.push(d), onStep: (e) => steps.push(e.done) });
        expect(out.frames.map(hex)).toEqual(expected.frames.map(hex));
        expect(traceOrder(out.trace).map(hex)).toEqual(traceOrder(expected.trace).map(hex));
        const { text: _t, steps: _s, final: _f, ...meta } = out.trace;
        const { text: _et, steps: _es, final: _ef, ...expectedMeta } = expected.trace;
        expect(meta).toEqual(expectedMeta);
        expect(out.trace.steps.map((s) => s.t)).toEqual(expected.trace.steps.map((s) => s.t));
        expect(out.trace.text.dims).toEqual(expected.trace.text.dims);
        // The committer keys CIDs by identity: the trace must hold the very arrays onTensor was given.
        const order = traceOrder(out.trace);
        expect(seen).toHaveLength(order.length);
        expect(seen.every((d, i) => d === order[i])).toBe(true);
        expect(steps).toEqual(expected.trace.steps.map((_, i) => i + 1));
      });
    });
  }

  it("refuses what PipelineRunner refuses, with the same class, code and details", async () => {
    await withThread(betaPipeline(), async (runner) => {
      const refused = await runner.generate({ ...request, frames: 8, steps: 1000 }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RenderRequestError);
      expect(refused).toMatchObject({
        code: "RENDER_REQUEST",
        details: expect.arrayContaining([expect.stringMatching(/steps 1000/), expect.stringMatching(/rule 4n\+1/)]),
      });
    });
    const alpha = alphaPipeline();
    const beta = betaPipeline();
    const denoiser = { ...alpha.manifest.components.denoiser, sha256: beta.manifest.components.denoiser.sha256 };
    const mixed = assemblePipeline(
      { ...alpha.manifest, id: undefined, components: { ...alpha.manifest.components, denoiser } },
      { ...alpha.files, denoiser: beta.files.denoiser },
    );
    const opened = await PipelineRunnerThread.create({ pipeline: mixed, device: "cpu", threads: 1, logger: silent }).catch(
      (e: unknown) => e,
    );
    expect(opened).toBeInstanceOf(ModelContractError);
    expect(opened).toMatchObject({ code: "MODEL_CONTRACT", hint: "Fix the tensor names under components.*.bind." });
    await expect(PipelineRunnerThread.create({ pipeline: alpha, device: "cpu", threads: 0, logger: silent })).rejects.toBeInstanceOf(
      RangeError,
    );
  });

  it("ends a render with its signal's reason when aborted, and renders the next request", async () => {
    const pipeline = alphaPipeline();
    const expected = await reference(pipeline);
    await withThread(pipeline, async (runner) => {
      const abort = new AbortController();
      const reason = new Error("the job was cancelled");
      const aborted = runner.generate({ ...request, signal: abort.signal, onStep: (e) => e.done === 2 && abort.abort(reason) });
      await expect(aborted).rejects.toBe(reason);
      const next = await runner.generate(request);
      expect(next.frames.map(hex)).toEqual(expected.frames.map(hex));
      await expect(runner.generate({ ...request, signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    });
  });

  it("fails a render whose onTensor throws, as PipelineRunner would, and renders the next request", async () => {
    await withThread(alphaPipeline(), async (runner) => {
      const thrown = new Error("the store is full");
      let calls = 0;
      await expect(
        runner.generate({
          ...request,
          onTensor: () => {
            if (++calls === 3) throw thrown;
          },
        }),
      ).rejects.toBe(thrown);
      expect((await runner.generate(request)).frames).toHaveLength(alphaPipeline().manifest.video.framesPerClip);
    });
  });

  it("when the thread dies, the render in flight fails with a RenderError and the next one starts a new thread", async () => {
    const pipeline = alphaPipeline();
    const expected = await reference(pipeline);
    // The thread waits after its first step until the gate opens: the stop is queued while the render is surely in flight.
    const stepGate = new Int32Array(new SharedArrayBuffer(4));
    const runner = await PipelineRunnerThread.create({ pipeline, device: "cpu", threads: 1, logger: silent, stepGate });
    try {
      let stopping: Promise<void> | undefined;
      const lost = runner.generate({
        ...request,
        onStep: (e) => void (e.done === 1 && ((stopping = runner.stopThread()), open(stepGate))),
      });
      const err = await lost.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RenderError);
      expect((err as RenderError).shortMessage).toMatch(/inference thread of pipeline .* stopped/);
      await stopping;
      const next = await runner.generate(request);
      expect(next.frames.map(hex)).toEqual(expected.frames.map(hex));
    } finally {
      await runner.close();
    }
  });

  it("passes the thread's log lines to the caller's logger; close fails a render in flight and refuses new ones", async () => {
    const lines: string[] = [];
    const logger = { info: (_o: unknown, msg?: string) => void lines.push(msg ?? ""), warn() {} };
    const stepGate = new Int32Array(new SharedArrayBuffer(4));
    const runner = await PipelineRunnerThread.create({ pipeline: alphaPipeline(), device: "cpu", threads: 1, logger, stepGate });
    expect(lines).toContain("pipeline runner ready");
    let closing: Promise<void> | undefined;
    const inFlight = runner.generate({ ...request, onStep: (e) => void (e.done === 1 && ((closing = runner.close()), open(stepGate))) });
    await expect(inFlight).rejects.toThrow();
    await closing;
    await runner.close();
    await expect(runner.generate(request)).rejects.toMatchObject({ code: "RENDER_FAILED", message: expect.stringMatching(/closed/) });
  });
});
