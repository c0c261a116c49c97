import { afterEach, describe, expect, it } from "vitest";
import type { RenderDelivered } from "@rendermesh/shared";
import { RenderError } from "../src/errors.js";
import { delivery, JOB_ID, P1, P2 } from "./helpers/fixtures.js";
import { cleanupSupervisor, setup } from "./helpers/supervisor-seam.js";

afterEach(cleanupSupervisor);

const busy = () =>
  new RenderError(
    "BUSY",
    "The provider refused the segment: This provider holds 2 segments (1 rendering, 1 queued), its limit. Retry in 1 s.",
  );

describe("supervisor: a provider that answers BUSY", () => {
  it("regression (bench 9ab0Qp): a BUSY after a failed try leads to a clean re-assignment, not a UNIQUE (job_id, idx, try) error on every tick", async () => {
    const { store, dispatcher, log, supervisor, tick, advance } = setup([P1, P2]);
    supervisor.start();
    await supervisor.settled();

    // Try 1 on one provider fails (its deadline passed), as in the bench.
    const first = dispatcher.call(1);
    first.reject(new RenderError("TIMEOUT", "No delivery before the segment's deadline."));
    await tick();

    // The segment goes to the other provider, which refuses it: BUSY.
    const second = dispatcher.call(2);
    expect(second.provider).not.toBe(first.provider);
    second.reject(busy());
    await tick();
    expect(store.segment(JOB_ID, 0)).toMatchObject({ status: "pending", tries: 1 });

    // After the provider's retry hint the segment goes back to it (the one that timed out is excluded).
    advance(1_001);
    await tick();
    await tick();
    expect(log.errors).toEqual([]);
    const third = dispatcher.call(3);
    expect(third.provider).toBe(second.provider);
    const attempts = store.attempts(JOB_ID, 0);
    expect(attempts.map((a) => [a.attempt, a.status, a.failCode])).toEqual([
      [1, "failed", "TIMEOUT"],
      [2, "failed", "BUSY"],
      [3, "active", null],
    ]);
    // The BUSY refusal did not burn a try: the timeout and the running attempt are the two counted.
    expect(store.segment(JOB_ID, 0)).toMatchObject({ status: "active", tries: 2 });

    // And it completes normally.
    third.resolve({ type: "delivered", ...delivery(JOB_ID, 0), multiaddrs: [] } as RenderDelivered);
    await tick();
    expect(store.segment(JOB_ID, 0)?.status).toBe("delivered");
    expect(log.errors).toEqual([]);
  });

  it("a BUSY as the very first answer: the next attempt gets the next number and the segment keeps all three tries", async () => {
    const { store, dispatcher, log, supervisor, tick, advance } = setup([P1]);
    supervisor.start();
    await supervisor.settled();
    for (let n = 1; n <= 4; n++) {
      dispatcher.call(n).reject(busy());
      await tick();
      expect(store.segment(JOB_ID, 0)).toMatchObject({ status: "pending", tries: 0 });
      advance(1_001);
      await tick();
      expect(log.errors).toEqual([]);
    }
    dispatcher.call(5);
    expect(store.attempts(JOB_ID, 0).map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(store.segment(JOB_ID, 0)).toMatchObject({ status: "active", tries: 1 });
  });
});
