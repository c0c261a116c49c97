// The client tests' chain: the toolkit's Hardhat node (`--port 0`, its own
// chain id, not 31337, so the faucet's dev-network check is exercised) with
// the contracts deployed by the one deploy path: the default model allowed,
// "forbidden" blocked, fees that do not divide prices evenly.
import { hardhatAccount, MESH, deployRendermesh, repoRoot, startHardhatNode, tempDir, type HardhatNode } from "@rendermesh/testing";
import { NonceManager, type JsonRpcProvider, type Wallet } from "ethers";
import { waitForReceipt } from "../../src/chain/tx.js";
import { termHash } from "@rendermesh/shared";
import { connectContracts, type Deployment, type RendermeshContracts } from "@rendermesh/shared/chain";
import { peerIdBytes } from "@rendermesh/shared/net";
import { defaultModel } from "@rendermesh/shared/model";

export const root = repoRoot;
export { MESH };
const BLOCKED_TERM = "forbidden";
const COORDINATOR_FEE_BPS = 250;
const TREASURY_FEE_BPS = 125;
/** Not 31337: the faucet must refuse this chain. */
const CHAIN_ID = 61_337;

/** Hardhat's well-known account `i` (funded with ETH on a `hardhat node`). */
export function account(i: number): Wallet {
  return hardhatAccount(i);
}

export interface TestChain {
  rpcUrl: string;
  chainId: number;
  deployment: Deployment;
  deploymentFile: string;
  provider: JsonRpcProvider;
  deployer: NonceManager;
  contracts: RendermeshContracts;
  model: `0x${string}`;
  /** Moves the chain's clock forward (and mines a block). */
  increaseTime(seconds: number): Promise<void>;
  stop(): Promise<void>;
}

export type TestNode = Pick<HardhatNode, "rpcUrl" | "chainId" | "provider" | "stop">;

/** A bare Hardhat node on 127.0.0.1 (its own chain id unless given). */
export async function startNode(opts: { chainId?: number } = {}): Promise<TestNode> {
  return startHardhatNode({ chainId: opts.chainId ?? CHAIN_ID });
}

export async function startChain(): Promise<TestChain> {
  const node = await startNode();
  const { rpcUrl, chainId, provider } = node;
  const out = tempDir("rm-client-deploy-");
  const model = defaultModel().manifest.id as `0x${string}`;
  try {
    const { deploymentFile, deployment: record } = await deployRendermesh({
      rpcUrl,
      dir: out.dir,
      parameters: {
        allowedModels: [model],
        blockedTerms: [termHash(BLOCKED_TERM)],
        minProviderStake: 100n * MESH,
        coordinatorFeeBps: COORDINATOR_FEE_BPS,
        treasuryFeeBps: TREASURY_FEE_BPS,
      },
    });
    const deployment = record;
    const deployer = new NonceManager(account(0).connect(provider));
    return {
      rpcUrl,
      chainId,
      deployment,
      deploymentFile,
      provider,
      deployer,
      contracts: connectContracts(deployer, deployment),
      model,
      async increaseTime(seconds) {
        const latest = (await provider.send("eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
        await provider.send("evm_setNextBlockTimestamp", [Number(latest.timestamp) + seconds]);
        await provider.send("evm_mine", []);
      },
      stop: async () => {
        await node.stop();
        out.cleanup();
      },
    };
  } catch (err) {
    await node.stop();
    out.cleanup();
    throw err;
  }
}

/** Sends `who` MESH from the deployer (who holds the supply). */
export async function fund(chain: TestChain, who: string, amount: bigint): Promise<void> {
  await mined(chain, chain.contracts.token.transfer(who, amount));
}

/** Waits for a sent transaction by polling its receipt (see `waitForReceipt`). */
async function mined(chain: TestChain, sent: Promise<{ hash: string }>): Promise<void> {
  const { hash } = await sent;
  const receipt = await waitForReceipt(chain.provider, hash, 60_000);
  if (receipt?.status !== 1) throw new Error(`transaction ${hash} failed`);
}

/** Registers and stakes a provider for `peerId`, asking `askPerSecond`. */
export async function registerProvider(
  chain: TestChain,
  wallet: Wallet,
  peerId: Parameters<typeof peerIdBytes>[0],
  askPerSecond: bigint,
): Promise<void> {
  await fund(chain, wallet.address, 1000n * MESH);
  await mined(chain, chain.deployer.sendTransaction({ to: wallet.address, value: 10n ** 18n }));
  const signer = new NonceManager(wallet.connect(chain.provider));
  const c = connectContracts(signer, chain.deployment);
  await mined(chain, c.token.approve(chain.deployment.registry, 500n * MESH));
  await mined(chain, c.registry.register(peerIdBytes(peerId), askPerSecond, [chain.model], 500n * MESH));
}
