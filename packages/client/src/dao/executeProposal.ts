import { id as keccakUtf8 } from "ethers";
import type { ChainError } from "../errors.js";
import { type ProposalNotFoundError, ProposalNotQueuedError, ProposalStateError, type TimelockNotReadyError } from "./errors.js";
import { getProposal, type ProposalStatus } from "./getProposal.js";
import { getProposalRecord } from "./getProposalRecord.js";
import { governorContract, policyContract, read, send } from "./internal.js";
import type { DaoClient, SentTransaction } from "./types.js";

export interface ExecuteProposalParameters {
  proposalId: bigint;
}

export interface ExecuteProposalReturnType extends SentTransaction {
  proposalId: bigint;
  /** `ContentPolicy.version()` after execution: jobs opened from the next block on use it. */
  policyVersion: bigint;
}

export type ExecuteProposalErrorType =
  ProposalNotFoundError | ProposalNotQueuedError | TimelockNotReadyError | ProposalStateError | ChainError;

/** Why a proposal cannot be executed now, or undefined when only the timelock's clock can still say no. */
export function executeRefusal(status: ProposalStatus): ProposalStateError | ProposalNotQueuedError | undefined {
  const id = status.proposalId;
  switch (status.stateForNextBlock) {
    case "Queued":
      return undefined;
    case "Succeeded":
      return new ProposalNotQueuedError(id, "Succeeded");
    case "Pending":
    case "Active":
      return new ProposalStateError(
        status.stateForNextBlock,
        `Proposal ${id} cannot be executed yet: voting is open until block ${status.deadline}, then it must be queued.`,
        {
          hint: status.next,
        },
      );
    case "Defeated":
      return new ProposalStateError(
        "Defeated",
        `Proposal ${id} was defeated (${status.quorumReached ? "more votes against than for" : "quorum not reached"}), so it cannot be executed.`,
        {
          hint: "Nothing changes; make a new proposal to try again.",
        },
      );
    case "Executed":
      return new ProposalStateError("Executed", `Proposal ${id} was executed already.`, {
        hint: "`rendermesh policy show` shows the policy in force.",
      });
    default:
      return new ProposalStateError(status.stateForNextBlock, `Proposal ${id} is ${status.stateForNextBlock}, so it cannot be executed.`, {
        hint: status.next,
      });
  }
}

/**
 * Executes a queued proposal once its timelock delay has passed (anyone
 * may): the timelock makes the proposal's calls to `ContentPolicy`, whose
 * version increments. Refuses a proposal that is not queued, and one whose
 * delay has not passed, naming the time it will be ready.
 *
 * @example
 * const { policyVersion } = await executeProposal(client, { proposalId });
 */
export async function executeProposal(client: DaoClient, params: ExecuteProposalParameters): Promise<ExecuteProposalReturnType> {
  const { proposalId } = params;
  const status = await getProposal(client, { proposalId, withCalls: false });
  const refusal = executeRefusal(status);
  if (refusal) throw refusal;
  const record = await getProposalRecord(client, { proposalId });
  const ctx = { doing: `execute proposal ${proposalId}`, proposalId, eta: status.eta ?? undefined, now: status.now };
  // The timelock's own check decides readiness (the next block's timestamp is what counts): a revert with
  // TimelockUnexpectedOperationState becomes TimelockNotReadyError naming the ETA.
  const sent = await send(
    client,
    governorContract(client),
    "execute",
    [record.targets, record.values, record.calldatas, keccakUtf8(record.description)],
    ctx,
  );
  const policyVersion = await read<bigint>(policyContract(client), "version", [], { doing: "read the policy version" });
  return { txHash: sent.txHash, blockNumber: sent.blockNumber, gasUsed: sent.gasUsed, proposalId, policyVersion };
}
