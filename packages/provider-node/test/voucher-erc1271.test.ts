import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { join } from "node:path";
import { Wallet } from "ethers";
import type { JobSpec, VoucherMessage } from "@rendermesh/shared";
import { hashVoucher, isValidSignatureNow, voucherStruct } from "@rendermesh/shared/chain";
import { deployContractWallet, MESH, type ContractWallet, type TestChain } from "@rendermesh/testing";
import { EthersChain } from "../src/chain/ethers-chain.js";
import { Journal } from "../src/journal/index.js";
import { ProviderMetrics } from "../src/metrics.js";
import { VoucherService } from "../src/voucher/service.js";
import { MODEL_ID, startChain, tempDir, testLogger } from "./helpers/provider.js";

// A client that is a contract wallet (a Safe, an ERC-4337 account): the provider's voucher service must accept the
// vouchers its owner signs, by ERC-1271, exactly as the escrow does, and refuse what the escrow would refuse. A real
// Hardhat chain, the real contracts, the ContractWallet mock deployed on it, and the provider's real EthersChain.

const spec: JobSpec = { v: 1, model: MODEL_ID, prompt: "a wallet pays for waves", seed: 2, seconds: 4, fps: 4, width: 64, height: 64 };

let chain: TestChain;
let wallet: ContractWallet;
let rpcChain: EthersChain;
let service: VoucherService;
let journal: Journal;
const dir = tempDir("rm-voucher-1271-");

beforeAll(async () => {
  chain = await startChain();
  const provider = chain.providers[0]!;
  // The client's key owns the wallet; the wallet holds the MESH and is the job's client.
  wallet = await deployContractWallet(chain.client, chain.deployment);
  await (await chain.contracts.token.transfer(wallet.address, 100n * MESH)).wait();
  rpcChain = new EthersChain({ deployment: chain.deployment, signer: provider, provider: chain.provider });
  journal = Journal.open(join(dir.dir, "journal.db"));
  service = new VoucherService({
    address: provider.address,
    chain: rpcChain,
    signatures: rpcChain,
    journal,
    metrics: new ProviderMetrics({ defaultMetrics: false }),
    logger: testLogger(),
  });
});

afterAll(async () => {
  journal?.close();
  await chain?.stop();
  dir.cleanup();
});

const deadline = async () => (await chain.chainTime()) + 3600;

async function walletJob(): Promise<`0x${string}`> {
  return wallet.openJob({ spec, coordinator: chain.coordinator.address, pricePerSecond: MESH, deadline: await deadline() });
}

function message(voucher: { jobId: string; seconds: number }, signature: string): VoucherMessage {
  return {
    type: "voucher",
    chainId: chain.chainId,
    escrow: chain.deployment.escrow as `0x${string}`,
    voucher: { jobId: voucher.jobId as `0x${string}`, provider: chain.providers[0]!.address as `0x${string}`, seconds: voucher.seconds },
    signature: signature as `0x${string}`,
  };
}

/** What the escrow says of the voucher: its `redeem`, simulated from the provider with a real coordinator allocation. */
async function escrowAccepts(jobId: string, seconds: number, signature: string): Promise<true | string> {
  const provider = chain.providers[0]!;
  const allocation = await chain.signAllocation({ jobId, provider: provider.address, seconds });
  try {
    await rpcChain.contracts.escrow.redeem.staticCall(
      voucherStruct({ jobId: jobId as `0x${string}`, provider: provider.address as `0x${string}`, seconds }),
      signature,
      seconds,
      allocation,
    );
    return true;
  } catch (err) {
    return (err as { revert?: { name?: string } }).revert?.name ?? String(err);
  }
}

describe("voucher service: ERC-1271 clients", () => {
  test("default: a voucher a contract wallet's owner signed is kept, as the escrow's redeem accepts it", async () => {
    const jobId = await walletJob();
    expect((await rpcChain.getJob(jobId)).client.toLowerCase()).toBe(wallet.address.toLowerCase());
    const signature = await chain.signVoucher({ jobId, provider: chain.providers[0]!.address, seconds: 2 }, chain.client);
    expect(await escrowAccepts(jobId, 2, signature)).toBe(true);
    expect(await service.handle(message({ jobId, seconds: 2 }, signature))).toMatchObject({ type: "voucher-ack", jobId, seconds: 2 });
    expect(journal.getVoucher(jobId)).toMatchObject({ seconds: 2, signature });
  });

  test("error: a voucher for a wallet's job signed by another key is refused BAD_SIGNATURE, as the escrow refuses it", async () => {
    const jobId = await walletJob();
    const signature = await chain.signVoucher({ jobId, provider: chain.providers[0]!.address, seconds: 2 }, Wallet.createRandom());
    expect(await escrowAccepts(jobId, 2, signature)).toBe("JobEscrowInvalidSigner");
    await expect(service.handle(message({ jobId, seconds: 2 }, signature))).rejects.toMatchObject({ reason: "BAD_SIGNATURE" });
    expect(journal.getVoucher(jobId)).toBeUndefined();
  });

  test("error: a wallet's owner signature of another voucher (more seconds than signed) is refused", async () => {
    const jobId = await walletJob();
    const signature = await chain.signVoucher({ jobId, provider: chain.providers[0]!.address, seconds: 1 }, chain.client);
    expect(await escrowAccepts(jobId, 3, signature)).toBe("JobEscrowInvalidSigner");
    await expect(service.handle(message({ jobId, seconds: 3 }, signature))).rejects.toMatchObject({ reason: "BAD_SIGNATURE" });
  });

  test("default: an EOA client's voucher is still checked by ECDSA", async () => {
    const { jobId } = await chain.openJob({ spec });
    const good = await chain.signVoucher({ jobId, provider: chain.providers[0]!.address, seconds: 1 });
    expect(await service.handle(message({ jobId, seconds: 1 }, good))).toMatchObject({ type: "voucher-ack", seconds: 1 });
    // The client's key signing through someone else's wallet is no signature of the EOA client's own.
    const stranger = await chain.signVoucher({ jobId, provider: chain.providers[0]!.address, seconds: 2 }, Wallet.createRandom());
    await expect(service.handle(message({ jobId, seconds: 2 }, stranger))).rejects.toMatchObject({ reason: "BAD_SIGNATURE" });
  });

  test("error: isValidSignatureNow: malformed bytes, a contract that is no wallet, and a wallet that says no are all false", async () => {
    const jobId = await walletJob();
    const voucher = { jobId, provider: chain.providers[0]!.address as `0x${string}`, seconds: 1 };
    const hash = hashVoucher(chain.domain, voucher);
    const owner = await chain.signVoucher(voucher, chain.client);
    expect(await isValidSignatureNow(chain.provider, wallet.address, hash, owner)).toBe(true);
    expect(await isValidSignatureNow(chain.provider, wallet.address, hash, "0x1234")).toBe(false);
    expect(await isValidSignatureNow(chain.provider, wallet.address, hash, "not hex")).toBe(false);
    expect(await isValidSignatureNow(chain.provider, chain.client.address, hash, "0x1234")).toBe(false);
    // The token has code but no isValidSignature: its call reverts.
    expect(await isValidSignatureNow(chain.provider, chain.deployment.token, hash, owner)).toBe(false);
    // The EOA owner's own address: by ECDSA, the same signature is the owner's.
    expect(await isValidSignatureNow(chain.provider, chain.client.address, hash, owner)).toBe(true);
  });
});
