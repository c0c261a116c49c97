// Waiting on events, never on the clock: each helper resolves when the thing
// happens (or rejects when it can no longer happen); the test's own timeout
// is the only limit.
import type { Readable } from "node:stream";

/** The next `type` event on `target` whose detail passes `filter`. */
export function nextEvent<T = unknown>(target: EventTarget, type: string, filter: (detail: T) => boolean = () => true): Promise<T> {
  return new Promise((resolve) => {
    const listener = (event: Event) => {
      const detail = (event as CustomEvent<T>).detail;
      if (!filter(detail)) return;
      target.removeEventListener(type, listener);
      resolve(detail);
    };
    target.addEventListener(type, listener);
  });
}

/**
 * Collects a child's output as it comes and resolves `waitFor(pattern)` when
 * a line matching it has been written (already, or later); rejects if the
 * stream ends first.
 */
export class OutputWatcher {
  #text = "";
  #ended = false;
  readonly #waiters = new Set<() => void>();

  constructor(...streams: Array<Readable | null | undefined>) {
    let open = 0;
    for (const s of streams) {
      if (!s) continue;
      open++;
      s.on("data", (chunk: Buffer | string) => {
        this.#text += chunk.toString();
        for (const w of [...this.#waiters]) w();
      });
      s.once("close", () => {
        if (--open === 0) {
          this.#ended = true;
          for (const w of [...this.#waiters]) w();
        }
      });
    }
  }

  /** Everything written so far. */
  get text(): string {
    return this.#text;
  }

  /** The first match of `pattern` (tried line by line) in the output, now or once written. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const line of this.#text.split("\n")) {
          const m = pattern.exec(line);
          if (m) {
            this.#waiters.delete(check);
            resolve(m);
            return;
          }
        }
        if (this.#ended) {
          this.#waiters.delete(check);
          reject(new Error(`the output ended without a line matching ${pattern}:\n${this.#text.slice(-3000)}`));
        }
      };
      this.#waiters.add(check);
      check();
    });
  }
}
