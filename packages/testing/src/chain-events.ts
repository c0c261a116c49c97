// Waiting on the chain's own events instead of asking it on a timer: a
// WebSocket subscription to the node (eth_subscribe) pushes each new block or
// each transaction entering the mempool, and the condition is asked again
// only then. Nothing here sets a deadline; the caller's signal or the test's
// timeout ends a wait that never holds.
import { WebSocketProvider } from "ethers";

/** What wakes the check: a new block (`newHeads`), or a new transaction in the node's mempool. */
export type ChainWakeup = "block" | "pending";

export interface UntilChainOptions {
  /** Ends the wait (rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** The node's WebSocket endpoint: Hardhat serves JSON-RPC over HTTP and WebSocket on one port. */
export function webSocketUrl(rpcUrl: string): string {
  return rpcUrl.replace(/^http/, "ws");
}

/**
 * Resolves with what `check` returns once that is neither `undefined` nor `false`. `check` is asked once the
 * subscription is live and then again after each `wakeup` event, one at a time; a `check` that throws counts as
 * "not yet" (state that is still being reached, such as a refund the escrow still refuses).
 *
 * @example
 * await untilChain(dev.rpcUrl, "block", async () => (await escrow.getClaim(jobId, 0)).status === PAID);
 */
export async function untilChain<T>(
  rpcUrl: string,
  wakeup: ChainWakeup,
  check: () => Promise<T | undefined | false>,
  options: UntilChainOptions = {},
): Promise<T> {
  options.signal?.throwIfAborted();
  const ws = new WebSocketProvider(webSocketUrl(rpcUrl));
  let onEvent: (() => void) | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      let running = false;
      let again = false;
      let done = false;
      const ask = async (): Promise<void> => {
        if (done) return;
        if (running) {
          again = true; // an event came while asking: ask once more after this one
          return;
        }
        running = true;
        try {
          do {
            again = false;
            const v = await check().catch(() => undefined);
            if (v !== undefined && v !== false) {
              done = true;
              resolve(v);
              return;
            }
          } while (again && !done);
        } finally {
          running = false;
        }
      };
      onEvent = () => void ask();
      onAbort = () => {
        done = true;
        reject(options.signal!.reason);
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      void (async () => {
        await ws.on(wakeup, onEvent!);
        // A request answered after eth_subscribe on the same socket: the subscription is live from here, so an
        // event between this and the first check is not lost.
        await ws.send("eth_blockNumber", []);
        await ask();
      })().catch((err: unknown) => {
        done = true;
        reject(err instanceof Error ? err : new Error(String(err)));
      });
    });
  } finally {
    if (onAbort) options.signal?.removeEventListener("abort", onAbort);
    // destroy() alone: it drops the subscriptions as destroyed, while an off() first would send an
    // eth_unsubscribe that the closing socket then cancels (an unhandled rejection).
    await ws.destroy();
  }
}
