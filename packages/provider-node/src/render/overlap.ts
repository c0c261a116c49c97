/**
 * Overlaps one segment's encode with the next one's render, bounded.
 *
 * A segment holds a render slot while its frames are made; once the renderer
 * has produced its last frame (`Turn.rendered`) the segment moves to a
 * finish slot (the x264 lookahead tail, credential, hash, pin, trace commit,
 * sign) and its render slot goes to the next segment, so ONNX Runtime does
 * not sit idle while ffmpeg finishes. There are as many finish slots as
 * render slots: with one renderer, at most one segment finishes while the
 * next renders. A segment whose render is done while every finish slot is
 * taken keeps its render slot until one frees, so work never piles up
 * behind a slow encoder.
 */

/** A counting semaphore whose waiters are served in order. */
export class Slots {
  #free: number;
  readonly #waiters: Array<() => void> = [];

  constructor(count: number) {
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`slot count must be a positive integer, got ${count}`);
    this.#free = count;
  }

  /** Takes a slot if one is free now. */
  tryAcquire(): boolean {
    if (this.#free === 0) return false;
    this.#free--;
    return true;
  }

  /** Waits for a slot; rejects with the signal's reason if it aborts first (the slot is then not taken). */
  acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#cancel(grant);
        reject(signal!.reason);
      };
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      this.#waiters.push(grant);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Gives a slot back: straight to the longest waiter, if any. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free++;
  }

  #cancel(grant: () => void): void {
    const i = this.#waiters.indexOf(grant);
    if (i >= 0) this.#waiters.splice(i, 1);
  }
}

/** One segment's way through the render and finish slots. */
export interface Turn {
  /** The renderer has produced the segment's last frame: hand the render slot on once a finish slot is ours. */
  rendered(): void;
  /** The segment is done (delivered or failed): gives back whatever slot it holds. Idempotent. */
  leave(): void;
}

export class RenderOverlap {
  readonly #render: Slots;
  readonly #finish: Slots;

  constructor(renderers = 1) {
    this.#render = new Slots(renderers);
    this.#finish = new Slots(renderers);
  }

  /** Waits for a render slot (queued work waits here, in order). */
  async enter(signal?: AbortSignal): Promise<Turn> {
    await this.#render.acquire(signal);
    let state: "rendering" | "handing-over" | "finishing" | "left" = "rendering";
    const cancel = new AbortController();
    const render = this.#render;
    const finish = this.#finish;
    return {
      rendered() {
        if (state !== "rendering") return;
        if (finish.tryAcquire()) {
          state = "finishing";
          render.release();
          return;
        }
        state = "handing-over";
        finish.acquire(cancel.signal).then(
          () => {
            // Granted after the segment left (a failure while it waited): the finish slot is not needed.
            if (state === "left") return finish.release();
            state = "finishing";
            render.release();
          },
          () => {}, // cancelled by leave(), which gave the render slot back
        );
      },
      leave() {
        if (state === "left") return;
        if (state === "finishing") finish.release();
        else {
          if (state === "handing-over") cancel.abort();
          render.release();
        }
        state = "left";
      },
    };
  }
}
