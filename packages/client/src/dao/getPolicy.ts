import { type PolicySnapshot, UsageError } from "@rendermesh/shared";
import { getAddress, type BlockTag } from "ethers";
import type { ChainError } from "../errors.js";
import { mapGovernanceError } from "./errors.js";
import { policyContract, read } from "./internal.js";
import type { DaoClient } from "./types.js";

export interface GetPolicyParameters {
  /** Read the policy as it was at this block (default: latest). */
  blockTag?: BlockTag | undefined;
}

export interface PolicyView {
  address: string;
  /** Who may change it: the DAO's timelock. */
  owner: string;
  version: bigint;
  /** Blocked terms are stored as keccak256 of their normalised text (docs/policy.md), so only hashes are known. */
  blockedTermCount: bigint;
  blockedTerms: string[];
  allowedModels: string[];
  limits: { maxSeconds: number; maxWidth: number; maxHeight: number; maxFps: number };
  minProviderStake: bigint;
  fees: { coordinatorFeeBps: number; treasuryFeeBps: number };
  /** Seconds. */
  disputeWindow: bigint;
  /** Seconds. */
  claimWindow: bigint;
  arbiter: string;
  treasury: string;
  /** The block it was read at. */
  blockNumber: number;
}

export type GetPolicyReturnType = PolicyView;
export type GetPolicyErrorType = UsageError | ChainError;

/**
 * Every value of the on-chain content policy, with its version, read at one block.
 *
 * @example
 * const p = await getPolicy(client);
 * console.log(`v${p.version}: ${p.blockedTermCount} blocked terms, ${p.allowedModels.length} models`);
 */
export async function getPolicy(client: DaoClient, params: GetPolicyParameters = {}): Promise<GetPolicyReturnType> {
  let block;
  try {
    block = await client.provider.getBlock(params.blockTag ?? "latest");
  } catch (err) {
    throw mapGovernanceError(err, { doing: "read the content policy" });
  }
  if (!block) {
    const latest = await client.provider.getBlockNumber();
    throw new UsageError(`Block ${String(params.blockTag)} does not exist yet (the chain is at block ${latest}).`, {
      hint: "Give a block number up to the latest.",
    });
  }
  const blockNumber = block.number;
  const policy = policyContract(client);
  const ctx = { doing: "read the content policy" };
  const at = { blockTag: blockNumber };
  const [
    owner,
    version,
    blockedTermCount,
    blockedTerms,
    allowedModels,
    limits,
    minProviderStake,
    fees,
    disputeWindow,
    claimWindow,
    arbiter,
    treasury,
  ] = await Promise.all([
    read<string>(policy, "owner", [at], ctx),
    read<bigint>(policy, "version", [at], ctx),
    read<bigint>(policy, "blockedTermCount", [at], ctx),
    read<string[]>(policy, "blockedTerms", [at], ctx),
    read<string[]>(policy, "allowedModels", [at], ctx),
    read<[bigint, bigint, bigint, bigint]>(policy, "limits", [at], ctx),
    read<bigint>(policy, "minProviderStake", [at], ctx),
    read<[bigint, bigint]>(policy, "fees", [at], ctx),
    read<bigint>(policy, "disputeWindow", [at], ctx),
    read<bigint>(policy, "claimWindow", [at], ctx),
    read<string>(policy, "arbiter", [at], ctx),
    read<string>(policy, "treasury", [at], ctx),
  ]);
  return {
    address: getAddress(client.deployment.policy),
    owner: getAddress(owner),
    version,
    blockedTermCount,
    blockedTerms: [...blockedTerms].map((h) => h.toLowerCase()),
    allowedModels: [...allowedModels].map((h) => h.toLowerCase()),
    limits: { maxSeconds: Number(limits[0]), maxWidth: Number(limits[1]), maxHeight: Number(limits[2]), maxFps: Number(limits[3]) },
    minProviderStake,
    fees: { coordinatorFeeBps: Number(fees[0]), treasuryFeeBps: Number(fees[1]) },
    disputeWindow,
    claimWindow,
    arbiter: getAddress(arbiter),
    treasury: getAddress(treasury),
    blockNumber,
  };
}

/** The view as the shared `PolicySnapshot` that `evaluateSpec` takes. */
export function toPolicySnapshot(view: PolicyView): PolicySnapshot {
  return {
    version: view.version,
    blockedTerms: new Set(view.blockedTerms),
    allowedModels: new Set(view.allowedModels),
    ...view.limits,
    minProviderStake: view.minProviderStake,
    ...view.fees,
    disputeWindow: view.disputeWindow,
    claimWindow: view.claimWindow,
    arbiter: view.arbiter.toLowerCase(),
    treasury: view.treasury.toLowerCase(),
  };
}
