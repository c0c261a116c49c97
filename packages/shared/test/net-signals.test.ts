import { getEventListeners } from "node:events";
import { afterEach, describe, expect, it, vi } from "vitest";
import { deadline, isTimeoutReason, withDeadline } from "../src/net/signals.js";

describe("deadline", () => {
  it("default: aborts with a TimeoutError reason when the deadline passes", async () => {
    const d = deadline({}, 5);
    await new Promise((resolve) => d.signal.addEventListener("abort", resolve, { once: true }));
    expect(isTimeoutReason(d.signal.reason)).toBe(true);
  });

  it("behavior: follows the caller's and extra signals, with their reason", () => {
    const caller = new AbortController();
    const extra = new AbortController();
    const a = deadline({ signal: caller.signal }, 0, extra.signal);
    extra.abort(new Error("stopping"));
    expect(a.signal.aborted).toBe(true);
    expect((a.signal.reason as Error).message).toBe("stopping");
    // Once aborted it detached from the sources it was listening to.
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
    const b = deadline({}, 0, extra.signal);
    expect(b.signal.aborted).toBe(true);
  });

  it("behavior: clear() leaves nothing on a long-lived source, however many deadlines were made from it", () => {
    const stopping = new AbortController();
    for (let i = 0; i < 20_000; i++) {
      const d = deadline({ timeout: 30_000 }, 30_000, stopping.signal);
      d.clear();
      d.clear();
    }
    expect(getEventListeners(stopping.signal, "abort")).toHaveLength(0);
    const d = deadline({ timeout: 30_000 }, 30_000, stopping.signal);
    expect(getEventListeners(stopping.signal, "abort")).toHaveLength(1);
    d.clear();
    stopping.abort();
    expect(d.signal.aborted).toBe(false);
  });
});

describe("withDeadline", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("default: runs fn with a live signal, returns its value, and leaves no timer or listener behind", async () => {
    vi.useFakeTimers();
    const caller = new AbortController();
    const stopping = new AbortController();
    let seen: AbortSignal | undefined;
    const value = await withDeadline(
      { signal: caller.signal },
      30_000,
      async (signal) => {
        seen = signal;
        expect(vi.getTimerCount()).toBe(1);
        expect(getEventListeners(stopping.signal, "abort")).toHaveLength(1);
        return 42;
      },
      stopping.signal,
    );
    expect(value).toBe(42);
    expect(seen?.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(caller.signal, "abort")).toHaveLength(0);
    expect(getEventListeners(stopping.signal, "abort")).toHaveLength(0);
  });

  it("error: a rejection from fn comes through unchanged, and the deadline is cleared all the same", async () => {
    vi.useFakeTimers();
    const stopping = new AbortController();
    const failure = new Error("dial refused");
    await expect(
      withDeadline(
        {},
        30_000,
        async () => {
          throw failure;
        },
        stopping.signal,
      ),
    ).rejects.toBe(failure);
    expect(vi.getTimerCount()).toBe(0);
    expect(getEventListeners(stopping.signal, "abort")).toHaveLength(0);
  });

  it("behavior: the deadline (options.timeout, else the default) aborts fn's signal with a TimeoutError reason", async () => {
    vi.useFakeTimers();
    const run = (timeout: number | undefined) =>
      withDeadline(
        timeout === undefined ? {} : { timeout },
        1_000,
        (signal) => new Promise<unknown>((resolve) => signal.addEventListener("abort", () => resolve(signal.reason), { once: true })),
      );
    const byDefault = run(undefined);
    await vi.advanceTimersByTimeAsync(999);
    const byOption = run(50);
    await vi.advanceTimersByTimeAsync(50);
    expect(isTimeoutReason(await byOption)).toBe(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(isTimeoutReason(await byDefault)).toBe(true);
    // timeout 0 means no deadline: only the signals end it.
    const caller = new AbortController();
    const unbounded = withDeadline(
      { signal: caller.signal, timeout: 0 },
      1_000,
      (signal) => new Promise<unknown>((resolve) => signal.addEventListener("abort", () => resolve(signal.reason), { once: true })),
    );
    expect(vi.getTimerCount()).toBe(0);
    caller.abort(new Error("caller gave up"));
    expect(((await unbounded) as Error).message).toBe("caller gave up");
  });

  it("behavior: an extra signal already aborted gives fn an aborted signal with its reason", async () => {
    const stopping = new AbortController();
    stopping.abort(new Error("stopping"));
    const reason = await withDeadline({}, 30_000, async (signal) => (signal.aborted ? signal.reason : undefined), stopping.signal);
    expect((reason as Error).message).toBe("stopping");
  });
});
