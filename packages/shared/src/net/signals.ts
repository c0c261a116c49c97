import { setMaxListeners } from "node:events";
import { AbortError, TimeoutError } from "./errors.js";

/** `{ signal, timeout }` as every async API in net/ takes them. `timeout: 0` means "no default deadline". */
export interface TimeoutOptions {
  signal?: AbortSignal | undefined;
  /** Milliseconds; `0` or `Infinity` disables the default deadline (the signal still applies). */
  timeout?: number | undefined;
}

const never = new AbortController().signal;

/**
 * One signal that aborts when the caller's signal or any `extra` signal
 * does, or when the deadline (`options.timeout ?? defaultTimeout`) passes.
 */
export function deadlineSignal(
  options: TimeoutOptions,
  defaultTimeout: number,
  ...extra: Array<AbortSignal | undefined>
): AbortSignal {
  const ms = options.timeout ?? defaultTimeout;
  const signals = [options.signal, ...extra].filter((s): s is AbortSignal => s !== undefined);
  if (ms > 0 && Number.isFinite(ms)) signals.push(AbortSignal.timeout(ms));
  if (signals.length === 0) return never;
  const signal = signals.length === 1 ? signals[0]! : AbortSignal.any(signals);
  // libp2p and Helia add an 'abort' listener per operation; many concurrent
  // operations on one signal are normal, not a leak.
  setMaxListeners(Infinity, signal);
  return signal;
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
