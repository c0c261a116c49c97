import { describe, expect, test } from "vitest";
import { RenderOverlap, Slots } from "../src/render/overlap.js";

/** Lets every callback already queued run (promise reactions and the turns after them). */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

/** Enters and records the order in which turns were granted. */
function enterAll(overlap: RenderOverlap, n: number, granted: number[]) {
  return Array.from({ length: n }, (_, i) => overlap.enter().then((turn) => (granted.push(i), turn)));
}

describe("RenderOverlap: the next segment renders while the previous one finishes, bounded", () => {
  test("default: a segment's render slot goes to the next one as soon as its frames are made", async () => {
    const overlap = new RenderOverlap(1);
    const granted: number[] = [];
    const [a, b] = enterAll(overlap, 2, granted);
    const first = await a!;
    await settle();
    expect(granted).toEqual([0]); // one render slot
    first.rendered(); // a's frames are made; it now encodes
    const second = await b!;
    expect(granted).toEqual([0, 1]);
    second.leave();
    first.leave();
  });

  test("behavior: at most one segment finishes while the next renders: a third waits until the first is done", async () => {
    const overlap = new RenderOverlap(1);
    const granted: number[] = [];
    const [a, b, c] = enterAll(overlap, 3, granted);
    const first = await a!;
    first.rendered();
    const second = await b!;
    second.rendered(); // the finish slot is first's: second keeps its render slot
    await settle();
    expect(granted).toEqual([0, 1]);
    first.leave(); // first delivered: second moves to finishing, and the third renders
    const third = await c!;
    expect(granted).toEqual([0, 1, 2]);
    third.leave();
    second.leave();
  });

  test("behavior: a segment that fails while it waits to hand over gives its render slot back, once", async () => {
    const overlap = new RenderOverlap(1);
    const granted: number[] = [];
    const [a, b, c, d] = enterAll(overlap, 4, granted);
    const first = await a!;
    first.rendered();
    const second = await b!;
    second.rendered(); // waits for the finish slot
    second.leave(); // then fails (its deadline passed)
    second.leave(); // idempotent
    const third = await c!;
    await settle();
    expect(granted).toEqual([0, 1, 2]); // exactly one slot came back
    first.leave(); // the finish slot is free again; third takes it at once
    third.rendered();
    const fourth = await d!;
    expect(granted).toEqual([0, 1, 2, 3]);
    fourth.leave();
    third.leave();
  });

  test("behavior: a segment that fails before its last frame gives the render slot straight back", async () => {
    const overlap = new RenderOverlap(1);
    const granted: number[] = [];
    const [a, b] = enterAll(overlap, 2, granted);
    (await a!).leave();
    (await b!).leave();
    expect(granted).toEqual([0, 1]);
  });

  test("error: a wait for a slot ends with the signal's reason, and takes no slot", async () => {
    const slots = new Slots(1);
    expect(slots.tryAcquire()).toBe(true);
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);
    controller.abort(new Error("deadline"));
    await expect(waiting).rejects.toThrow("deadline");
    slots.release();
    expect(slots.tryAcquire()).toBe(true); // the aborted waiter did not take it
    expect(slots.tryAcquire()).toBe(false);
    expect(() => new Slots(0)).toThrow(RangeError);
  });
});
