import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { hardhatAccount, startHardhatNode, untilChain, type HardhatNode } from "../src/index.js";

describe("untilChain", () => {
  let node: HardhatNode;
  beforeAll(async () => {
    node = await startHardhatNode();
  }, 120_000);
  afterAll(async () => {
    await node?.stop();
  });

  test("default: a check that holds already resolves with its value", async () => {
    const height = await node.provider.getBlockNumber();
    expect(await untilChain(node.rpcUrl, "block", async () => node.provider.getBlockNumber())).toBe(height);
  });

  /** A promise the check resolves on its first ask (by then the subscription is live), and the hook to call. */
  function firstAsk(): { asked: Promise<void>; ask: () => void } {
    let ask!: () => void;
    const asked = new Promise<void>((r) => (ask = r));
    return { asked, ask };
  }

  test("behavior: a check that does not hold yet is asked again when the next block arrives, and resolves then", async () => {
    const start = await node.provider.getBlockNumber();
    const first = firstAsk();
    const asked: number[] = [];
    const waiting = untilChain(node.rpcUrl, "block", async () => {
      const n = await node.provider.getBlockNumber();
      asked.push(n);
      first.ask();
      return n > start ? n : undefined;
    });
    await first.asked; // it said no at once
    await node.provider.send("evm_mine", []);
    expect(await waiting).toBe(start + 1);
    expect(asked).toEqual([start, start + 1]);
  });

  test("behavior: 'pending' wakes on a transaction entering the mempool, with no block mined", async () => {
    await node.provider.send("evm_setAutomine", [false]);
    try {
      const wallet = hardhatAccount(7, node.provider);
      const first = firstAsk();
      const inPool = untilChain(node.rpcUrl, "pending", async () => {
        first.ask();
        const block = (await node.provider.send("eth_getBlockByNumber", ["pending", false])) as { transactions: string[] };
        return block.transactions[0];
      });
      await first.asked; // the mempool was empty
      const sent = await wallet.sendTransaction({ to: wallet.address, value: 1n });
      expect(await inPool).toBe(sent.hash);
    } finally {
      await node.provider.send("evm_setAutomine", [true]);
      await node.provider.send("evm_mine", []);
    }
  });

  test("error: a check that throws counts as not yet; the caller's signal ends the wait with its reason", async () => {
    const controller = new AbortController();
    const first = firstAsk();
    const waiting = untilChain(
      node.rpcUrl,
      "block",
      async () => {
        first.ask();
        throw new Error("the escrow still refuses");
      },
      { signal: controller.signal },
    );
    await first.asked;
    controller.abort(new Error("the test gave up"));
    await expect(waiting).rejects.toThrow("the test gave up");
  });
});
