import { expect } from "vitest";
import type { Logger, RenderDelivered, RenderRequest } from "@rendermesh/shared";
import type { LiveProvider, ProviderDirectory } from "../../src/directory/index.js";
import type { CoordinatorStore } from "../../src/store/index.js";
import { Supervisor, type RenderDispatcher, type SupervisorComponents } from "../../src/supervisor/index.js";
import { addProvider, assignment, JOB_ID, newJob, openStore, P1, spec } from "./fixtures.js";

/**
 * The supervisor against a real store, with a fake directory and a seam for
 * the providers: each render call waits until the test answers it (a
 * delivery, a BUSY refusal, a failure), so no test depends on timing. The
 * clock is the test's; the loop runs only when the test kicks it.
 */

let cleanup: (() => Promise<void>) | undefined;
/** Stops the last supervisor `setup` started and removes its store (an `afterEach`). */
export async function cleanupSupervisor(): Promise<void> {
  await cleanup?.();
  cleanup = undefined;
}

interface Call {
  provider: string;
  request: RenderRequest;
  resolve: (d: RenderDelivered) => void;
  reject: (err: unknown) => void;
}

class SeamDispatcher implements RenderDispatcher {
  readonly calls: Call[] = [];
  /** The provider of the call the test answered last with a delivery: the receipt's signer. */
  resolvedBy: string | undefined;

  render(_target: { peerId: string }, request: RenderRequest): Promise<RenderDelivered> {
    return new Promise<RenderDelivered>((resolve, reject) => {
      const provider = request.assignment.provider.toLowerCase();
      const deliver = (d: RenderDelivered) => {
        this.resolvedBy = provider;
        resolve(d);
      };
      this.calls.push({ provider, request, resolve: deliver, reject });
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

export interface SupervisorSeam {
  store: CoordinatorStore;
  dispatcher: SeamDispatcher;
  log: Logger & { errors: unknown[] };
  supervisor: Supervisor;
  /** One turn of the loop, waited out. */
  tick(): Promise<void>;
  /** Moves the test's clock on. */
  advance(ms: number): number;
}

/** A store with `providers` and one job of `seconds` (1) segments, and a supervisor over it that runs when kicked. */
export function setup(providers: string[], options: { seconds?: number } = {}): SupervisorSeam {
  let now = 1_000_000;
  const opened = openStore({ now: () => now });
  const store: CoordinatorStore = opened.store;
  for (const p of providers) addProvider(store, p);
  store.insertJob(newJob({ spec: spec({ seconds: options.seconds ?? 1 }) }));
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
      // The receipt's signer: the provider of the call the test answered (answer one call per tick).
      recoverDelivery: () => dispatcher.resolvedBy ?? dispatcher.calls.at(-1)!.provider,
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
