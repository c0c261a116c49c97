import { Contract, type ContractRunner } from "ethers";
import { contentPolicyAbi, jobEscrowAbi, meshGovernorAbi, meshTokenAbi, providerRegistryAbi, timelockAbi } from "./abis.js";
import type { Deployment } from "./deployment.js";
import type { TypedContract } from "./typed.js";

export type MeshTokenContract = TypedContract<typeof meshTokenAbi>;
export type ContentPolicyContract = TypedContract<typeof contentPolicyAbi>;
export type ProviderRegistryContract = TypedContract<typeof providerRegistryAbi>;
export type JobEscrowContract = TypedContract<typeof jobEscrowAbi>;
export type MeshGovernorContract = TypedContract<typeof meshGovernorAbi>;
export type TimelockContract = TypedContract<typeof timelockAbi>;

/** The deployed Rendermesh contracts as typed ethers contracts. */
export interface RendermeshContracts {
  token: MeshTokenContract;
  policy: ContentPolicyContract;
  registry: ProviderRegistryContract;
  escrow: JobEscrowContract;
  governor: MeshGovernorContract;
  timelock: TimelockContract;
}

/**
 * Typed ethers contracts for a deployment, bound to `runner` (a signer to
 * send transactions, a provider to read).
 *
 * @example
 * const { escrow, token } = connectContracts(wallet, loadDeployment(chainId));
 * const job = await escrow.getJob(jobId); // job.totalSeconds: bigint
 */
export function connectContracts(
  runner: ContractRunner | null,
  deployment: Pick<Deployment, "token" | "policy" | "registry" | "escrow" | "governor" | "timelock">,
): RendermeshContracts {
  return {
    token: new Contract(deployment.token, meshTokenAbi, runner) as unknown as MeshTokenContract,
    policy: new Contract(deployment.policy, contentPolicyAbi, runner) as unknown as ContentPolicyContract,
    registry: new Contract(deployment.registry, providerRegistryAbi, runner) as unknown as ProviderRegistryContract,
    escrow: new Contract(deployment.escrow, jobEscrowAbi, runner) as unknown as JobEscrowContract,
    governor: new Contract(deployment.governor, meshGovernorAbi, runner) as unknown as MeshGovernorContract,
    timelock: new Contract(deployment.timelock, timelockAbi, runner) as unknown as TimelockContract,
  };
}
