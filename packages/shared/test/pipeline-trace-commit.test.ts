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

/** A seam that holds calls until the test lets them go, counting how many are in flight. */
class Gate {
  readonly held: Array<() => void> = [];
  inFlight = 0;
  maxInFlight = 0;
  #waiters: Array<() => void> = [];
  async pass(): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise<void>((resolve) => {
      this.held.push(resolve);
      for (const w of this.#waiters.splice(0)) w();
    });
    this.inFlight--;
  }
  /** Resolves once `n` calls are waiting. */
  async waitHeld(n: number): Promise<void> {
    while (this.held.length < n) await new Promise<void>((r) => this.#waiters.push(r));
  }
  releaseAll(): void {
    for (const r of this.held.splice(0)) r();
  }
}

/** A store whose puts wait until the test lets them go: a seam to hold writes in flight. */
class HeldStore extends Gate implements TraceBlockStore {
  readonly inner = new MemoryTraceStore();
  failOn?: string;
  readonly signals: unknown[] = [];
  async put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal | undefined }): Promise<void> {
    this.signals.push(options?.signal);
    await this.pass();
    if (cid.toString() === this.failOn) throw new Error("disk full");
    await this.inner.put(cid, bytes);
  }
  get(cid: CID): Promise<Uint8Array> {
    return this.inner.get(cid);
  }
}

/** Runs `fn` with the trace of one generated segment, the runner closed afterwards. */
async function withTrace(
  make: typeof alphaPipeline,
  options: { prompt: string; seed: number; segment: number },
  fn: (trace: PipelineTrace) => Promise<void>,
): Promise<void> {
  const runner = await PipelineRunner.create({ pipeline: make(), device: "cpu", threads: 1, logger: silent });
  try {
    await fn((await runner.generate(options)).trace);
  } finally {
    await runner.close();
  }
}

/** A store with `putMany` whose batches wait until the test lets them go. */
class HeldBatchStore extends MemoryTraceStore {
  readonly gate = new Gate();
  readonly batches: string[][] = [];
  singles = 0;
  failOnBatch?: number;
  override async put(cid: CID, bytes: Uint8Array): Promise<void> {
    this.singles++;
    await super.put(cid, bytes);
  }
  async putMany(blocks: ReadonlyArray<{ cid: CID; bytes: Uint8Array }>): Promise<void> {
    const index = this.batches.push(blocks.map((b) => b.cid.toString())) - 1;
    await this.gate.pass();
    if (index === this.failOnBatch) throw new Error("disk full");
    for (const b of blocks) this.blocks.set(b.cid.toString(), b.bytes);
  }
  /** Lets batches go as they come until `done` settles. */
  async drain(done: Promise<unknown>): Promise<void> {
    let settled = false;
    void done.then(
      () => (settled = true),
      () => (settled = true),
    );
    while (!settled) {
      await Promise.race([this.gate.waitHeld(1), done.catch(() => {})]);
      this.gate.releaseAll();
    }
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

  it("behavior: a store with putMany gets the blocks in batches of `batch`, one batch at a time, the last in finish; same root and blocks", async () => {
    await withTrace(alphaPipeline, { prompt: "a blue square", seed: 3, segment: 1 }, async (trace) => {
      const encoded = await encodeTrace(trace);
      const store = new HeldBatchStore();
      const committer = new TraceCommitter(store, { batch: 4 });
      const tensors = tensorsOf(trace);
      for (const t of tensors.slice(0, 9)) committer.add(t);
      // The first full batch goes out as soon as its 4 tensors are hashed, before finish.
      await store.gate.waitHeld(1);
      expect(store.batches[0]).toHaveLength(4);
      for (const t of tensors.slice(9)) committer.add(t);
      const finishing = committer.finish(trace);
      await store.drain(finishing);
      const { root } = await finishing;
      expect(root.toString()).toBe(encoded.root.toString());
      expect(store.gate.maxInFlight).toBe(1);
      expect(store.singles).toBe(0);
      expect(store.batches.slice(0, -1).every((b) => b.length === 4)).toBe(true);
      expect(store.batches.at(-1)).toContain(encoded.root.toString());
      expect(store.batches.flat().sort()).toEqual([...encoded.blocks.keys()].sort());
      for (const [cid, { bytes }] of encoded.blocks) expect(Buffer.from(store.blocks.get(cid)!).equals(Buffer.from(bytes))).toBe(true);
      expect(() => new TraceCommitter(new MemoryTraceStore(), { batch: 0 })).toThrow(RangeError);
    });
  });

  it("error: a failed batch fails finish; an abort stops batches not yet started; settled drops the blocks of a failed render", async () => {
    await withTrace(betaPipeline, { prompt: "a red circle", seed: 6, segment: 0 }, async (trace) => {
      const tensors = tensorsOf(trace);
      const failing = new HeldBatchStore();
      failing.failOnBatch = 1;
      const finishing = new TraceCommitter(failing, { batch: 4 }).finish(trace);
      await failing.drain(finishing);
      await expect(finishing).rejects.toThrow("disk full");

      // An abort while a batch is in flight: that batch is written, the next is never handed over.
      const held = new HeldBatchStore();
      const midway = new AbortController();
      const cancelled = new TraceCommitter(held, { signal: midway.signal, batch: 4 });
      for (const t of tensors) cancelled.add(t);
      const finishingCancelled = cancelled.finish(trace);
      await held.gate.waitHeld(1);
      midway.abort(new Error("deadline"));
      held.gate.releaseAll();
      await expect(finishingCancelled).rejects.toThrow("deadline");
      expect(held.batches).toHaveLength(1);
      expect(held.blocks.size).toBe(4);

      // A render that failed after 3 tensors (under one batch): nothing is written, settled resolves.
      const dropped = new HeldBatchStore();
      const abandoned = new TraceCommitter(dropped, { batch: 4 });
      for (const t of tensors.slice(0, 3)) abandoned.add(t);
      await abandoned.settled();
      expect(dropped.batches).toHaveLength(0);
      expect(dropped.blocks.size).toBe(0);
    });
  });
});
