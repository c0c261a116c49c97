// A provider whose assignment deadline passes while its segment is being
// pinned: the segment fails cleanly (the coordinator hears an error, the
// journal gives the segment back as timed out) and the process lives on
// to render the next one. Before the pin walk was made sequential, Helia's
// walker let that deadline escape as an unhandled TimeoutError, which ends
// a Node process.
import type { JobSpec } from "@rendermesh/shared";
import type { CID } from "multiformats/cid";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { FakeCoordinator, type TestChain } from "@rendermesh/testing";
import { startProvider, type Provider } from "../src/provider.js";
import { MODEL_ID, startChain, tempDir, testConfig, testLogger } from "./helpers/provider.js";

describe("provider: a pin cut off by the assignment's deadline", () => {
  let chain: TestChain;
  let provider: Provider;
  let coordinator: FakeCoordinator;
  let target: string;
  const cleanups: Array<() => void> = [];
  /** While set, every block read waits until its caller's signal aborts (a pin that cannot finish in time). */
  let hold = false;
  let entered: (() => void) | undefined;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    chain = await startChain();
    const c = tempDir("rm-coord-");
    cleanups.push(c.cleanup);
    coordinator = await new FakeCoordinator(chain, { dataDir: c.dir }).start();
    const data = tempDir();
    cleanups.push(data.cleanup);
    provider = await startProvider({
      config: testConfig(chain, data.dir),
      privateKey: chain.providers[2]!.privateKey,
      logger: testLogger(),
      wrapBlockstore: (blockstore) =>
        new Proxy(blockstore, {
          get(t, prop) {
            if (prop === "get") {
              return async function* (cid: CID, options: { signal?: AbortSignal } = {}) {
                if (!hold) return yield* t.get(cid, options);
                entered?.();
                const signal = options.signal;
                if (!signal) throw new Error("a block read without a signal cannot be cut off");
                await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
                throw signal.reason as Error;
              };
            }
            const value = Reflect.get(t, prop, t) as unknown;
            return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(t) : value;
          },
        }),
    });
    await provider.payments.stop();
    target = `${provider.multiaddrs()[0]!}/p2p/${provider.peerId}`.replace(/\/p2p\/[^/]+\/p2p\//, "/p2p/");
  }, 240_000);

  afterAll(async () => {
    process.off("unhandledRejection", onUnhandled);
    await provider?.stop();
    await coordinator?.stop();
    await chain?.stop();
    for (const c of cleanups) c();
  }, 60_000);

  const spec: JobSpec = { v: 1, model: MODEL_ID, prompt: "a kite over dunes", seed: 41, seconds: 2, fps: 4, width: 64, height: 64 };

  test("error: the segment is given back as timed out, no rejection goes unhandled, and the next segment renders", async () => {
    const { jobId } = await chain.openJob({ spec, deadlineIn: 1_800 });
    hold = true;
    const pinning = new Promise<void>((resolve) => (entered = resolve));
    // The deadline only bounds the render; the test waits on the pin being reached and on the provider's answer.
    const replies = coordinator.render(
      target,
      await coordinator.signedRequest(jobId, spec, 0, provider.address, { deadline: Math.floor(Date.now() / 1000) + 8 }),
    );
    await pinning;
    const answer = await replies;
    expect(answer[answer.length - 1]).toMatchObject({ type: "error" });
    expect(provider.journal.getAssignment(jobId, 0)).toMatchObject({ state: "released", releaseReason: "timeout" });
    // Every callback the abort queued has run: an unhandled rejection would have been reported by now.
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);

    hold = false;
    const next = await coordinator.render(target, await coordinator.signedRequest(jobId, spec, 1, provider.address));
    expect(next[next.length - 1]).toMatchObject({ type: "delivered" });
  }, 120_000);
});
