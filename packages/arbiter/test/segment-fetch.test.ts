import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { join } from "node:path";
import { createLogger } from "@rendermesh/shared";
import { createHeliaSegmentStore, segmentCid, type HeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { createMeshNode, type MeshNode } from "@rendermesh/shared/net";
import { defaultVerifierComponents, SegmentVerifier } from "@rendermesh/shared/verify";
import { sha256Hex, tempDir } from "@rendermesh/testing";
import { Arbiter, ArbiterJournal, ArbiterMetrics, type SpecSource } from "../src/index.js";
import { CLAIM_DISPUTED, CLAIM_PAID, CLAIM_REFUSED, disputeSpec, honestSegment as segmentOf, useDisputeChain } from "./helpers/disputes.js";

// The arbiter as it runs: it fetches the disputed segment over real libp2p (the blocks protocol) from the provider's own Helia node
// (libp2p TCP + Noise + Yamux on 127.0.0.1), on a real Hardhat chain with the real contracts. And what it does when
// the segment cannot be fetched: it never refuses (slashes) for that alone while its window lasts.

const spec = disputeSpec("a green hill under rain", 3);

const disputes = useDisputeChain();
let providerNode: MeshNode;
let providerStore: HeliaSegmentStore;
let arbiterNode: MeshNode;
let arbiterStore: HeliaSegmentStore;
const dir = tempDir("rm-arbiter-fetch-");
const silent = createLogger({ name: "arbiter-test", level: "silent" });
const honestSegment = (segment: number) => segmentOf(spec, segment);
const disputedClaim = (segment: number, receipt: { cid: string; sha256: `0x${string}` }) => disputes.disputedClaim(spec, segment, receipt);

/** The provider's addresses as the coordinator's `/api/providers` lists them. */
const providerAddrs = () => providerNode.getMultiaddrs().map(String);

function arbiter(journal: ArbiterJournal, over: Partial<ConstructorParameters<typeof Arbiter>[0]> = {}, specs?: SpecSource): Arbiter {
  const verifier = new SegmentVerifier(defaultVerifierComponents({ store: arbiterStore, spot: disputes.spot }), {
    fetchTimeoutMs: 2_000,
    fetchAttempts: 1,
    fetchBackoffMs: 10,
  });
  const chain = disputes.chain;
  return new Arbiter({
    contracts: chain.contracts,
    provider: chain.provider,
    chainId: chain.chainId,
    journal,
    metrics: new ArbiterMetrics({ defaultMetrics: false }),
    verifier,
    specs: specs ?? { spec: async () => spec, multiaddrs: async () => providerAddrs() },
    logger: silent,
    ...over,
  });
}

const claimOf = (jobId: string, segment: number) => disputes.claimOf(jobId, segment);
const stakeOf = (address: string) => disputes.stakeOf(address);

beforeAll(async () => {
  providerNode = await createMeshNode({ listen: ["/ip4/127.0.0.1/tcp/0"] });
  providerStore = await createHeliaSegmentStore({ libp2p: providerNode, dataDir: join(dir.dir, "provider-ipfs") });
  arbiterNode = await createMeshNode({ listen: ["/ip4/127.0.0.1/tcp/0"] });
  arbiterStore = await createHeliaSegmentStore({ libp2p: arbiterNode, dataDir: join(dir.dir, "arbiter-ipfs") });
});

afterAll(async () => {
  await arbiterStore?.stop();
  await arbiterNode?.stop();
  await providerStore?.stop();
  await providerNode?.stop();
  dir.cleanup();
});

describe("Arbiter fetching from the provider's IPFS node", () => {
  test("default: fetches the disputed segment from the provider's Helia node and pays the honest claim", async () => {
    const honest = await honestSegment(1);
    const cid = (await providerStore.add(honest)).toString();
    expect(cid).toBe((await segmentCid(honest)).toString());
    expect(await arbiterStore.has((await segmentCid(honest)) as never)).toBe(false); // only the provider holds it
    const jobId = await disputedClaim(1, { cid, sha256: sha256Hex(honest) });
    const journal = new ArbiterJournal(join(dir.dir, "a.db"));
    const outcomes = await arbiter(journal).catchUp();
    expect(outcomes.map((o) => [o.segment, o.verdict, o.reason])).toEqual([[1, "pay", "the segment passes the client's verification"]]);
    expect((await claimOf(jobId, 1)).status).toBe(CLAIM_PAID);
    journal.close();
  });

  test("behavior: a segment the provider cannot serve yet is not refused: tried again with backoff, and paid once it is served", async () => {
    const honest = await honestSegment(2);
    const cid = (await segmentCid(honest)).toString(); // the provider has not stored it (yet)
    const jobId = await disputedClaim(2, { cid, sha256: sha256Hex(honest) });
    const provider = disputes.chain.providers[0]!.address;
    const stake = await stakeOf(provider);
    let now = 1_000_000;
    const journal = new ArbiterJournal(join(dir.dir, "b.db"));
    const a = arbiter(journal, { now: () => now, online: async () => true, retry: { firstDelayMs: 5_000 } });

    const first = await a.catchUp();
    expect(first.map((o) => [o.segment, o.verdict])).toEqual([[2, "wait"]]);
    expect(first[0]!.reason).toMatch(/^fetch:/);
    expect((await claimOf(jobId, 2)).status).toBe(CLAIM_DISPUTED);
    expect(await stakeOf(provider)).toBe(stake); // nothing slashed for the fetch failure
    expect(journal.all().find((r) => r.segment === 2 && r.jobId === jobId.toLowerCase())).toMatchObject({
      attempts: 1,
      nextAt: now + 5_000,
    });

    // Before the backoff has passed, nothing is tried.
    now += 4_999;
    expect(await a.catchUp()).toEqual([]);
    // It fails again after it: the next wait is twice as long.
    now += 1;
    expect((await a.catchUp()).map((o) => o.verdict)).toEqual(["wait"]);
    expect(journal.all().find((r) => r.segment === 2 && r.jobId === jobId.toLowerCase())).toMatchObject({
      attempts: 2,
      nextAt: now + 10_000,
    });

    // The provider serves it now: the next try fetches it and pays.
    await providerStore.add(honest);
    now += 10_000;
    const paid = await a.catchUp();
    expect(paid.map((o) => [o.segment, o.verdict])).toEqual([[2, "pay"]]);
    expect((await claimOf(jobId, 2)).status).toBe(CLAIM_PAID);
    expect(await stakeOf(provider)).toBe(stake);
    journal.close();
  });

  test("behavior: unserved through the whole window it is refused only if the arbiter's own network works; else left, and the timeout pays", async () => {
    const missing = await honestSegment(3);
    const cid = (await segmentCid(missing)).toString(); // never stored by anyone
    const provider = disputes.chain.providers[0]!.address;
    const offlineJob = await disputedClaim(3, { cid, sha256: sha256Hex(missing) });
    const onlineFrom = (await disputes.chain.provider.getBlockNumber()) + 1;
    const onlineJob = await disputedClaim(3, { cid, sha256: sha256Hex(missing) });

    // The arbiter whose own network is down (its probe fails) leaves the dispute, even at the window's last try.
    const { deadlineAt } = await claimOf(offlineJob, 3);
    await disputes.chain.increaseTime(deadlineAt - (await disputes.chain.chainTime()) - 60);
    const offline = new ArbiterJournal(join(dir.dir, "c.db"));
    const down = await arbiter(offline, { online: async () => false }).catchUp();
    const left = down.find((o) => o.jobId.toLowerCase() === offlineJob.toLowerCase());
    expect([left?.verdict, left?.reason]).toEqual(["leave", expect.stringMatching(/own network check failed/)]);
    expect((await claimOf(offlineJob, 3)).status).toBe(CLAIM_DISPUTED);
    offline.close();

    // The arbiter whose network works refuses the segment nobody served all window, and slashes.
    const stake = await stakeOf(provider);
    const online = new ArbiterJournal(join(dir.dir, "d.db"));
    // (It starts after the other's dispute: each arbiter journal here stands for a different arbiter's view.)
    const up = await arbiter(online, { online: async () => true, fromBlock: onlineFrom }).catchUp();
    const refused = up.find((o) => o.jobId.toLowerCase() === onlineJob.toLowerCase());
    expect(refused?.verdict).toBe("refuse");
    expect((await claimOf(onlineJob, 3)).status).toBe(CLAIM_REFUSED);
    expect(await stakeOf(provider)).toBeLessThan(stake);
    online.close();

    // The left dispute times out in the provider's favour: anyone finalises it, and it is paid.
    await disputes.chain.increaseTime((await claimOf(offlineJob, 3)).deadlineAt - (await disputes.chain.chainTime()) + 1);
    await (await disputes.chain.contracts.escrow.finalizeClaim(offlineJob, 3)).wait();
    expect((await claimOf(offlineJob, 3)).status).toBe(CLAIM_PAID);
  });
});
