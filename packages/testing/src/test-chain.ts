// A throwaway local chain for tests: a real `hardhat node` (see
// hardhat-node.ts) with the Rendermesh contracts deployed by the project's
// Ignition module (see deploy.ts), funded accounts in fixed roles, and the
// calls a test makes most: open and close a job, sign assignments and
// vouchers, move chain time. Used by the render provider compliance suite and
// the package tests.
import { specHash, type JobSpec } from "@rendermesh/shared";
import {
  connectContracts,
  eip712Domain,
  signAllocation,
  signAssignment,
  signVoucher,
  type Deployment,
  type RendermeshContracts,
  type RendermeshDomain,
} from "@rendermesh/shared/chain";
import { NonceManager, type JsonRpcProvider, type Signer, type Wallet } from "ethers";
import { hardhatAccount, MESH } from "./accounts.js";
import { deployRendermesh } from "./deploy.js";
import { startHardhatNode } from "./hardhat-node.js";
import { tempDir } from "./temp.js";

export interface TestChainOptions {
  /** Model ids the policy allows. */
  allowedModels: string[];
  /** keccak256 hashes of normalised blocked terms (`termHash`). */
  blockedTerms?: string[];
  minProviderStake?: bigint;
  disputeWindow?: bigint;
  claimWindow?: bigint;
  unstakeCooldown?: bigint;
  coordinatorFeeBps?: number;
  treasuryFeeBps?: number;
}

export interface OpenJobOptions {
  spec: JobSpec;
  pricePerSecond?: bigint;
  /** Seconds from the chain's now (default 3600). */
  deadlineIn?: number;
  coordinator?: string;
  client?: Wallet;
}

export interface TestChain {
  rpcUrl: string;
  chainId: number;
  deployment: Deployment;
  /** A deployment file for `--deployment`. */
  deploymentFile: string;
  provider: JsonRpcProvider;
  /** Connected to the deployer (who holds the tokens and is the arbiter; the timelock owns the policy). */
  contracts: RendermeshContracts;
  domain: RendermeshDomain;
  deployer: Wallet;
  coordinator: Wallet;
  client: Wallet;
  /** Funded accounts a test may use as providers (index 3.. of the mnemonic). */
  providers: Wallet[];
  /** Sends `amount` MESH base units (and some ETH) to `address`. */
  fund(address: string, amount: bigint): Promise<void>;
  /** Opens and funds a job; returns its id and the block it was opened in. */
  openJob(options: OpenJobOptions): Promise<{ jobId: `0x${string}`; block: number; deadline: number }>;
  /** The client settles the job paying nobody: it is no longer open (it is closing: its challenge window runs). */
  closeJob(jobId: string, client?: Wallet): Promise<void>;
  /** A coordinator's signature over an assignment. */
  signAssignment(
    assignment: { jobId: string; segment: number; firstFrame: number; frameCount: number; provider: string; deadline: number },
    signer?: Signer,
  ): Promise<`0x${string}`>;
  signVoucher(voucher: { jobId: string; provider: string; seconds: number }, signer?: Signer): Promise<`0x${string}`>;
  /** The coordinator's `Allocation(jobId, provider, seconds)` (vouchers and settle entries pay up to it). */
  signAllocation(allocation: { jobId: string; provider: string; seconds: number }, signer?: Signer): Promise<`0x${string}`>;
  /** Moves chain time forward and mines a block. */
  increaseTime(seconds: number): Promise<void>;
  chainTime(): Promise<number>;
  /**
   * Records the chain as it is now (state, balances, time) and returns the way back to it: `restore()` reverts
   * the node to the record and forgets the nonces `contracts` had counted. Each test that restores first starts
   * from the same chain whatever ran before it. A record is used once; take a new one after restoring.
   */
  snapshot(): Promise<() => Promise<void>>;
  stop(): Promise<void>;
}

/** Which Hardhat account plays which role on a test chain. */
export const TEST_CHAIN_ROLES = { deployer: 0, coordinator: 1, client: 2, providers: [3, 4, 5, 6] } as const;

/** Starts a hardhat node, deploys the contracts and funds the test accounts. */
export async function startTestChain(options: TestChainOptions): Promise<TestChain> {
  const node = await startHardhatNode();
  const { provider, rpcUrl: url, chainId } = node;
  const dir = tempDir("rm-chain-");
  const stop = async () => {
    await node.stop();
    dir.cleanup();
  };
  try {
    const deployer = hardhatAccount(TEST_CHAIN_ROLES.deployer, provider);
    const coordinator = hardhatAccount(TEST_CHAIN_ROLES.coordinator, provider);
    const client = hardhatAccount(TEST_CHAIN_ROLES.client, provider);
    const providers = TEST_CHAIN_ROLES.providers.map((i) => hardhatAccount(i, provider));
    const { deployment, deploymentFile } = await deployRendermesh({
      rpcUrl: url,
      dir: dir.dir,
      privateKey: deployer.privateKey,
      parameters: {
        allowedModels: options.allowedModels,
        blockedTerms: options.blockedTerms ?? [],
        minProviderStake: options.minProviderStake ?? 100n * MESH,
        coordinatorFeeBps: options.coordinatorFeeBps ?? 500,
        treasuryFeeBps: options.treasuryFeeBps ?? 100,
        disputeWindow: options.disputeWindow ?? 60n,
        claimWindow: options.claimWindow ?? 600n,
        unstakeCooldown: options.unstakeCooldown ?? 60n,
        arbiter: deployer.address,
      },
    });
    const sender = new NonceManager(deployer);
    const escrow = deployment.escrow;
    const contracts = connectContracts(sender, deployment);
    const domain = eip712Domain(chainId, escrow);

    const fund = async (address: string, amount: bigint) => {
      await (await contracts.token.transfer(address, amount)).wait();
      if ((await provider.getBalance(address)) < 10n ** 18n)
        await (await sender.sendTransaction({ to: address, value: 10n ** 19n })).wait();
    };
    await fund(client.address, 1_000_000n * MESH);
    for (const p of providers) await fund(p.address, 10_000n * MESH);

    const chainTime = async () => (await provider.getBlock("latest"))!.timestamp;

    return {
      rpcUrl: url,
      chainId,
      deployment: deployment,
      deploymentFile,
      provider,
      contracts,
      domain,
      deployer,
      coordinator,
      client,
      providers,
      fund,
      async openJob(o) {
        const who = o.client ?? client;
        const c = connectContracts(who, deployment);
        const price = o.pricePerSecond ?? MESH;
        const deposit = price * BigInt(o.spec.seconds);
        await (await c.token.approve(escrow, deposit)).wait();
        const version = await c.policy.version();
        const deadline = (await chainTime()) + (o.deadlineIn ?? 3600);
        const receipt = (await (
          await c.escrow.openJob(specHash(o.spec), o.coordinator ?? coordinator.address, o.spec.seconds, price, deadline, version)
        ).wait())!;
        const log = receipt.logs.map((l) => c.escrow.interface.parseLog(l)).find((l) => l?.name === "JobOpened");
        if (!log) throw new Error("openJob emitted no JobOpened event");
        return { jobId: log.args.jobId as `0x${string}`, block: receipt.blockNumber, deadline };
      },
      async closeJob(jobId, who = client) {
        const c = connectContracts(who, deployment);
        await (await c.escrow.settle(jobId, [])).wait();
      },
      signAssignment: (a, signer = coordinator) => signAssignment(signer, domain, a),
      signVoucher: (v, signer = client) => signVoucher(signer, domain, v),
      signAllocation: (a, signer = coordinator) => signAllocation(signer, domain, a),
      async increaseTime(seconds) {
        await provider.send("evm_increaseTime", [seconds]);
        await provider.send("evm_mine", []);
      },
      chainTime,
      async snapshot() {
        const id = (await provider.send("evm_snapshot", [])) as string;
        return async () => {
          if ((await provider.send("evm_revert", [id])) !== true) throw new Error(`the chain has no snapshot ${id} to go back to`);
          sender.reset();
        };
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
