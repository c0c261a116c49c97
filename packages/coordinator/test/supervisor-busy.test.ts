import { afterEach, describe, expect, it } from "vitest";
import type { Logger, RenderDelivered, RenderRequest } from "@rendermesh/shared";
import type { LiveProvider, ProviderDirectory } from "../src/directory/index.js";
import { RenderError } from "../src/errors.js";
import type { CoordinatorStore } from "../src/store/index.js";
import { Supervisor, type RenderDispatcher, type SupervisorComponents } from "../src/supervisor/index.js";
import { addProvider, assignment, delivery, JOB_ID, newJob, openStore, P1, P2, spec } from "./helpers/fixtures.js";

/**
 * The supervisor against a real store, with a fake directory and a seam for
 * the providers: each render call waits until the test answers it (a
 * delivery, a BUSY refusal, a failure), so no test depends on timing. The
 * clock is the test's; the loop runs only when the test kicks it.
 */

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

interface Call {
  provider: string;
  request: RenderRequest;
  resolve: (d: RenderDelivered) => void;
  reject: (err: unknown) => void;
}

class SeamDispatcher implements RenderDispatcher {
  readonly calls: Call[] = [];

  render(_target: { peerId: string }, request: RenderRequest): Promise<RenderDelivered> {
    return new Promise<RenderDelivered>((resolve, reject) => {
      this.calls.push({ provider: request.assignment.provider.toLowerCase(), request, resolve, reject });
    });
  }

  /**
   * The `n`th render call (1-based). A settled loop has made every call it
   * decided on (the dispatch is synchronous after signing), so none is waited for.
   */
  call(n: number): Call {
    expect(this.calls.length, `render calls made so far`).toBeGreaterThanOrEqual(n);
    return this.calls[n - 1]!;
  }
}

function live(address: string): LiveProvider {
  return {
    address,
    peerId: `peer-${address.slice(2, 6)}`,
    ask: 100n,
    models: new Set([spec().model]),
    capacity: 1,
    benchmarkFps: 100,
    device: "cpu",
    agent: "test",
    multiaddrs: [],
    lastSeen: 0,
    speedFps: 100,
    reliability: 0.9,
  };
}

function fakeDirectory(providers: LiveProvider[]): ProviderDirectory {
  const byAddress = new Map(providers.map((p) => [p.address, p]));
  const directory = {
    expire: () => [],
    drop: (a: string) => byAddress.delete(a),
    get: (a: string) => byAddress.get(a.toLowerCase()),
    liveProviders: () => [...byAddress.values()],
    touch: () => undefined,
    refresh: () => undefined,
  };
  return directory as unknown as ProviderDirectory;
}

function recordingLog(): Logger & { errors: unknown[] } {
  const errors: unknown[] = [];
  const log = {
    errors,
    error: (obj: unknown) => errors.push(obj),
    warn: () => undefined,
    info: () => undefined,
    debug: () => undefined,
  };
  return log as unknown as Logger & { errors: unknown[] };
}

function setup(providers: string[]) {
  let now = 1_000_000;
  const opened = openStore({ now: () => now });
  const store: CoordinatorStore = opened.store;
  for (const p of providers) addProvider(store, p);
  store.insertJob(newJob({ spec: spec({ seconds: 1 }) }));
  const dispatcher = new SeamDispatcher();
  const log = recordingLog();
  const components: SupervisorComponents = {
    store,
    directory: fakeDirectory(providers.map(live)),
    chain: {
      chainId: 31337,
      escrow: `0x${"ee".repeat(20)}`,
      coordinator: `0x${"cd".repeat(20)}`,
      signAssignment: async () => assignment(JOB_ID, 0, P1).signature,
      signAllocation: undefined,
      recoverDelivery: () => dispatcher.calls.at(-1)!.provider,
    },
    dispatcher,
    log,
  };
  // The interval never fires within a test: the loop runs when the test kicks it.
  const supervisor = new Supervisor(components, { tickMs: 3_600_000, now: () => now });
  cleanup = async () => {
    await supervisor.stop();
    opened.cleanup();
  };
  const tick = async () => {
    supervisor.kick();
    await supervisor.settled();
  };
  const advance = (ms: number) => (now += ms);
  return { store, dispatcher, log, supervisor, tick, advance };
}

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
