// Holding render work in flight: a wrapper for a provider's pipeline
// (`StartProviderOptions.pipeline`) that stops each render at its first frame
// until the test lets it go. A test that needs "one segment rendering, one
// queued" or "a coordinator hangs up mid-segment" gets exactly that, on a
// fast machine as on a slow one.

/** The renderer side of a pipeline, as the provider's `FrameSource` has it. */
interface FrameSourceLike {
  renderFrames(options: {
    spec: { seed: number };
    firstFrame: number;
    frameCount: number;
    signal?: AbortSignal | undefined;
  }): AsyncIterable<Uint8Array>;
}

/** A render that reached the gate. */
export interface HeldRender {
  firstFrame: number;
  frameCount: number;
  seed: number;
}

export interface PipelineHoldOptions {
  /** Held from the start (default false: open until `hold()`). */
  held?: boolean;
  /** Renders let through before holding starts (with `held`; default 0). */
  passFirst?: number;
  /** Called as each render reaches the gate while it is held (a child process prints a line here). */
  onHeld?: (render: HeldRender) => void;
}

export class PipelineHold {
  #held: boolean;
  #passes: number;
  readonly #onHeld: ((render: HeldRender) => void) | undefined;
  #open: { promise: Promise<void>; resolve: () => void } = deferred();
  /** Renders that reached the gate while it was held, in order. */
  readonly arrivals: HeldRender[] = [];
  readonly #arrivalWaiters: Array<{ count: number; resolve: () => void }> = [];

  constructor(options: PipelineHoldOptions = {}) {
    this.#held = options.held ?? false;
    this.#passes = options.passFirst ?? 0;
    this.#onHeld = options.onHeld;
  }

  /** From now on, renders stop at their first frame until `release()` (after letting `passFirst` through). */
  hold(options: { passFirst?: number } = {}): void {
    this.#passes = options.passFirst ?? 0;
    if (this.#held) return;
    this.#held = true;
    this.#open = deferred();
  }

  /** Lets every held render go, and every later one through. */
  release(): void {
    this.#held = false;
    this.#open.resolve();
  }

  /** Resolves once `count` renders in all have reached the gate while held. */
  reached(count: number): Promise<void> {
    if (this.arrivals.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.#arrivalWaiters.push({ count, resolve }));
  }

  /** The wrapper to pass as `StartProviderOptions.pipeline` (or to `runCli`). */
  readonly wrap = <C extends { renderer: FrameSourceLike }>(_modelId: string, components: C): C => ({
    ...components,
    renderer: {
      renderFrames: (o: Parameters<FrameSourceLike["renderFrames"]>[0]) => this.#gated(components.renderer, o),
    },
  });

  /** The gate itself: resolves at once while open, else when released (rejects if `signal` aborts first). */
  async pass(render: HeldRender, signal?: AbortSignal): Promise<void> {
    if (!this.#held) return;
    if (this.#passes > 0) {
      this.#passes--;
      return;
    }
    this.arrivals.push(render);
    this.#onHeld?.(render);
    for (const w of this.#arrivalWaiters.filter((x) => x.count <= this.arrivals.length)) {
      this.#arrivalWaiters.splice(this.#arrivalWaiters.indexOf(w), 1);
      w.resolve();
    }
    await abortable(this.#open.promise, signal);
  }

  async *#gated(renderer: FrameSourceLike, o: Parameters<FrameSourceLike["renderFrames"]>[0]): AsyncGenerator<Uint8Array> {
    await this.pass({ firstFrame: o.firstFrame, frameCount: o.frameCount, seed: o.spec.seed }, o.signal);
    yield* renderer.renderFrames(o);
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** `promise`, or the signal's reason once it aborts (so a given-back segment unwinds). */
function abortable(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
