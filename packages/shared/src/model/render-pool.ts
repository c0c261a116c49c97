import type { Renderer, RenderFramesOptions } from "./renderer.js";
import type { SegmentGenerator } from "./pipeline/runner-thread.js";
import type { GenerateOptions, Generation } from "./pipeline/runner.js";

/**
 * Several renderers of one model, each with sessions and an inference thread
 * of its own, behind one: a render goes to the member with the fewest renders
 * in flight (the first of those), so renders that start together run on
 * different threads instead of queuing on one.
 *
 * Why: onnxruntime-node runs one `session.run` at a time per thread, so a
 * provider that took two segments at once on one renderer rendered them one
 * after the other. And one render spread over every core is not what the
 * cores can do: ONNX Runtime's parallel operators wait for their slowest
 * thread. Measured on 2 cores (docs/performance.md, "Ninth pass"): two
 * one-thread renders at once make 1.2× (diffusion) and 1.5× (field) the
 * frames of one render on both cores.
 */
export class RenderPool<T extends { close(): Promise<void> }> {
  readonly members: readonly T[];
  readonly #inFlight: number[];

  constructor(members: readonly T[]) {
    if (members.length === 0) throw new RangeError("a render pool needs at least one renderer");
    this.members = members;
    this.#inFlight = members.map(() => 0);
  }

  /** Renders in flight on each member, in member order. */
  get inFlight(): readonly number[] {
    return [...this.#inFlight];
  }

  /** Runs `fn` on the least busy member; its slot is held until `fn` settles. */
  async run<R>(fn: (member: T) => Promise<R>): Promise<R> {
    const i = this.#take();
    try {
      return await fn(this.members[i]!);
    } finally {
      this.#inFlight[i]!--;
    }
  }

  /** Streams `fn`'s output from the least busy member; its slot is held until the stream ends, fails or is dropped. */
  async *stream<R>(fn: (member: T) => AsyncGenerator<R, void, undefined>): AsyncGenerator<R, void, undefined> {
    const i = this.#take();
    try {
      yield* fn(this.members[i]!);
    } finally {
      this.#inFlight[i]!--;
    }
  }

  /** Closes every member (each even if another fails); rejects with the first failure. */
  async close(): Promise<void> {
    const results = await Promise.allSettled(this.members.map((m) => m.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  #take(): number {
    let best = 0;
    for (let i = 1; i < this.#inFlight.length; i++) if (this.#inFlight[i]! < this.#inFlight[best]!) best = i;
    this.#inFlight[best]!++;
    return best;
  }
}

/** What the two pooled kinds share: one model's manifest, a device, a close. */
interface PoolMember {
  readonly manifest: { readonly id: string };
  readonly device: "cpu" | "cuda";
  close(): Promise<void>;
}

/** A pool of renderers of one model, and the members of the pooled renderer that it and its first member answer. */
function poolOf<T extends PoolMember>(members: readonly T[]) {
  const ids = new Set(members.map((m) => m.manifest.id));
  if (ids.size > 1) throw new RangeError(`a render pool holds renderers of one model, got ${[...ids].join(", ")}`);
  const pool = new RenderPool(members);
  const first = pool.members[0]!;
  return { pool, shared: { manifest: first.manifest as T["manifest"], device: first.device, close: () => pool.close() } };
}

/** One field `Renderer` over several of the same model (see `RenderPool`); a single renderer is returned as it is. */
export function pooledRenderer(renderers: readonly Renderer[]): Renderer {
  if (renderers.length === 1) return renderers[0]!;
  const { pool, shared } = poolOf(renderers);
  return { ...shared, renderFrames: (options: RenderFramesOptions) => pool.stream((r) => r.renderFrames(options)) };
}

/** One diffusion `SegmentGenerator` over several of the same pipeline (see `RenderPool`); a single one is returned as it is. */
export function pooledGenerator(generators: readonly SegmentGenerator[]): SegmentGenerator {
  if (generators.length === 1) return generators[0]!;
  const { pool, shared } = poolOf(generators);
  return { ...shared, generate: (options: GenerateOptions): Promise<Generation> => pool.run((g) => g.generate(options)) };
}
