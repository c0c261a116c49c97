// The coordinator tests' chain: the toolkit's Hardhat node (`--port 0`) with
// the contracts deployed by the one deploy path: one allowed model, one
// blocked term.
import { hardhatAccount, MESH, deployRendermesh, startHardhatNode, tempDir } from "@rendermesh/testing";
import { NonceManager, type JsonRpcProvider, type Signer, type Wallet } from "ethers";
import { termHash, type JobSpec, specHash } from "@rendermesh/shared";
import { connectContracts, type Deployment, type RendermeshContracts } from "@rendermesh/shared/chain";
import { peerIdBytes } from "@rendermesh/shared/net";
import type { PeerId } from "@libp2p/interface";

export { MESH };

export function account(i: number): Wallet {
  return hardhatAccount(i);
}

export interface TestChain {
  rpcUrl: string;
  deployment: Deployment;
  provider: JsonRpcProvider;
  deployer: Signer;
  contracts: RendermeshContracts;
  model: string;
  blockedTerm: string;
  stop(): Promise<void>;
}

/**
 * A real Hardhat node (its own port and chain id) with the Rendermesh
 * contracts deployed by `scripts/deploy.ts`: one allowed model, one blocked term.
 */
export async function startChain(opts: { model: string; blockedTerm: string }): Promise<TestChain> {
  const node = await startHardhatNode({ chainId: 50_337 });
  const out = tempDir("rm-deploy-");
  try {
    const { deployment: record } = await deployRendermesh({
      rpcUrl: node.rpcUrl,
      dir: out.dir,
      parameters: { allowedModels: [opts.model], blockedTerms: [termHash(opts.blockedTerm)], minProviderStake: 100n * MESH },
    });
    const deployment = record;
    const deployer = new NonceManager(account(0).connect(node.provider));
    return {
      rpcUrl: node.rpcUrl,
      deployment,
      provider: node.provider,
      deployer,
      contracts: connectContracts(deployer, deployment),
      model: opts.model,
      blockedTerm: opts.blockedTerm,
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

/** Funds `who` with MESH from the deployer. */
async function fund(chain: TestChain, who: string, amount: bigint): Promise<void> {
  await (await chain.contracts.token.transfer(who, amount)).wait();
}

/** Registers and stakes a provider for `peerId`. */
export async function registerProvider(chain: TestChain, wallet: Wallet, peerId: PeerId, askPerSecond: bigint): Promise<void> {
  await fund(chain, wallet.address, 1000n * MESH);
  await (await chain.deployer.sendTransaction({ to: wallet.address, value: 10n ** 18n })).wait();
  const signer = new NonceManager(wallet.connect(chain.provider));
  const c = connectContracts(signer, chain.deployment);
  await (await c.token.approve(chain.deployment.registry, 500n * MESH)).wait();
  await (await c.registry.register(peerIdBytes(peerId), askPerSecond, [chain.model], 500n * MESH)).wait();
}

/** Opens a job on the escrow as `client`; returns its id. */
export async function openJob(
  chain: TestChain,
  client: Wallet,
  spec: JobSpec,
  coordinator: string,
  pricePerSecond: bigint,
  opts: { deadlineSeconds?: number; specHashOverride?: string } = {},
): Promise<string> {
  const signer = new NonceManager(client.connect(chain.provider));
  const c = connectContracts(signer, chain.deployment);
  const deposit = pricePerSecond * BigInt(spec.seconds);
  await (await c.token.approve(chain.deployment.escrow, deposit)).wait();
  const block = await chain.provider.getBlock("latest");
  const deadline = BigInt(block!.timestamp + (opts.deadlineSeconds ?? 3600));
  const version = await c.policy.version();
  const tx = await c.escrow.openJob(opts.specHashOverride ?? specHash(spec), coordinator, spec.seconds, pricePerSecond, deadline, version);
  const receipt = await tx.wait();
  for (const log of receipt!.logs) {
    try {
      const parsed = c.escrow.interface.parseLog(log);
      if (parsed?.name === "JobOpened") return String(parsed.args[0]).toLowerCase();
    } catch {
      // another contract's log
    }
  }
  throw new Error("no JobOpened event");
}

export async function fundClient(chain: TestChain, client: Wallet): Promise<void> {
  await fund(chain, client.address, 10_000n * MESH);
  await (await chain.deployer.sendTransaction({ to: client.address, value: 10n ** 18n })).wait();
}
