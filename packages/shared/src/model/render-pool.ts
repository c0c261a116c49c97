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

  constructor(members: readonly T[], sameModel?: (member: T) => string) {
    if (members.length === 0) throw new RangeError("a render pool needs at least one renderer");
    const ids = new Set(sameModel ? members.map(sameModel) : []);
    if (ids.size > 1) throw new RangeError(`a render pool holds renderers of one model, got ${[...ids].join(", ")}`);
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

/** One field `Renderer` over several of the same model (see `RenderPool`); a single renderer is returned as it is. */
export function pooledRenderer(renderers: readonly Renderer[]): Renderer {
  if (renderers.length === 1) return renderers[0]!;
  const pool = new RenderPool(renderers, (r) => r.manifest.id);
  const first = pool.members[0]!;
  return {
    manifest: first.manifest,
    device: first.device,
    renderFrames: (options: RenderFramesOptions) => pool.stream((r) => r.renderFrames(options)),
    close: () => pool.close(),
  };
}

/** One diffusion `SegmentGenerator` over several of the same pipeline (see `RenderPool`); a single one is returned as it is. */
export function pooledGenerator(generators: readonly SegmentGenerator[]): SegmentGenerator {
  if (generators.length === 1) return generators[0]!;
  const pool = new RenderPool(generators, (g) => g.manifest.id);
  const first = pool.members[0]!;
  return {
    manifest: first.manifest,
    device: first.device,
    generate: (options: GenerateOptions): Promise<Generation> => pool.run((g) => g.generate(options)),
    close: () => pool.close(),
  };
}
