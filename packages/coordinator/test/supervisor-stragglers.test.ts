import { afterEach, describe, expect, it } from "vitest";
import type { RenderDelivered } from "@rendermesh/shared";
import { delivery, JOB_ID, P1, P2, P3 } from "./helpers/fixtures.js";
import { cleanupSupervisor, setup } from "./helpers/supervisor-seam.js";

afterEach(cleanupSupervisor);

const delivered = (segment: number): RenderDelivered =>
  ({ type: "delivered", ...delivery(JOB_ID, segment), multiaddrs: [] }) as RenderDelivered;

describe("supervisor: speculative copies of stragglers", () => {
  it("a segment is a straggler against the job's own delivered segments, not the provider's advertised speed", async () => {
    // Every provider advertises 100 frames/s of reference work: a 32x32 segment "should" take a few ms. Renders of
    // a costlier model take seconds; a copy after 1.5 × a few ms would re-render every last segment of every job.
    const { store, dispatcher, supervisor, tick, advance } = setup([P1, P2, P3], { seconds: 2 });
    supervisor.start();
    await supervisor.settled();
    expect(dispatcher.calls).toHaveLength(2); // both segments out, nothing pending; one provider idle

    // No segment of the job has come back yet: nothing to call slow. (A dead provider is its deadline's business.)
    advance(3_000);
    await tick();
    expect(dispatcher.calls).toHaveLength(2);

    // One segment comes back after 4 s: the job's segments take about that long.
    advance(1_000);
    const [first, second] = dispatcher.calls as [(typeof dispatcher.calls)[0], (typeof dispatcher.calls)[0]];
    first.resolve(delivered(first.request.assignment.segment));
    await tick();
    expect(store.segment(JOB_ID, first.request.assignment.segment)?.status).toBe("delivered");

    // The other, at 5.5 s, is within 1.5 × 4 s: no copy.
    advance(1_500);
    await tick();
    expect(dispatcher.calls).toHaveLength(2);

    // At 6.5 s it is past 1.5 × 4 s: a copy goes to a provider that does not hold the segment.
    advance(1_000);
    await tick();
    expect(dispatcher.calls).toHaveLength(3);
    const copy = dispatcher.calls[2]!;
    expect(copy.request.assignment.segment).toBe(second.request.assignment.segment);
    expect(copy.provider).not.toBe(second.provider);
    expect(store.attempts(JOB_ID, second.request.assignment.segment).map((a) => [a.status, a.speculative])).toEqual([
      ["active", false],
      ["active", true],
    ]);
    expect(supervisor.stats.speculative).toBe(1);
  });
});
