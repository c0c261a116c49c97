import type { CID } from "multiformats/cid";
import { describe, expect, it } from "vitest";
import { PipelineRunner, type PipelineTrace } from "../src/model/pipeline/runner.js";
import { encodeTrace, MemoryTraceStore, publishTrace, TraceCommitter, type TraceBlockStore } from "../src/model/pipeline/trace.js";
import { alphaPipeline, betaPipeline } from "./pipeline-fixtures.js";

const silent = { info() {}, warn() {} };

/** The tensors of a trace in the order the runner makes them. */
function tensorsOf(trace: PipelineTrace): Float32Array[] {
  const out = [trace.text.cond, ...(trace.text.uncond ? [trace.text.uncond] : [])];
  for (const s of trace.steps) out.push(s.latent, s.cond, ...(s.uncond ? [s.uncond] : []));
  out.push(trace.final);
  return out;
}

/** A store whose puts wait until the test lets them go: a seam to hold writes in flight. */
class HeldStore implements TraceBlockStore {
  readonly inner = new MemoryTraceStore();
  readonly held: Array<() => void> = [];
  inFlight = 0;
  maxInFlight = 0;
  failOn?: string;
  #waiters: Array<() => void> = [];
  readonly signals: unknown[] = [];
  async put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal | undefined }): Promise<void> {
    this.signals.push(options?.signal);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise<void>((resolve) => {
      this.held.push(resolve);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.inFlight--;
    if (cid.toString() === this.failOn) throw new Error("disk full");
    await this.inner.put(cid, bytes);
  }
  get(cid: CID): Promise<Uint8Array> {
    return this.inner.get(cid);
  }
  /** Resolves once `n` puts are waiting. */
  async waitHeld(n: number): Promise<void> {
    while (this.held.length < n) await new Promise<void>((r) => this.#waiters.push(r));
  }
  releaseAll(): void {
    for (const r of this.held.splice(0)) r();
  }
}

describe("trace committed while it is made (TraceCommitter, runner onTensor)", () => {
  for (const [label, make] of [
    ["alpha (CFG)", alphaPipeline],
    ["beta (no guidance)", betaPipeline],
  ] as const) {
    it(`${label}: the runner hands over every trace tensor, in order, as soon as it is final`, async () => {
      const runner = await PipelineRunner.create({ pipeline: make(), device: "cpu", threads: 1, logger: silent });
      try {
        const seen: Float32Array[] = [];
        const { trace } = await runner.generate({ prompt: "a red circle moving left", seed: 4, segment: 1, onTensor: (d) => seen.push(d) });
        const expected = tensorsOf(trace);
        expect(seen).toHaveLength(expected.length);
        // The very arrays the trace keeps (so nothing is copied), in the order they were made.
        for (let i = 0; i < expected.length; i++) expect(seen[i]).toBe(expected[i]);
      } finally {
        await runner.close();
      }
    });
  }

  it("default: the same root and blocks as encodeTrace + publishTrace, whatever was added before finish", async () => {
    const runner = await PipelineRunner.create({ pipeline: alphaPipeline(), device: "cpu", threads: 1, logger: silent });
    try {
      const { trace } = await runner.generate({ prompt: "a blue square", seed: 2, segment: 0 });
      const reference = new MemoryTraceStore();
      const encoded = await encodeTrace(trace);
      const root = await publishTrace(encoded, reference);
      const tensors = tensorsOf(trace);
      // All tensors streamed, none, half of them in reverse, and the same tensor twice: always the same result.
      for (const added of [tensors, [], tensors.slice(0, tensors.length / 2).reverse(), [tensors[0]!, tensors[0]!]]) {
        const store = new MemoryTraceStore();
        const committer = new TraceCommitter(store);
        for (const t of added) committer.add(t);
        const done = await committer.finish(trace);
        expect(done.root.toString()).toBe(root.toString());
        expect(done.blocks).toBe(encoded.blocks.size);
        expect([...store.blocks.keys()].sort()).toEqual([...reference.blocks.keys()].sort());
        for (const [cid, bytes] of reference.blocks) expect(Buffer.from(store.blocks.get(cid)!).equals(Buffer.from(bytes))).toBe(true);
      }
    } finally {
      await runner.close();
    }
  });

  it("behavior: at most `concurrency` writes are in flight, and finish waits for every one", async () => {
    const runner = await PipelineRunner.create({ pipeline: betaPipeline(), device: "cpu", threads: 1, logger: silent });
    try {
      const { trace } = await runner.generate({ prompt: "a red circle", seed: 5, segment: 0 });
      const store = new HeldStore();
      const committer = new TraceCommitter(store, { concurrency: 3 });
      for (const t of tensorsOf(trace)) committer.add(t);
      let finished = false;
      const finishing = committer.finish(trace).then((r) => ((finished = true), r));
      await store.waitHeld(3);
      expect(store.inFlight).toBe(3);
      expect(finished).toBe(false);
      // Let writes go as they come until the committer is done.
      const total = (await encodeTrace(trace)).blocks.size;
      let released = 0;
      while (released < total) {
        await store.waitHeld(1);
        released += store.held.length;
        store.releaseAll();
      }
      const { root } = await finishing;
      expect(store.maxInFlight).toBe(3);
      expect(store.inner.blocks.size).toBe(total);
      expect(store.inner.blocks.has(root.toString())).toBe(true);
    } finally {
      await runner.close();
    }
  });

  it("error: a failed write fails finish with the store's error; an abort stops the writes", async () => {
    const runner = await PipelineRunner.create({ pipeline: betaPipeline(), device: "cpu", threads: 1, logger: silent });
    try {
      const { trace } = await runner.generate({ prompt: "a red circle", seed: 6, segment: 0 });
      const encoded = await encodeTrace(trace);
      const store = new HeldStore();
      store.failOn = [...encoded.blocks.keys()][1];
      const committer = new TraceCommitter(store, { concurrency: 64 });
      const finishing = committer.finish(trace);
      await store.waitHeld(encoded.blocks.size);
      store.releaseAll();
      await expect(finishing).rejects.toThrow("disk full");

      const controller = new AbortController();
      controller.abort(new Error("segment cancelled"));
      const aborted = new TraceCommitter(new MemoryTraceStore(), { signal: controller.signal });
      await expect(aborted.finish(trace)).rejects.toThrow("segment cancelled");

      // An abort while writes are in flight: those finish (the store never sees the signal), no new one starts.
      const held = new HeldStore();
      const midway = new AbortController();
      const cancelled = new TraceCommitter(held, { signal: midway.signal, concurrency: 2 });
      const finishingCancelled = cancelled.finish(trace);
      await held.waitHeld(2);
      midway.abort(new Error("deadline"));
      held.releaseAll();
      await expect(finishingCancelled).rejects.toThrow("deadline");
      expect(held.inner.blocks.size).toBe(2);
      expect(held.signals.every((sig) => sig === undefined)).toBe(true);
      expect(() => new TraceCommitter(new MemoryTraceStore(), { concurrency: 0 })).toThrow(RangeError);
    } finally {
      await runner.close();
    }
  });

  it("behavior: a store with pin gets every block first, then one pin of the root with every block's bytes in hand", async () => {
    const runner = await PipelineRunner.create({ pipeline: alphaPipeline(), device: "cpu", threads: 1, logger: silent });
    try {
      const { trace } = await runner.generate({ prompt: "a red circle", seed: 7, segment: 2 });
      const encoded = await encodeTrace(trace);
      const calls: string[] = [];
      const pins: Array<{ root: string; known: ReadonlyMap<string, Uint8Array> }> = [];
      class PinningStore extends MemoryTraceStore {
        override async put(cid: CID, bytes: Uint8Array): Promise<void> {
          calls.push(`put ${cid.toString()}`);
          await super.put(cid, bytes);
        }
        async pin(root: CID, known: ReadonlyMap<string, Uint8Array>): Promise<void> {
          calls.push(`pin ${root.toString()}`);
          pins.push({ root: root.toString(), known: new Map(known) });
        }
      }
      const store = new PinningStore();
      const committer = new TraceCommitter(store, { concurrency: 4 });
      for (const t of tensorsOf(trace)) committer.add(t);
      const { root } = await committer.finish(trace);
      expect(root.toString()).toBe(encoded.root.toString());
      // Every block stored before the one pin, which comes last.
      expect(calls.filter((c) => c.startsWith("put "))).toHaveLength(encoded.blocks.size);
      expect(calls.at(-1)).toBe(`pin ${encoded.root.toString()}`);
      expect(pins).toHaveLength(1);
      expect([...pins[0]!.known.keys()].sort()).toEqual([...encoded.blocks.keys()].sort());
      for (const [cid, { bytes }] of encoded.blocks) expect(Buffer.from(pins[0]!.known.get(cid)!).equals(Buffer.from(bytes))).toBe(true);

      // An abort while the last writes are in flight: they finish, and the root is never pinned.
      const held = Object.assign(new HeldStore(), { pinned: 0 });
      const pinningHeld = Object.assign(held, { pin: async () => void held.pinned++ });
      const midway = new AbortController();
      const cancelled = new TraceCommitter(pinningHeld, { signal: midway.signal, concurrency: 64 });
      const finishing = cancelled.finish(trace);
      await held.waitHeld(encoded.blocks.size);
      midway.abort(new Error("deadline"));
      held.releaseAll();
      await expect(finishing).rejects.toThrow("deadline");
      expect(held.inner.blocks.size).toBe(encoded.blocks.size);
      expect(held.pinned).toBe(0);
    } finally {
      await runner.close();
    }
  });
});
