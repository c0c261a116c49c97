import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { deadline, isTimeoutReason } from "../src/net/signals.js";

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
