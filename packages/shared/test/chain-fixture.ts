// A real chain for the chain tests: an in-process Hardhat (EDR) network with
// the Rendermesh contracts deployed by the project's own Ignition module.
import type {} from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Wallet, parseEther, type JsonRpcProvider, type Signer } from "ethers";
import { network } from "hardhat";
import { connectContracts, type Deployment, type RendermeshContracts } from "../src/chain/index.js";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../..");
export const MESH = 10n ** 18n;
export const MODEL = `0x${"ab".repeat(32)}`;

export interface ChainFixture {
  connection: Awaited<ReturnType<typeof network.create>>;
  provider: JsonRpcProvider;
  chainId: bigint;
  deployment: Deployment;
  /** Contracts bound to the deployer (holder of the whole supply, arbiter). */
  contracts: RendermeshContracts;
  deployer: Signer & { address: string };
  /** Fresh plain ethers wallets, funded with ETH and 1,000,000 MESH each. */
  client: Wallet;
  coordinator: Wallet;
  provider1: Wallet;
  provider2: Wallet;
  /** Moves the chain's clock forward and mines a block. */
  increaseTime(seconds: number): Promise<void>;
  close(): Promise<void>;
}

export async function createChainFixture(): Promise<ChainFixture> {
  // Hardhat reads its config from the working directory.
  process.chdir(repoRoot);
  const connection = await network.create();
  const { ethers, ignition, networkHelpers } = connection;
  const modulePath = join(repoRoot, "contracts/ignition/modules/Rendermesh.ts");
  const { default: RendermeshModule } = (await import(pathToFileURL(modulePath).href)) as { default: never };
  const deployed = (await ignition.deploy(RendermeshModule, {
    parameters: {
      Rendermesh: {
        allowedModels: [MODEL],
        minProviderStake: 100n * MESH,
        disputeWindow: 60n,
        claimWindow: 120n,
        unstakeCooldown: 60n,
        votingDelay: 1n,
        votingPeriod: 10n,
        timelockDelay: 60n,
      },
    },
  })) as Record<string, { getAddress(): Promise<string> }>;
  const address = async (name: string) => deployed[name]!.getAddress();
  const provider = ethers.provider as unknown as JsonRpcProvider;
  const chainId = (await provider.getNetwork()).chainId;
  const deployment: Deployment = {
    chainId: Number(chainId),
    token: await address("token"),
    registry: await address("registry"),
    escrow: await address("escrow"),
    policy: await address("policy"),
    governor: await address("governor"),
    timelock: await address("timelock"),
    startBlock: 1,
  };
  // Hardhat's own first account (the deployer Ignition used), so no key is written down here.
  const deployer = (await ethers.getSigners())[0]!;
  const contracts = connectContracts(deployer, deployment);
  const fund = async () => {
    const wallet = Wallet.createRandom(provider);
    await networkHelpers.setBalance(wallet.address, parseEther("100"));
    await (await contracts.token.transfer(wallet.address, 1_000_000n * MESH)).wait();
    return new Wallet(wallet.privateKey, provider);
  };
  return {
    connection,
    provider,
    chainId,
    deployment,
    contracts,
    deployer,
    client: await fund(),
    coordinator: await fund(),
    provider1: await fund(),
    provider2: await fund(),
    increaseTime: async (seconds) => {
      await networkHelpers.time.increase(seconds);
    },
    close: () => connection.close(),
  };
}

/** The custom error a failed call reverted with, decoded against the escrow's ABI (or undefined). */
export async function revertName(promise: Promise<unknown>, contracts: RendermeshContracts): Promise<string | undefined> {
  try {
    await promise;
  } catch (err) {
    const data = (err as { data?: string }).data ?? (err as { info?: { error?: { data?: string } } }).info?.error?.data;
    if (!data) throw err;
    for (const c of [contracts.escrow, contracts.registry, contracts.policy, contracts.token]) {
      const parsed = c.interface.parseError(data);
      if (parsed) return parsed.name;
    }
    return `unknown(${data.slice(0, 10)})`;
  }
  return undefined;
}
