// A segment paid twice: the client verified provider A's copy of segment 0 and paid A by voucher; B, whose
// speculative copy of the same segment lost, claims it once its assignment lapses, reserving the job's last second
// (so A's voucher could not be redeemed in full). The client's claim watcher answers with attributeSegment, the
// client's voucher to A and A's signed assignment and delivery receipt from its journal: B's claim is dropped, B is
// paid nothing for the segment, and A is paid in full (in the same transaction when A had not redeemed yet). On a
// real Hardhat node.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import type { Wallet } from "ethers";
import { JsonRpcProvider, NonceManager, sha256, toUtf8Bytes } from "ethers";
import { CID } from "multiformats/cid";
import { create as digest } from "multiformats/hashes/digest";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { JobSpec, SignedAssignment, SignedDelivery } from "@rendermesh/shared";
import { assignmentStruct, ClaimStatus, connectContracts, deliveryStruct, signDelivery } from "@rendermesh/shared/chain";
import { startTestChain, tempDir, type TestChain } from "@rendermesh/testing";
import { attributeClaims, watchClaims, type AttributeClaimsReturnType } from "../src/actions/attributeClaims.js";
import { Journal } from "../src/journal/journal.js";
import { runCli } from "./support/cli.js";

const MESH = 10n ** 18n;
const MODEL = `0x${"42".repeat(32)}` as const;
const STAKE = 500n * MESH;

describe("the client attributes a segment it paid by voucher", { timeout: 180_000 }, () => {
  let chain: TestChain;
  let rpc: JsonRpcProvider;
  const dir = tempDir("rm-attribute-");

  beforeAll(async () => {
    chain = await startTestChain({ allowedModels: [MODEL], disputeWindow: 60n, claimWindow: 600n });
    // Fast event polling for the watcher (the library's own filter polling; nothing here waits on a clock).
    rpc = new JsonRpcProvider(chain.rpcUrl, undefined, { pollingInterval: 50, cacheTimeout: -1 });
    for (const [i, p] of chain.providers.slice(0, 2).entries()) {
      const c = connectContracts(new NonceManager(p), chain.deployment);
      await (await c.token.approve(chain.deployment.registry, STAKE)).wait();
      await (await c.registry.register(`0x0${i + 1}`, MESH, [MODEL], STAKE)).wait();
    }
  }, 180_000);

  afterAll(async () => {
    rpc?.destroy();
    await chain?.stop();
    dir.cleanup();
  }, 60_000);

  const spec = (seed: number): JobSpec => ({
    v: 1,
    model: MODEL,
    prompt: "gulls over a pier",
    seed,
    seconds: 2,
    fps: 4,
    width: 64,
    height: 64,
  });

  /** A coordinator-signed assignment of `segment` to `provider` and the provider's signed delivery of it. */
  async function delivered(jobId: `0x${string}`, segment: number, provider: Wallet, deadline: number, copy: string) {
    const assignment = { jobId, segment, firstFrame: segment * 4, frameCount: 4, provider: provider.address as `0x${string}`, deadline };
    const hash = sha256(toUtf8Bytes(`${copy} ${segment}`)) as `0x${string}`;
    const cid = CID.createV1(0x55, digest(0x12, Buffer.from(hash.slice(2), "hex"))).toString();
    const delivery = { jobId, segment, cid, sha256: hash, frameCount: 4 };
    const signedAssignment: SignedAssignment = { assignment, signature: await chain.signAssignment(assignment) };
    const signedDelivery: SignedDelivery = { delivery, signature: await signDelivery(provider, chain.domain, delivery) };
    return { assignment: signedAssignment, delivery: signedDelivery };
  }

  /** The client's journal, as after a run that verified A's copy of every segment. */
  async function journalWith(
    jobId: `0x${string}`,
    s: JobSpec,
    segments: Array<Awaited<ReturnType<typeof delivered>>>,
    vouchers: Array<{ provider: string; seconds: number }>,
    at = mkdtempSync(join(dir.dir, "journal-")),
  ): Promise<Journal> {
    const journal = Journal.open(at);
    const ref = jobId; // any key: the open transaction's hash in a real run
    journal.createJob({
      ref,
      jobId,
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      client: chain.client.address,
      coordinator: chain.coordinator.address,
      coordinatorPeer: { peerId: undefined, multiaddrs: [] },
      spec: s,
      specHash: `0x${"00".repeat(32)}`,
      pricePerSecond: MESH,
      deposit: 2n * MESH,
      deadline: 0,
      policyVersion: 1n,
      coordinatorFeeBps: 500,
      treasuryFeeBps: 100,
      outDir: dir.dir,
      createdAt: Date.now(),
    });
    journal.setPhase(ref, "open", { jobId, openedAt: Date.now(), outDir: dir.dir });
    for (const seg of segments) {
      journal.addVerified(ref, {
        segment: seg.assignment.assignment.segment,
        provider: seg.assignment.assignment.provider,
        peerId: "",
        multiaddrs: [],
        cid: seg.delivery.delivery.cid,
        sha256: seg.delivery.delivery.sha256,
        assignment: seg.assignment,
        delivery: seg.delivery,
        psnrDb: Infinity,
        sampledFrames: [],
        file: "",
        bytes: 0,
        deliveredAt: Date.now(),
        fetchMs: 0,
        verifyMs: 0,
        verifiedAt: Date.now(),
      });
    }
    for (const v of vouchers) {
      const signature = await chain.signVoucher({ jobId, provider: v.provider, seconds: v.seconds });
      journal.putVoucher(ref, { ...v, signature, signedAt: Date.now(), ackedAt: undefined });
    }
    return journal;
  }

  async function redeemFor(jobId: `0x${string}`, provider: Wallet, seconds: number) {
    const voucher = { jobId, provider: provider.address, seconds };
    const allocationSig = await chain.signAllocation({ jobId, provider: provider.address, seconds });
    const escrow = connectContracts(new NonceManager(provider), chain.deployment).escrow;
    const v = { jobId, provider: provider.address, totalSeconds: BigInt(seconds) };
    await (await escrow.redeem(v, await chain.signVoucher(voucher), seconds, allocationSig)).wait();
  }

  test("behavior: B claims a segment A was paid for by voucher; the watcher attributes it, B's claim is dropped and B is paid nothing", async () => {
    const [a, b] = [chain.providers[0]!, chain.providers[1]!];
    const s = spec(1);
    const { jobId } = await chain.openJob({ spec: s, deadlineIn: 3_600 });
    const lapse = (await chain.chainTime()) + 60;
    const verifiedCopies = [await delivered(jobId, 0, a, lapse, "a"), await delivered(jobId, 1, a, lapse, "a")];
    const losing = await delivered(jobId, 0, b, lapse, "b");
    const journal = await journalWith(jobId, s, verifiedCopies, [{ provider: a.address, seconds: 1 }]);
    const client = { contracts: connectContracts(new NonceManager(chain.client.connect(rpc)), chain.deployment), journal, provider: rpc };
    const escrow = chain.contracts.escrow;

    // A was paid by voucher for its first second (segment 0).
    await redeemFor(jobId, a, 1);
    const lockedBefore = await chain.contracts.registry.lockedStake(b.address);

    const passes: AttributeClaimsReturnType[] = [];
    let attributed!: () => void;
    const done = new Promise<void>((resolve) => (attributed = resolve));
    const watcher = watchClaims(client, {
      jobId,
      onPass: (r) => {
        passes.push(r);
        if (r.attributed.length > 0) attributed();
      },
      onError: (err) => passes.push({ attributed: [], waiting: [{ segment: -1, provider: "", claimant: "", reason: String(err) }] }),
    });
    try {
      // B's assignment lapses; B claims segment 0 with its own copy.
      await chain.increaseTime(61);
      const bEscrow = connectContracts(new NonceManager(b), chain.deployment).escrow;
      await (
        await bEscrow.claim(
          assignmentStruct(losing.assignment.assignment),
          losing.assignment.signature,
          deliveryStruct(losing.delivery.delivery),
          losing.delivery.signature,
        )
      ).wait();
      expect(Number((await escrow.getClaim(jobId, 0)).status)).toBe(ClaimStatus.Pending);
      await done;
    } finally {
      await watcher.stop();
    }
    expect(passes.flatMap((p) => p.attributed)).toEqual([
      { segment: 0, provider: a.address, dropped: b.address, txHash: expect.stringMatching(/^0x[0-9a-f]{64}$/) },
    ]);
    const claim = await escrow.getClaim(jobId, 0);
    expect(claim.provider).toBe(a.address);
    expect(Number(claim.status)).toBe(ClaimStatus.Paid);
    // B's stake is unlocked again and B cannot finalise the dropped claim, even after the dispute window.
    expect(await chain.contracts.registry.lockedStake(b.address)).toBe(lockedBefore);
    await chain.increaseTime(61);
    await expect(escrow.finalizeClaim.staticCall(jobId, 0)).rejects.toThrow();
    expect(await escrow.paidSeconds(jobId, b.address)).toBe(0n);
    expect(await escrow.balanceOf(b.address)).toBe(0n);
    // A's paid seconds are unchanged by the attribution; the second B had reserved is free again for A's voucher.
    expect(await escrow.paidSeconds(jobId, a.address)).toBe(1n);
    await redeemFor(jobId, a, 2);
    expect(await escrow.paidSeconds(jobId, a.address)).toBe(2n);
    // A second pass finds nothing more to do.
    expect(await attributeClaims(client, { jobId })).toEqual({ attributed: [], waiting: [] });
    journal.close();
  });

  test("behavior: a claim that took the last free second before A redeemed is attributed at once with the client's voucher, which pays A in full", async () => {
    const [a, b] = [chain.providers[0]!, chain.providers[1]!];
    const s = spec(2);
    const { jobId } = await chain.openJob({ spec: s, deadlineIn: 3_600 });
    const lapse = (await chain.chainTime()) + 60;
    const verifiedCopies = [await delivered(jobId, 0, a, lapse, "a"), await delivered(jobId, 1, a, lapse, "a")];
    // The allocation the coordinator signed with A's assignments (the escrow checks it when the voucher pays).
    for (const copy of verifiedCopies) {
      copy.assignment.allocation = { seconds: 2, signature: await chain.signAllocation({ jobId, provider: a.address, seconds: 2 }) };
    }
    const losing = await delivered(jobId, 0, b, lapse, "b");
    // The client paid A for both seconds; A has not redeemed its voucher.
    const journal = await journalWith(jobId, s, verifiedCopies, [{ provider: a.address, seconds: 2 }]);
    const unpaid = await journalWith(jobId, s, verifiedCopies, []);
    const client = { contracts: connectContracts(new NonceManager(chain.client.connect(rpc)), chain.deployment), journal, provider: rpc };
    await chain.increaseTime(61);
    const bEscrow = connectContracts(new NonceManager(b), chain.deployment).escrow;
    await (
      await bEscrow.claim(
        assignmentStruct(losing.assignment.assignment),
        losing.assignment.signature,
        deliveryStruct(losing.delivery.delivery),
        losing.delivery.signature,
      )
    ).wait();
    const escrow = chain.contracts.escrow;
    // B's claim reserved the second A's voucher needs: A's own redeem would fail now.
    await expect(redeemFor(jobId, a, 2)).rejects.toThrow();

    // A client that has signed A no voucher has nothing to attribute the segment with: it waits.
    const early = await attributeClaims({ ...client, journal: unpaid }, { jobId });
    expect(early).toEqual({
      attributed: [],
      waiting: [{ segment: 0, provider: a.address, claimant: b.address, reason: "no voucher signed" }],
    });
    unpaid.close();

    const r = await attributeClaims(client, { jobId });
    expect(r.attributed).toEqual([expect.objectContaining({ segment: 0, provider: a.address, dropped: b.address })]);
    expect(r.waiting).toEqual([]);
    // A is paid its whole voucher, B nothing; the segment is paid once.
    expect(await escrow.paidSeconds(jobId, a.address)).toBe(2n);
    expect(await escrow.paidSeconds(jobId, b.address)).toBe(0n);
    expect(Number((await escrow.getClaim(jobId, 0)).status)).toBe(ClaimStatus.Paid);
    const job = await escrow.getJob(jobId);
    expect([job.paidSeconds, job.reservedSeconds, job.pendingClaims]).toEqual([2n, 0n, 0n]);
    expect(await attributeClaims(client, { jobId })).toEqual({ attributed: [], waiting: [] });
    journal.close();
  });

  test("default: `rendermesh job attribute <jobId> --json` attributes from the client's journal, and a second run finds nothing", async () => {
    const [a, b] = [chain.providers[0]!, chain.providers[1]!];
    const s = spec(3);
    const { jobId } = await chain.openJob({ spec: s, deadlineIn: 3_600 });
    const lapse = (await chain.chainTime()) + 60;
    const verifiedCopies = [await delivered(jobId, 0, a, lapse, "a"), await delivered(jobId, 1, a, lapse, "a")];
    const losing = await delivered(jobId, 0, b, lapse, "b");
    const dataDir = mkdtempSync(join(dir.dir, "cli-"));
    (await journalWith(jobId, s, verifiedCopies, [{ provider: a.address, seconds: 1 }], dataDir)).close();
    await redeemFor(jobId, a, 1);
    await chain.increaseTime(61);
    const bEscrow = connectContracts(new NonceManager(b), chain.deployment).escrow;
    await (
      await bEscrow.claim(
        assignmentStruct(losing.assignment.assignment),
        losing.assignment.signature,
        deliveryStruct(losing.delivery.delivery),
        losing.delivery.signature,
      )
    ).wait();
    const env = {
      RENDERMESH_DEV_FILE: join(dir.dir, "no-dev.json"),
      RENDERMESH_RPC_URL: chain.rpcUrl,
      RENDERMESH_DEPLOYMENT: chain.deploymentFile,
      RENDERMESH_PRIVATE_KEY: chain.client.privateKey,
      RENDERMESH_KEYSTORE: undefined,
      RENDERMESH_COORDINATOR: undefined,
      RENDERMESH_DATA_DIR: dataDir,
      RENDERMESH_LOG_LEVEL: "silent",
    };
    const r = await runCli(["job", "attribute", jobId, "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      jobId,
      attributed: [{ segment: 0, provider: a.address, dropped: b.address }],
      waiting: [],
    });
    expect(Number((await chain.contracts.escrow.getClaim(jobId, 0)).status)).toBe(ClaimStatus.Paid);
    const again = await runCli(["job", "attribute", jobId], env);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^No other provider claims a segment this client verified\.$/m);
  });
});
