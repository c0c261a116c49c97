import { Interface, type ErrorFragment, type InterfaceAbi } from "ethers";
import { contentPolicyAbi, meshGovernorAbi, meshTokenAbi, timelockAbi } from "@rendermesh/shared/chain";

/**
 * The governance contracts' interfaces, from the ABIs generated out of the
 * Hardhat artifacts (`scripts/export-abis.ts` → shared/chain), so what the DAO
 * actions call can never drift from what is deployed. A governance call goes
 * governor → timelock → policy (or token), and a revert deep in that chain
 * comes back through the governor: each contract is bound with every
 * governance contract's custom errors, so ethers names whichever was raised.
 */

const abis = [meshGovernorAbi, timelockAbi, contentPolicyAbi, meshTokenAbi] as unknown as InterfaceAbi[];

const allErrors = (() => {
  const seen = new Map<string, ErrorFragment>();
  for (const abi of abis) new Interface(abi).forEachError((e) => void (seen.has(e.format("sighash")) || seen.set(e.format("sighash"), e)));
  return [...seen.values()];
})();

/** `abi` with the custom errors of every governance contract it does not declare itself. */
function withGovernanceErrors(abi: InterfaceAbi): Interface {
  const own = new Interface(abi);
  const extra = allErrors.filter((e) => own.getError(e.selector) === null);
  return new Interface([...own.fragments, ...extra]);
}

export const governorInterface = withGovernanceErrors(meshGovernorAbi as unknown as InterfaceAbi);
export const timelockInterface = withGovernanceErrors(timelockAbi as unknown as InterfaceAbi);
export const votesTokenInterface = withGovernanceErrors(meshTokenAbi as unknown as InterfaceAbi);
export const policyInterface = withGovernanceErrors(contentPolicyAbi as unknown as InterfaceAbi);

/** Every custom error a governance transaction can revert with, wherever in the call chain it was raised. */
export const governanceErrorsInterface = new Interface(allErrors);
