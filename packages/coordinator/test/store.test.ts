import { afterEach, describe, expect, it } from "vitest";
import { JobEvent } from "@rendermesh/shared";
import { CoordinatorStore, type StoredEvent } from "../src/store/index.js";
import { addProvider, assignment, delivery, JOB_ID, newJob, openStore, P1, P2, P3, spec } from "./helpers/fixtures.js";

let cleanup: (() => void) | undefined;
afterEach(() => {
  cleanup?.();
  cleanup = undefined;
});

function setup(maxTries = 3) {
  const s = openStore({ maxTries });
  cleanup = s.cleanup;
  for (const p of [P1, P2, P3]) addProvider(s.store, p);
  return s;
}

const start = (store: CoordinatorStore, segment: number, provider: string, speculative = false) =>
  store.assign({
    jobId: JOB_ID,
    segment,
    provider,
    peerId: `peer-${provider.slice(2, 6)}`,
    speculative,
    assignment: assignment(JOB_ID, segment, provider),
    deadlineMs: Date.now() + 60_000,
    expectedMs: 1000,
  });

describe("store", () => {
  it("default: opens in WAL mode and records a job with pending segments and a job-accepted event", () => {
    const { store } = setup();
    expect(store.journalMode).toBe("wal");
    store.insertJob(newJob());
    expect(store.getJob(JOB_ID)?.status).toBe("running");
    expect(store.pendingSegments(JOB_ID)).toEqual([0, 1, 2, 3]);
    const events = store.events(JOB_ID);
    expect(events.map((e) => e.type)).toEqual(["job-accepted"]);
    expect(JobEvent.parse(events[0]).seq).toBe(1);
  });

  it("behavior: every event is a valid JobEvent with increasing seq, and listeners hear them after commit", () => {
    const { store } = setup();
    const heard: StoredEvent[] = [];
    store.onEvent((e) => heard.push(e));
    store.insertJob(newJob());
    const a = start(store, 0, P1);
    store.progress(a.id, 2, 4);
    expect(store.deliver(a.id, delivery(JOB_ID, 0), ["/ip4/127.0.0.1/tcp/1"])).toBe("shown");
    const events = store.events(JOB_ID);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    for (const e of events) JobEvent.parse(e);
    expect(heard.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(store.events(JOB_ID, 2).map((e) => e.type)).toEqual(["segment-progress", "segment-delivered"]);
  });

  it("behavior: a delivery waiting for its verdict is announced again under a new seq (a reopened store too), and the verdict then counts once", () => {
    const s = setup();
    const { store } = s;
    store.insertJob(newJob({ spec: spec({ seconds: 1 }) }));
    const a = start(store, 0, P1);
    store.deliver(a.id, delivery(JOB_ID, 0), ["/ip4/127.0.0.1/tcp/1"]);
    expect(store.shownAttempts().map((x) => x.id)).toEqual([a.id]);
    const first = store.events(JOB_ID).filter((e) => e.type === "segment-delivered");
    expect(store.reannounce(a.id)).toBe(true);
    const again = store.events(JOB_ID).filter((e) => e.type === "segment-delivered");
    expect(again).toHaveLength(2);
    expect(again[1]!.seq).toBeGreaterThan(first[0]!.seq);
    const { seq: _s1, at: _a1, ...body1 } = again[0]!;
    const { seq: _s2, at: _a2, ...body2 } = again[1]!;
    expect(body2).toEqual(body1);
    const v = { jobId: JOB_ID, segment: 0, provider: P1, cid: delivery(JOB_ID, 0).delivery.cid, ok: true };
    expect(store.verdict(v).outcome).toBe("verified");
    expect(store.verdict(v).outcome).toBe("already-verified");
    // Verified, or the job over: nothing left to ask about.
    expect(store.reannounce(a.id)).toBe(false);
    expect(store.shownAttempts()).toEqual([]);
  });

  it("behavior: a job completes when every segment has an ok verdict, and a repeated verdict counts once", () => {
    const { store } = setup();
    store.insertJob(newJob({ spec: spec({ seconds: 2 }) }));
    for (const i of [0, 1]) {
      const a = start(store, i, P1);
      store.deliver(a.id, delivery(JOB_ID, i), []);
    }
    const v0 = { jobId: JOB_ID, segment: 0, provider: P1, cid: delivery(JOB_ID, 0).delivery.cid, ok: true };
    expect(store.verdict(v0).outcome).toBe("verified");
    expect(store.verdict(v0).outcome).toBe("already-verified");
    expect(store.provider(P1)?.completed).toBe(1);
    const r = store.verdict({ ...v0, segment: 1 });
    expect(r.outcome).toBe("verified");
    expect(r.jobEnded).toBe(true);
    expect(store.getJob(JOB_ID)?.status).toBe("complete");
    expect(store.events(JOB_ID).at(-1)?.type).toBe("job-complete");
  });

  it("behavior: a speculative copy delivered second is held, superseded when the first verifies, and never shown", () => {
    const { store } = setup();
    store.insertJob(newJob({ spec: spec({ seconds: 1 }) }));
    const a = start(store, 0, P1);
    const b = start(store, 0, P2, true);
    expect(store.deliver(a.id, delivery(JOB_ID, 0, "a"), [])).toBe("shown");
    expect(store.deliver(b.id, delivery(JOB_ID, 0, "b"), [])).toBe("held");
    store.verdict({ jobId: JOB_ID, segment: 0, provider: P1, cid: delivery(JOB_ID, 0, "a").delivery.cid, ok: true });
    expect(store.attempt(b.id)?.status).toBe("superseded");
    expect(store.events(JOB_ID).filter((e) => e.type === "segment-delivered")).toHaveLength(1);
    // An ok verdict on the copy that was never the counted one changes nothing.
    expect(store.verdict({ jobId: JOB_ID, segment: 0, provider: P2, cid: delivery(JOB_ID, 0, "b").delivery.cid, ok: true }).outcome).toBe(
      "not-current",
    );
    expect(store.segment(JOB_ID, 0)?.verifiedAttempt).toBe(a.id);
  });

  it("behavior: a rejected copy brings the held one forward", () => {
    const { store } = setup();
    store.insertJob(newJob({ spec: spec({ seconds: 1 }) }));
    const a = start(store, 0, P1);
    const b = start(store, 0, P2, true);
    store.deliver(a.id, delivery(JOB_ID, 0, "a"), []);
    store.deliver(b.id, delivery(JOB_ID, 0, "b"), []);
    expect(
      store.verdict({ jobId: JOB_ID, segment: 0, provider: P1, cid: delivery(JOB_ID, 0, "a").delivery.cid, ok: false, message: "psnr" })
        .outcome,
    ).toBe("rejected");
    expect(store.attempt(b.id)?.status).toBe("shown");
    const types = store.events(JOB_ID).map((e) => e.type);
    expect(types.slice(-2)).toEqual(["segment-failed", "segment-delivered"]);
    expect(store.provider(P1)?.failed).toBe(1);
  });

  it("behavior: a failed attempt sends the segment back to pending until the tries run out, then the job fails", () => {
    const { store } = setup(3);
    store.insertJob(newJob({ spec: spec({ seconds: 2 }) }));
    for (const [n, p] of [
      [1, P1],
      [2, P2],
    ] as const) {
      const a = start(store, 0, p);
      const r = store.failAttempt(a.id, "TIMEOUT", "no answer");
      expect(r.failed).toBe(true);
      expect(store.segment(JOB_ID, 0)).toMatchObject({ status: "pending", tries: n });
    }
    const other = start(store, 1, P1);
    const last = start(store, 0, P3);
    const r = store.failAttempt(last.id, "BAD_SIGNATURE", "receipt does not verify");
    expect(r.jobEnded).toBe(true);
    expect(r.cancelled).toEqual([other.id]);
    const job = store.getJob(JOB_ID)!;
    expect(job.status).toBe("failed");
    expect(job.failCode).toBe("SEGMENT_FAILED");
    const failed = store.events(JOB_ID).filter((e) => e.type === "segment-failed");
    expect(failed.map((e) => (e as { willRetry: boolean }).willRetry)).toEqual([true, true, false]);
    expect(() => start(store, 1, P2)).toThrow(expect.objectContaining({ name: "InvalidTransitionError" }));
  });

  it("error: a fourth try or a second copy on the same provider is refused", () => {
    const { store } = setup(2);
    store.insertJob(newJob());
    const a = start(store, 0, P1);
    expect(() => start(store, 0, P1, true)).toThrow(expect.objectContaining({ name: "InvalidTransitionError" }));
    start(store, 0, P2, true);
    expect(() => start(store, 0, P3, true)).toThrow(/tries/);
    expect(store.failAttempt(a.id, "TIMEOUT", "x").failed).toBe(true);
    expect(store.failAttempt(a.id, "TIMEOUT", "x").failed).toBe(false);
  });

  it("behavior: state survives closing and reopening the database", () => {
    const s = setup();
    s.store.insertJob(newJob());
    const a = start(s.store, 2, P1);
    s.store.close();
    const again = CoordinatorStore.open(s.path);
    try {
      expect(again.getJob(JOB_ID)?.nextSeq).toBe(3);
      expect(again.activeAttempts().map((x) => x.id)).toEqual([a.id]);
      expect(again.pendingSegments(JOB_ID)).toEqual([0, 1, 3]);
    } finally {
      again.close();
    }
  });

  it("behavior: BUSY refusals burn no try and never reuse an attempt number; three counted tries still fail the job", () => {
    const { store } = setup();
    store.insertJob(newJob());
    // Refused BUSY twice before any try, then a failed try, a BUSY, two more failed tries.
    const outcomes: Array<"BUSY" | "TIMEOUT"> = ["BUSY", "BUSY", "TIMEOUT", "BUSY", "TIMEOUT", "TIMEOUT"];
    for (const [i, code] of outcomes.entries()) {
      const a = start(store, 0, [P1, P2, P3][i % 3]!);
      expect(a.attempt).toBe(i + 1);
      store.failAttempt(a.id, code, code === "BUSY" ? "busy" : "late");
    }
    expect(store.attempts(JOB_ID, 0).map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(store.segment(JOB_ID, 0)).toMatchObject({ status: "failed", tries: 3 });
    expect(store.getJob(JOB_ID)).toMatchObject({ status: "failed", failCode: "SEGMENT_FAILED" });
  });

  it("behavior: a BUSY on the first copy while a speculative copy runs gives its try back without a number clash", () => {
    const { store } = setup();
    store.insertJob(newJob());
    const first = start(store, 0, P1);
    const spec2 = start(store, 0, P2, true);
    store.failAttempt(first.id, "BUSY", "busy");
    expect(store.segment(JOB_ID, 0)).toMatchObject({ status: "active", tries: 1 });
    store.failAttempt(spec2.id, "TIMEOUT", "late");
    expect(store.segment(JOB_ID, 0)).toMatchObject({ status: "pending", tries: 1 });
    const third = start(store, 0, P3);
    expect([first.attempt, spec2.attempt, third.attempt]).toEqual([1, 2, 3]);
    expect(store.segment(JOB_ID, 0)).toMatchObject({ status: "active", tries: 2 });
    const assigned = store.events(JOB_ID).filter((e) => e.type === "segment-assigned");
    expect(assigned.map((e) => (e as StoredEvent & { attempt: number }).attempt)).toEqual([1, 2, 3]);
  });
});
