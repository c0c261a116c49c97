// The client's settle is sent with the same gas headroom as the provider's payments. The case it guards against: the
// settle's gas is estimated against a job nothing has been paid for yet, and a provider's redeem is ordered before it
// in the same block. The settle then reads the payment records a first payment skips and costs more than the
// estimate, so a limit cut to the estimate would run out of gas. Automine is off: the settle is held in the mempool
// and the redeem, with a higher tip, is mined ahead of it in one block (ordering, not timing). On a real Hardhat node.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { JsonRpcProvider, NonceManager, sha256, toUtf8Bytes, Transaction, type Wallet } from "ethers";
import { CID } from "multiformats/cid";
import { create as digest } from "multiformats/hashes/digest";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { JobSpec, SignedAssignment, SignedDelivery } from "@rendermesh/shared";
import { connectContracts, signAcknowledgement, signDelivery } from "@rendermesh/shared/chain";
import { startTestChain, tempDir, type TestChain } from "@rendermesh/testing";
import { settleEntries, settleJob } from "../src/actions/settleJob.js";
import { createRendermeshClient, type RendermeshClient } from "../src/client.js";

const MESH = 10n ** 18n;
const MODEL = `0x${"42".repeat(32)}` as const;

describe("settle: gas headroom", { timeout: 180_000 }, () => {
  let chain: TestChain;
  let rpc: JsonRpcProvider;
  let client: RendermeshClient;
  const dir = tempDir("rm-settle-gas-");

  beforeAll(async () => {
    chain = await startTestChain({ allowedModels: [MODEL] });
    rpc = new JsonRpcProvider(chain.rpcUrl, undefined, { cacheTimeout: -1 });
    client = await createRendermeshClient({
      wallet: chain.client.connect(rpc) as Wallet,
      deployment: chain.deployment,
      dataDir: mkdtempSync(join(dir.dir, "client-")),
    });
  }, 180_000);

  afterAll(async () => {
    await rpc?.send("evm_setAutomine", [true]).catch(() => undefined);
    await client?.close();
    rpc?.destroy();
    await chain?.stop();
    dir.cleanup();
  }, 60_000);

  /** The journal of a client that verified `segments` (segment → provider) and signed each provider an acknowledged voucher. */
  async function journalled(jobId: `0x${string}`, spec: JobSpec, segments: Wallet[]) {
    const ref = jobId;
    client.journal.createJob({
      ref,
      jobId,
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      client: chain.client.address,
      coordinator: chain.coordinator.address,
      coordinatorPeer: { peerId: undefined, multiaddrs: [] },
      spec,
      specHash: `0x${"00".repeat(32)}`,
      pricePerSecond: MESH,
      deposit: BigInt(spec.seconds) * MESH,
      deadline: 0,
      policyVersion: 1n,
      coordinatorFeeBps: 500,
      treasuryFeeBps: 100,
      outDir: dir.dir,
      createdAt: Date.now(),
    });
    client.journal.setPhase(ref, "open", { jobId, openedAt: Date.now(), outDir: dir.dir });
    const owned = new Map<Wallet, number>();
    for (const p of segments) owned.set(p, (owned.get(p) ?? 0) + 1);
    for (const [segment, p] of segments.entries()) {
      const seconds = owned.get(p)!;
      const assignment = { jobId, segment, firstFrame: segment * 4, frameCount: 4, provider: p.address as `0x${string}`, deadline: 0 };
      const hash = sha256(toUtf8Bytes(`copy ${segment}`)) as `0x${string}`;
      const cid = CID.createV1(0x55, digest(0x12, Buffer.from(hash.slice(2), "hex"))).toString();
      const delivery = { jobId, segment, cid, sha256: hash, frameCount: 4 };
      const signedAssignment: SignedAssignment = {
        assignment,
        signature: await chain.signAssignment(assignment),
        allocation: { seconds, signature: await chain.signAllocation({ jobId, provider: p.address, seconds }) },
      };
      const signedDelivery: SignedDelivery = { delivery, signature: await signDelivery(p, chain.domain, delivery) };
      client.journal.addVerified(ref, {
        segment,
        provider: p.address,
        peerId: "",
        multiaddrs: [],
        cid,
        sha256: hash,
        assignment: signedAssignment,
        delivery: signedDelivery,
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
    for (const [p, seconds] of owned) {
      const signature = await chain.signVoucher({ jobId, provider: p.address, seconds });
      client.journal.putVoucher(ref, { provider: p.address, seconds, signature, signedAt: Date.now(), ackedAt: undefined });
      const ack = await signAcknowledgement(p, chain.domain, { jobId, provider: p.address, seconds });
      client.journal.markVoucherAcked(ref, p.address, seconds, Date.now(), ack);
    }
  }

  test("behavior: a provider's redeem mined just before the settle makes it cost more than its estimate; the settle still lands", async () => {
    const [a, b] = [chain.providers[0]!, chain.providers[1]!];
    // Provider A already holds an escrow balance (as any provider after its first job), so the redeem does not make
    // the settle's credit to it cheaper than estimated.
    const aContracts = connectContracts(new NonceManager(a.connect(rpc)), chain.deployment);
    await (await aContracts.token.approve(chain.deployment.escrow, MESH)).wait();
    await (await aContracts.escrow.deposit(MESH)).wait();
    const spec: JobSpec = { v: 1, model: MODEL, prompt: "dunes at noon", seed: 4, seconds: 3, fps: 4, width: 64, height: 64 };
    const { jobId } = await chain.openJob({ spec, deadlineIn: 3_600 });
    await journalled(jobId, spec, [a, a, b]);

    // A's one-second voucher, which A redeems while the client's settle is on its way.
    const voucher = { jobId, provider: a.address, totalSeconds: 1n };
    const voucherSig = await chain.signVoucher({ jobId, provider: a.address, seconds: 1 });
    const allocationSig = await chain.signAllocation({ jobId, provider: a.address, seconds: 2 });

    // What a bare estimate is: the settle's gas in the state it is estimated in (nothing paid yet).
    const data = chain.contracts.escrow.interface.encodeFunctionData("settle", [jobId, settleEntries(client, jobId)]);
    const bare = await rpc.estimateGas({ from: chain.client.address, to: chain.deployment.escrow, data });

    await rpc.send("evm_setAutomine", [false]);
    try {
      let signed!: (hash: string) => void;
      const sent = new Promise<string>((resolve) => (signed = resolve));
      const settling = settleJob(client, {
        jobId,
        onProgress: (e) => {
          if (e.type === "settle:sent") signed(String((e.detail as { txHash: string }).txHash));
        },
      });
      const hash = await sent;
      // The settle is journalled before it is broadcast: put its exact bytes in the mempool now (settleJob's own
      // broadcast of the same bytes is then "already known", which it accepts, or ours is).
      const raw = client.journal.lastTx(jobId, "settle")!.raw;
      await rpc.broadcastTransaction(raw).catch(async (err: unknown) => {
        if (!(await rpc.getTransaction(hash))) throw err;
      });
      const settleTx = Transaction.from(raw);
      expect(settleTx.data).toBe(data);
      expect(settleTx.gasLimit).toBeGreaterThan(bare);
      // A's redeem, with a higher tip: mined first in the block. Its gas is given (an estimate against the pending
      // settle, which closes the job, would revert).
      const tip = (settleTx.maxPriorityFeePerGas ?? 0n) * 2n + 1_000_000_000n;
      const redeem = await aContracts.escrow.redeem(voucher, voucherSig, 2, allocationSig, {
        gasLimit: 300_000n,
        maxPriorityFeePerGas: tip,
        maxFeePerGas: (settleTx.maxFeePerGas ?? 0n) + tip,
      });
      await rpc.send("evm_mine", []);
      const result = await settling;

      const [redeemReceipt, settleReceipt] = await Promise.all([rpc.getTransactionReceipt(redeem.hash), rpc.getTransactionReceipt(hash)]);
      expect(redeemReceipt!.blockNumber).toBe(settleReceipt!.blockNumber);
      expect(redeemReceipt!.index).toBeLessThan(settleReceipt!.index);
      expect(settleReceipt!.status).toBe(1);
      // It cost more than the bare estimate: a limit cut to it would have run out of gas.
      expect(settleReceipt!.gasUsed).toBeGreaterThan(bare);
      expect(result.cooperative).toBe(true);
      expect(await chain.contracts.escrow.paidSeconds(jobId, a.address)).toBe(1n); // the redeem's record; the settle pays the rest without one
      expect(Number((await chain.contracts.escrow.getJob(jobId)).status)).toBe(2); // Settled
    } finally {
      await rpc.send("evm_setAutomine", [true]);
    }
  });
});
