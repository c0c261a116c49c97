import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Wallet, type Signer } from "ethers";
import type { JobSpec } from "@rendermesh/shared";
import { defaultModel } from "@rendermesh/shared/model";
import {
  deployContractWallet,
  FakeCoordinator,
  MESH,
  startTestChain,
  tempDir,
  TestProvider,
  type ContractWallet,
  type TestChain,
} from "../src/index.js";

// The TestProvider with chain checks judges a voucher's signature as the escrow does (OpenZeppelin's
// SignatureChecker): the job's client by ECDSA, or a contract-wallet client by ERC-1271. A real Hardhat chain with
// the ContractWallet mock as the client, and a fake coordinator to send the vouchers over libp2p.
const MODEL = defaultModel().manifest.id as `0x${string}`;
const spec: JobSpec = { v: 1, model: MODEL, prompt: "a wallet pays for waves", seed: 4, seconds: 2, fps: 4, width: 32, height: 32 };

describe("TestProvider vouchers", () => {
  let chain: TestChain;
  let wallet: ContractWallet;
  let provider: TestProvider;
  let coordinator: FakeCoordinator;
  let target: string;
  const dir = tempDir("rm-test-provider-vouchers-");

  beforeAll(async () => {
    chain = await startTestChain({ allowedModels: [MODEL] });
    // The client's key owns the wallet; the wallet holds the MESH and is the job's client.
    wallet = await deployContractWallet(chain.client, chain.deployment);
    await (await chain.contracts.token.transfer(wallet.address, 100n * MESH)).wait();
    provider = new TestProvider({
      wallet: chain.providers[0]!,
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      model: MODEL,
      askPerSecond: 10n ** 15n,
      render: "stub",
      chain: { provider: chain.provider, deployment: chain.deployment },
    });
    await provider.start();
    target = `${provider.node.getMultiaddrs()[0]!.toString()}`;
    coordinator = await new FakeCoordinator(chain, { dataDir: dir.dir }).start();
  }, 120_000);

  afterAll(async () => {
    await coordinator?.stop();
    await provider?.stop();
    await chain?.stop();
    dir.cleanup();
  });

  const send = async (jobId: `0x${string}`, seconds: number, signer: Signer) => {
    const voucher = { jobId, provider: provider.address as `0x${string}`, seconds };
    return coordinator.sendVoucher(target, {
      type: "voucher",
      chainId: chain.chainId,
      escrow: chain.deployment.escrow,
      voucher,
      signature: await chain.signVoucher(voucher, signer),
    });
  };

  test("default: a contract-wallet client's voucher, signed by its owner, is accepted by ERC-1271 and recorded as the wallet's", async () => {
    const deadline = (await chain.chainTime()) + 3600;
    const jobId = await wallet.openJob({ spec, coordinator: chain.coordinator.address, pricePerSecond: MESH, deadline });
    expect(await send(jobId, 2, chain.client)).toMatchObject({ type: "voucher-ack", seconds: 2 });
    expect(provider.vouchers.filter((v) => v.jobId === jobId)).toEqual([{ jobId, seconds: 2, signer: wallet.address }]);
    expect(provider.voucherSeconds(jobId)).toBe(2);
  });

  test("error: a voucher for the wallet's job signed by another key is refused BAD_SIGNATURE and not recorded", async () => {
    const deadline = (await chain.chainTime()) + 3600;
    const jobId = await wallet.openJob({
      spec: { ...spec, seed: 5 },
      coordinator: chain.coordinator.address,
      pricePerSecond: MESH,
      deadline,
    });
    expect(await send(jobId, 2, Wallet.createRandom())).toMatchObject({ type: "error", code: "BAD_SIGNATURE" });
    expect(provider.voucherSeconds(jobId)).toBe(0);
  });

  test("default: a plain-key client's voucher is accepted by ECDSA; the same voucher for another client's job is refused", async () => {
    const { jobId } = await chain.openJob({ spec: { ...spec, seed: 6 } });
    expect(await send(jobId, 1, chain.client)).toMatchObject({ type: "voucher-ack", seconds: 1 });
    expect(provider.vouchers.find((v) => v.jobId === jobId)?.signer.toLowerCase()).toBe(chain.client.address.toLowerCase());
    const theirs = await chain.openJob({ spec: { ...spec, seed: 7 }, client: chain.providers[3]! });
    expect(await send(theirs.jobId, 1, chain.client)).toMatchObject({ type: "error", code: "BAD_SIGNATURE" });
  });
});
