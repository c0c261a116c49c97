import { setMaxListeners } from "node:events";
import { AbortError, TimeoutError } from "./errors.js";

/** `{ signal, timeout }` as every async API in net/ takes them. `timeout: 0` means "no default deadline". */
export interface TimeoutOptions {
  signal?: AbortSignal | undefined;
  /** Milliseconds; `0` or `Infinity` disables the default deadline (the signal still applies). */
  timeout?: number | undefined;
}

/** A signal with a deadline, and the means to drop its timer and listeners once the guarded work is done. */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Stops the timer and detaches from every source signal; the signal then never aborts. Idempotent. */
  clear(): void;
}

/** The reason a passed deadline aborts with, named like `AbortSignal.timeout`'s. */
export function timeoutReason(ms: number): DOMException {
  return new DOMException(`The operation timed out after ${ms} ms.`, "TimeoutError");
}

/**
 * A fresh signal that aborts when the caller's signal or any `extra` signal
 * does, or when the deadline (`options.timeout ?? defaultTimeout`) passes.
 *
 * Unlike `AbortSignal.any`, it leaves nothing behind on the source signals
 * once `clear()` is called: `AbortSignal.any` registers every composite as a
 * dependent of each source, and on a long-lived source (a service's
 * "stopping" signal, a connection's) thousands of streams made Node's
 * dependent bookkeeping quadratic and froze the event loop for seconds.
 * Always `clear()` in a `finally`.
 */
export function deadline(options: TimeoutOptions, defaultTimeout: number, ...extra: Array<AbortSignal | undefined>): Deadline {
  const ms = options.timeout ?? defaultTimeout;
  const sources = [options.signal, ...extra].filter((s): s is AbortSignal => s !== undefined);
  const controller = new AbortController();
  // libp2p and Helia add an 'abort' listener per operation; many concurrent
  // operations on one signal are normal, not a leak.
  setMaxListeners(Infinity, controller.signal);
  const done = sources.find((s) => s.aborted);
  if (done) {
    controller.abort(done.reason);
    return { signal: controller.signal, clear: () => undefined };
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const detach: Array<() => void> = [];
  const clear = (): void => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    for (const undo of detach.splice(0)) undo();
  };
  const abort = (reason: unknown): void => {
    clear();
    controller.abort(reason);
  };
  for (const source of sources) {
    const onAbort = (): void => abort(source.reason);
    source.addEventListener("abort", onAbort, { once: true });
    detach.push(() => source.removeEventListener("abort", onAbort));
  }
  if (ms > 0 && Number.isFinite(ms)) {
    timer = setTimeout(() => abort(timeoutReason(ms)), ms);
    timer.unref?.();
  }
  return { signal: controller.signal, clear };
}

/**
 * Runs `fn` with a signal that aborts when `options.signal` or any `extra`
 * signal does, or when the deadline (`options.timeout ?? defaultTimeout`)
 * passes, and drops the timer and listeners as soon as `fn` settles, however
 * it settles. The one way to guard a call with `deadline`; prefer it to
 * `deadline()` + `try`/`finally` by hand.
 *
 * @example
 * return withDeadline(options, DEFAULT_TIMEOUT, (signal) => fetchBlock(cid, signal), this.stopping);
 */
export async function withDeadline<T>(
  options: TimeoutOptions,
  defaultTimeout: number,
  fn: (signal: AbortSignal) => Promise<T>,
  ...extra: Array<AbortSignal | undefined>
): Promise<T> {
  const d = deadline(options, defaultTimeout, ...extra);
  try {
    return await fn(d.signal);
  } finally {
    d.clear();
  }
}

/** True for the reasons `AbortSignal.timeout` and libp2p use for deadlines. */
export function isTimeoutReason(reason: unknown): boolean {
  return typeof reason === "object" && reason !== null && (reason as { name?: unknown }).name === "TimeoutError";
}

/** The typed error for an aborted signal: `TimeoutError` for deadlines, else `AbortError`. */
export function abortError(signal: AbortSignal, what: string): TimeoutError | AbortError {
  const reason: unknown = signal.reason;
  if (reason instanceof TimeoutError || reason instanceof AbortError) return reason;
  if (isTimeoutReason(reason)) return new TimeoutError(`${what} timed out.`, { cause: reason });
  return new AbortError(`${what} was aborted.`, { cause: reason });
}

/**
 * Settles like `promise`, or rejects with `abortError(signal)` as soon as the
 * signal aborts. The losing promise's later rejection is swallowed so it can
 * never become an unhandled rejection.
 */
export async function raceSignal<T>(promise: Promise<T>, signal: AbortSignal, what: string): Promise<T> {
  promise.catch(() => undefined);
  if (signal.aborted) throw abortError(signal, what);
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(abortError(signal, what));
    signal.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}
