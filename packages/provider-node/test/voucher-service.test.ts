// A unit test of the voucher service alone: the chain is a stub that never
// answers (a stalled node), the journal and the signatures are real.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type JobSpec } from "@rendermesh/shared";
import { Wallet, verifyTypedData } from "ethers";
import { afterEach, describe, expect, test } from "vitest";
import type { ChainReader } from "../src/chain/types.js";
import { Journal } from "../src/journal/index.js";
import { ProviderMetrics } from "../src/metrics.js";
import { VoucherService } from "../src/voucher/service.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const domain = { name: "Rendermesh", version: "1", chainId: 31337, verifyingContract: `0x${"e5".repeat(20)}` };
const voucherTypes = {
  Voucher: [
    { name: "jobId", type: "bytes32" },
    { name: "provider", type: "address" },
    { name: "seconds", type: "uint32" },
  ],
};

describe("VoucherService", () => {
  test("behavior: a voucher for a job in the journal is acknowledged without reading the chain (a stalled chain holds up no settle)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rm-voucher-"));
    dirs.push(dir);
    const journal = Journal.open(join(dir, "journal.db"));
    const client = Wallet.createRandom();
    const provider = Wallet.createRandom();
    const jobId = `0x${"4a".repeat(32)}` as `0x${string}`;
    const spec: JobSpec = { v: 1, model: `0x${"ab".repeat(32)}`, prompt: "x", seed: 1, seconds: 2, fps: 4, width: 64, height: 64 };
    journal.upsertJob({
      jobId,
      chainId: domain.chainId,
      escrow: domain.verifyingContract,
      client: client.address.toLowerCase(),
      coordinator: `0x${"c0".repeat(20)}`,
      deadline: 2_000_000_000,
      seconds: 2,
      pricePerSecond: 1n,
      openedBlock: 1,
      spec,
    });
    let chainReads = 0;
    const stalled = {
      chainId: domain.chainId,
      escrowAddress: domain.verifyingContract,
      getJob: () => {
        chainReads++;
        return new Promise<never>(() => undefined);
      },
    } as unknown as Pick<ChainReader, "chainId" | "escrowAddress" | "getJob">;
    const service = new VoucherService({
      address: provider.address,
      chain: stalled,
      signatures: { recoverVoucherSigner: (v, sig) => verifyTypedData(domain, voucherTypes, v, sig) },
      journal,
      metrics: new ProviderMetrics({ defaultMetrics: false }),
      logger: createLogger({ name: "test", level: "silent" }),
      acknowledger: { signAcknowledgement: async () => `0x${"11".repeat(65)}` },
    });
    const voucher = { jobId, provider: provider.address as `0x${string}`, seconds: 2 };
    const signature = (await client.signTypedData(domain, voucherTypes, voucher)) as `0x${string}`;
    const ack = await service.handle({
      type: "voucher",
      chainId: domain.chainId,
      escrow: domain.verifyingContract as `0x${string}`,
      voucher,
      signature,
    });
    expect(ack).toMatchObject({ type: "voucher-ack", seconds: 2, acknowledgement: `0x${"11".repeat(65)}` });
    expect(chainReads).toBe(0);
    expect(journal.getVoucher(jobId)).toMatchObject({ seconds: 2 });
    // Still checked: a voucher not signed by the journalled client is refused, also without the chain.
    const forged = (await Wallet.createRandom().signTypedData(domain, voucherTypes, { ...voucher, seconds: 1 })) as `0x${string}`;
    await expect(
      service.handle({
        type: "voucher",
        chainId: domain.chainId,
        escrow: domain.verifyingContract as `0x${string}`,
        voucher: { ...voucher, seconds: 1 },
        signature: forged,
      }),
    ).rejects.toMatchObject({ reason: "BAD_SIGNATURE" });
    journal.close();
  });
});
