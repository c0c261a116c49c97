import { Wallet } from "ethers";
import { afterEach, describe, expect, it } from "vitest";
import { announceMessage, createLogger } from "@rendermesh/shared";
import type { ChainView } from "../src/chain/types.js";
import { ProviderDirectory } from "../src/directory/index.js";
import { MODEL, openStore } from "./helpers/fixtures.js";

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

// A unit test of the directory's cache: the chain is a stub that binds no peer.
const unboundChain = {
  providerOfPeer: async () => `0x${"00".repeat(20)}`,
  getProvider: async () => ({ registered: false, peerId: "0x", stake: 0n, askPerSecond: 0n, models: [] }),
  isActive: async () => false,
} as unknown as ChainView;

async function strangerAnnounce(i: number) {
  const w = Wallet.createRandom();
  const peer = `12D3KooWStranger${String(i).padStart(30, "0")}`;
  const timestamp = Date.now();
  const msg = {
    type: "announce" as const,
    address: w.address as `0x${string}`,
    models: [MODEL],
    askPerSecond: 1n,
    capacity: 1,
    benchmarkFps: 1,
    device: "cpu" as const,
    active: 0,
    agent: "x",
    timestamp,
    signature: (await w.signMessage(announceMessage(peer, w.address, timestamp))) as `0x${string}`,
  };
  return { msg, peer };
}

describe("ProviderDirectory", () => {
  it("behavior: on-chain lookups of strangers' peer ids are cached in a bounded LRU", async () => {
    const { store, cleanup } = openStore();
    cleanups.push(cleanup);
    const directory = new ProviderDirectory(
      { store, chain: unboundChain, log: createLogger({ name: "test", level: "silent" }) },
      { maxBindings: 8 },
    );
    for (let i = 0; i < 40; i++) {
      const { msg, peer } = await strangerAnnounce(i);
      await expect(directory.admit(msg, peer, new TextEncoder().encode(peer), [])).rejects.toMatchObject({ reason: "NOT_REGISTERED" });
      expect(directory.cachedBindings).toBeLessThanOrEqual(8);
    }
    expect(directory.cachedBindings).toBe(8);
  });

  it("behavior: a chain that stops answering keeps a known provider on its last binding instead of refusing its announcement", async () => {
    const { store, cleanup } = openStore();
    cleanups.push(cleanup);
    const w = Wallet.createRandom();
    const peer = "12D3KooWKnownProvider00000000000000000000000000";
    // The stub chain answers until the test stalls it; then reads never settle, as with a SIGSTOPped node.
    let stalled = false;
    const never = new Promise<never>(() => undefined);
    const chain = {
      providerOfPeer: async () => (stalled ? never : w.address),
      getProvider: async () =>
        stalled ? never : { registered: true, peerId: "0x", stake: 1n, askPerSecond: 1n, models: [MODEL.toLowerCase()] },
      isActive: async () => (stalled ? never : true),
    } as unknown as ChainView;
    let clock = Date.now();
    const warnings: string[] = [];
    const log = createLogger({ name: "test", level: "silent" });
    log.warn = ((_o: unknown, msg: string) => void warnings.push(msg)) as typeof log.warn;
    const directory = new ProviderDirectory({ store, chain, log }, { bindingTtlMs: 1_000, chainWaitMs: 50, now: () => clock });
    const announce = async () => {
      const msg = {
        type: "announce" as const,
        address: w.address as `0x${string}`,
        models: [MODEL],
        askPerSecond: 1n,
        capacity: 1,
        benchmarkFps: 1,
        device: "cpu" as const,
        active: 0,
        agent: "x",
        timestamp: clock,
        signature: (await w.signMessage(announceMessage(peer, w.address, clock))) as `0x${string}`,
      };
      return directory.admit(msg, peer, new TextEncoder().encode(peer), []);
    };
    await announce();
    stalled = true;
    clock += 5_000; // the binding has expired: the next announcement needs the chain
    const kept = await announce();
    expect(kept.address).toBe(w.address.toLowerCase());
    expect(warnings).toEqual(["the chain does not answer; keeping the provider on its last known on-chain binding"]);
    // Heard from now: it does not expire for the chain's silence.
    expect(directory.expire()).toEqual([]);
    expect(directory.get(w.address)?.lastSeen).toBe(clock);
  });
});
