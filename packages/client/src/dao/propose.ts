import { UsageError } from "@rendermesh/shared";
import { getAddress } from "ethers";
import type { ChainError } from "../errors.js";
import { InsufficientProposerVotesError, mapGovernanceError, PolicyChangeRejectedError, ProposalExistsError } from "./errors.js";
import { governorContract, parseProposalCreated, policyContract, read, send, signerAddress, tokenContract } from "./internal.js";
import { encodePolicyAction, type PolicyAction, type PolicyCall } from "./policyActions.js";
import { hashProposal, storeProposal } from "./store.js";
import { type DaoClient, proposalStateName, type ProposalRecord, type SentTransaction } from "./types.js";

export interface ProposeParameters {
  /** The policy changes, run in this order by the timelock. */
  actions: PolicyAction[];
  /** Shown to voters; part of the proposal id, so the same change needs a new description to be proposed again. */
  description: string;
  /** Run each call as the timelock would (eth_call from the timelock) before proposing. Default true. */
  simulate?: boolean | undefined;
}

export interface ProposeReturnType extends SentTransaction {
  proposalId: bigint;
  proposer: string;
  calls: PolicyCall[];
  description: string;
  /** Votes are counted as they stand at this block; voting opens the block after. */
  voteStart: bigint;
  /** Last block of voting. */
  voteEnd: bigint;
  /** Things the proposer should know, e.g. a term that normalisation changed. */
  warnings: string[];
}

export type ProposeErrorType = UsageError | ProposalExistsError | InsufficientProposerVotesError | PolicyChangeRejectedError | ChainError;

/**
 * Proposes content-policy changes to the DAO. Each action becomes a call
 * from the timelock to `ContentPolicy`; the proposal id is the Governor's
 * `hashProposal(targets, values, calldatas, keccak256(description))`. Before
 * any gas it checks the proposer's votes against the threshold, that the
 * proposal does not exist yet, and that every call would succeed if the
 * timelock ran it now. The proposal is remembered in the client data dir.
 *
 * @example
 * const { proposalId } = await propose(client, {
 *   actions: [{ type: "block-term", terms: ["red fox"] }],
 *   description: "Block \"red fox\"",
 * });
 */
export async function propose(client: DaoClient, params: ProposeParameters): Promise<ProposeReturnType> {
  const description = params.description;
  if (description.trim() === "") throw new UsageError("A proposal needs a description.", { hint: 'Pass --description "what and why".' });
  if (params.actions.length === 0) throw new UsageError("A proposal needs at least one action.");
  const policyAddress = getAddress(client.deployment.policy);
  const calls = params.actions.map((a) => encodePolicyAction(a, policyAddress));
  const proposer = getAddress(await signerAddress(client, "propose"));
  const targets = calls.map((c) => c.target);
  const values = calls.map((c) => c.value);
  const calldatas = calls.map((c) => c.calldata);
  const proposalId = hashProposal({ targets, values, calldatas, description });

  const warnings: string[] = [];
  for (const c of calls) {
    for (const t of c.terms ?? []) {
      if (t.changed) warnings.push(`${JSON.stringify(t.input)} is normalised to ${JSON.stringify(t.normalised)}; that is what will match.`);
    }
  }

  const governor = governorContract(client);
  const doing = "propose";
  const ctx = { doing, proposalId, account: proposer };
  const snapshot = await read<bigint>(governor, "proposalSnapshot", [proposalId], ctx);
  if (snapshot !== 0n) {
    const state = proposalStateName(await read<bigint>(governor, "state", [proposalId], ctx));
    throw new ProposalExistsError(proposalId, state);
  }

  const threshold = await read<bigint>(governor, "proposalThreshold", [], ctx);
  if (threshold > 0n) {
    // The governor checks the votes at the block before the proposal's, i.e. the latest block now: the current votes.
    const votes = await read<bigint>(tokenContract(client), "getVotes", [proposer], ctx);
    if (votes < threshold) throw new InsufficientProposerVotesError(votes, threshold);
  }

  if (params.simulate ?? true) await simulateAsTimelock(client, calls);

  const sent = await send(client, governor, "propose", [targets, values, calldatas, description], ctx);
  const created = parseProposalCreated(
    sent.receipt.logs.filter((l) => l.address.toLowerCase() === client.deployment.governor.toLowerCase()),
  );
  const event = created.find((r) => r.proposalId === proposalId);
  const record: ProposalRecord = event ?? {
    proposalId,
    proposer,
    targets,
    values,
    calldatas,
    description,
    voteStart: await read<bigint>(governor, "proposalSnapshot", [proposalId], ctx),
    voteEnd: await read<bigint>(governor, "proposalDeadline", [proposalId], ctx),
    blockNumber: sent.blockNumber,
    txHash: sent.txHash,
  };
  if (client.dataDir) storeProposal(client.dataDir, client.deployment, record);
  return {
    txHash: sent.txHash,
    blockNumber: sent.blockNumber,
    gasUsed: sent.gasUsed,
    proposalId,
    proposer,
    calls,
    description,
    voteStart: record.voteStart,
    voteEnd: record.voteEnd,
    warnings,
  };
}

/**
 * Runs each call as the timelock would, against the current policy, so a
 * change that would revert at execution (a term blocked already, fees over
 * 100 %) is refused before anyone spends gas on it.
 */
async function simulateAsTimelock(client: DaoClient, calls: PolicyCall[]): Promise<void> {
  const policy = policyContract(client);
  for (const c of calls) {
    for (const t of c.terms ?? []) {
      const blocked = await read<boolean>(policy, "isBlockedTerm", [t.hash], { doing: "read the policy" });
      const blocking = c.summary.startsWith("block");
      if (blocking && blocked) {
        throw new PolicyChangeRejectedError(`The term ${JSON.stringify(t.normalised)} is blocked already.`, {
          hint: "Leave it out of the proposal.",
        });
      }
      if (!blocking && !blocked) {
        throw new PolicyChangeRejectedError(`The term ${JSON.stringify(t.normalised)} is not blocked, so it cannot be unblocked.`, {
          hint: "Check the spelling: terms are matched after normalisation (docs/policy.md).",
        });
      }
    }
    try {
      await client.provider.call({ from: client.deployment.timelock, to: c.target, data: c.calldata, value: c.value });
    } catch (err) {
      throw mapGovernanceError(err, { doing: `check "${c.summary}"` });
    }
  }
}
