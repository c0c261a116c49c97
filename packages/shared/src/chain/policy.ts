import { isError, type BlockTag } from "ethers";
import type { PolicySnapshot } from "../policy/snapshot.js";
import type { ContentPolicyContract } from "./contracts.js";
import { DeploymentError } from "./errors.js";

/**
 * Reads the whole content policy at one block: `blockTag` if given, else the
 * latest block number at the time of the call, so every value comes from the
 * same state. Hashes and addresses are lower-case 0x strings.
 *
 * @example
 * const policy = await readPolicy(connectContracts(provider, deployment).policy);
 * if (!policy.allowedModels.has(spec.model)) …
 */
export async function readPolicy(policy: ContentPolicyContract, blockTag?: BlockTag): Promise<PolicySnapshot> {
  let tag: BlockTag = blockTag ?? "latest";
  if (blockTag === undefined) {
    const provider = policy.runner?.provider;
    if (provider) tag = await provider.getBlockNumber();
  }
  const at = { blockTag: tag };
  let values;
  try {
    values = await Promise.all([
      policy.version(at),
      policy.blockedTerms(at),
      policy.allowedModels(at),
      policy.limits(at),
      policy.minProviderStake(at),
      policy.fees(at),
      policy.windows(at),
      policy.arbiter(at),
      policy.treasury(at),
    ]);
  } catch (cause) {
    // An empty result means there is no contract at that address (at that block).
    if (isError(cause, "BAD_DATA") && cause.value === "0x") {
      throw new DeploymentError(`There is no ContentPolicy at ${String(policy.target)} at block ${String(tag)}.`, {
        cause,
        hint: "Check that the deployment file is for this chain, and that the block is after the deployment.",
      });
    }
    throw cause;
  }
  const [version, blockedTerms, allowedModels, limits, minProviderStake, fees, windows, arbiter, treasury] = values;
  return {
    version,
    blockedTerms: new Set(blockedTerms.map((t) => t.toLowerCase())),
    allowedModels: new Set(allowedModels.map((m) => m.toLowerCase())),
    maxSeconds: Number(limits.maxSeconds),
    maxWidth: Number(limits.maxWidth),
    maxHeight: Number(limits.maxHeight),
    maxFps: Number(limits.maxFps),
    minProviderStake,
    coordinatorFeeBps: Number(fees.coordinatorFeeBps),
    treasuryFeeBps: Number(fees.treasuryFeeBps),
    disputeWindow: windows.disputeSeconds,
    claimWindow: windows.claimSeconds,
    arbiter: arbiter.toLowerCase(),
    treasury: treasury.toLowerCase(),
  };
}
