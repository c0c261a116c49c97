import { id as keccakUtf8 } from "ethers";
import type { ChainError } from "../errors.js";
import { governorInterface } from "./interfaces.js";
import { type ProposalNotFoundError, ProposalStateError } from "./errors.js";
import { getProposal, type ProposalStatus } from "./getProposal.js";
import { getProposalRecord } from "./getProposalRecord.js";
import { governorContract, read, send } from "./internal.js";
import type { DaoClient, SentTransaction } from "./types.js";

export interface QueueProposalParameters {
  proposalId: bigint;
}

export interface QueueProposalReturnType extends SentTransaction {
  proposalId: bigint;
  /** When the timelock lets it be executed (unix seconds). */
  eta: bigint;
}

export type QueueProposalErrorType = ProposalNotFoundError | ProposalStateError | ChainError;

/** Why a proposal in `status.state` cannot be queued, or undefined when it can. */
export function queueRefusal(status: ProposalStatus): ProposalStateError | undefined {
  const id = status.proposalId;
  const hint = status.next;
  switch (status.stateForNextBlock) {
    case "Succeeded":
      return undefined;
    case "Pending":
    case "Active":
      return new ProposalStateError(
        status.stateForNextBlock,
        `Proposal ${id} cannot be queued yet: voting is open until block ${status.deadline}.`,
        { hint },
      );
    case "Defeated":
      return new ProposalStateError(
        "Defeated",
        `Proposal ${id} was defeated (${status.quorumReached ? "more votes against than for" : "quorum not reached"}), so it cannot be queued.`,
        { hint: "Nothing changes; make a new proposal to try again." },
      );
    case "Queued":
      return new ProposalStateError("Queued", `Proposal ${id} is queued already.`, { hint });
    default:
      return new ProposalStateError(status.stateForNextBlock, `Proposal ${id} is ${status.stateForNextBlock}, so it cannot be queued.`, {
        hint,
      });
  }
}

/**
 * Queues a succeeded proposal in the timelock (anyone may). The calls are
 * rebuilt from the client's store or the proposal's `ProposalCreated` log.
 *
 * @example
 * const { eta } = await queueProposal(client, { proposalId });
 * console.log(`executable at ${new Date(Number(eta) * 1000).toISOString()}`);
 */
export async function queueProposal(client: DaoClient, params: QueueProposalParameters): Promise<QueueProposalReturnType> {
  const { proposalId } = params;
  const status = await getProposal(client, { proposalId, withCalls: false });
  const refusal = queueRefusal(status);
  if (refusal) throw refusal;
  const record = await getProposalRecord(client, { proposalId });
  const governor = governorContract(client);
  const ctx = { doing: `queue proposal ${proposalId}`, proposalId };
  const sent = await send(
    client,
    governor,
    "queue",
    [record.targets, record.values, record.calldatas, keccakUtf8(record.description)],
    ctx,
  );
  let eta: bigint | undefined;
  for (const log of sent.receipt.logs) {
    try {
      const parsed = governorInterface.parseLog({ topics: [...log.topics], data: log.data });
      if (parsed?.name === "ProposalQueued") eta = BigInt(parsed.args[1] as bigint);
    } catch {
      // another contract's log
    }
  }
  eta ??= await read<bigint>(governor, "proposalEta", [proposalId], ctx);
  return { txHash: sent.txHash, blockNumber: sent.blockNumber, gasUsed: sent.gasUsed, proposalId, eta };
}
