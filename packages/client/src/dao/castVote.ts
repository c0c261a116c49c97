import { UsageError } from "@rendermesh/shared";
import { getAddress, ZeroAddress } from "ethers";
import type { ChainError } from "../errors.js";
import { AlreadyVotedError, NoVotingPowerError, type ProposalNotFoundError, VotingClosedError, VotingNotStartedError } from "./errors.js";
import { formatMesh } from "./format.js";
import { getProposal } from "./getProposal.js";
import { governorContract, read, send, signerAddress, tokenContract } from "./internal.js";
import { governorInterface } from "./interfaces.js";
import { type DaoClient, type SentTransaction, VOTE_SUPPORT, type VoteSupport } from "./types.js";

export interface CastVoteParameters {
  proposalId: bigint;
  support: VoteSupport;
  /** Recorded on-chain in the VoteCast event. */
  reason?: string | undefined;
}

export interface CastVoteReturnType extends SentTransaction {
  proposalId: bigint;
  voter: string;
  support: VoteSupport;
  /** Votes counted (the voter's delegated votes at the snapshot). */
  weight: bigint;
}

export type CastVoteErrorType =
  UsageError | ProposalNotFoundError | VotingNotStartedError | VotingClosedError | AlreadyVotedError | NoVotingPowerError | ChainError;

/**
 * Votes for, against or abstain on an active proposal with the signer's
 * votes at the proposal's snapshot. Refuses before any gas when voting has
 * not started or is over, when the signer has already voted, or when it had
 * no voting power at the snapshot.
 *
 * @example
 * await castVote(client, { proposalId, support: "for", reason: "keeps the network usable" });
 */
export async function castVote(client: DaoClient, params: CastVoteParameters): Promise<CastVoteReturnType> {
  const { proposalId, support } = params;
  if (!(support in VOTE_SUPPORT)) throw new UsageError(`A vote is for, against or abstain, not ${JSON.stringify(support)}.`);
  const voter = getAddress(await signerAddress(client, "vote"));
  const governor = governorContract(client);
  const ctx = { doing: `vote on proposal ${proposalId}`, proposalId, account: voter };

  const status = await getProposal(client, { proposalId, withCalls: false });
  const { snapshot, deadline } = status;
  // A vote sent now is mined in the next block: judge it by the state it will meet there.
  if (status.stateForNextBlock === "Pending") throw new VotingNotStartedError(proposalId, snapshot + 1n, status.currentBlock);
  if (status.stateForNextBlock !== "Active") {
    throw new VotingClosedError(proposalId, deadline, status.state === "Active" ? undefined : status.state);
  }
  if (await read<boolean>(governor, "hasVoted", [proposalId, voter], ctx)) throw new AlreadyVotedError(proposalId, voter);

  // Past votes can only be read for blocks before the latest; at the latest block they are the current votes.
  const power =
    snapshot < status.currentBlock
      ? await read<bigint>(governor, "getVotes", [voter, snapshot], ctx)
      : await read<bigint>(tokenContract(client), "getVotes", [voter], ctx);
  if (power === 0n) throw new NoVotingPowerError(snapshot, { hint: await noPowerHint(client, voter, snapshot) });

  const reason = params.reason ?? "";
  const sent = reason
    ? await send(client, governor, "castVoteWithReason", [proposalId, VOTE_SUPPORT[support], reason], { ...ctx, snapshot, deadline })
    : await send(client, governor, "castVote", [proposalId, VOTE_SUPPORT[support]], { ...ctx, snapshot, deadline });
  let weight = power;
  for (const log of sent.receipt.logs) {
    try {
      const parsed = governorInterface.parseLog({ topics: [...log.topics], data: log.data });
      if (parsed?.name === "VoteCast") weight = BigInt(parsed.args[3] as bigint);
    } catch {
      // another contract's log
    }
  }
  return { txHash: sent.txHash, blockNumber: sent.blockNumber, gasUsed: sent.gasUsed, proposalId, voter, support, weight };
}

async function noPowerHint(client: DaoClient, voter: string, snapshot: bigint): Promise<string> {
  const token = tokenContract(client);
  const ctx = { doing: "read your votes" };
  const [delegatee, balance] = await Promise.all([
    read<string>(token, "delegates", [voter], ctx),
    read<bigint>(token, "balanceOf", [voter], ctx),
  ]);
  if (delegatee === ZeroAddress) {
    return balance > 0n
      ? `Your ${formatMesh(balance)} are not delegated; delegate now and they count for proposals made from the next block on (this one's snapshot, block ${snapshot}, is fixed).`
      : "You hold no MESH and no one had delegated votes to you at that block.";
  }
  return `Your votes were delegated to ${getAddress(delegatee)}, or delegated after block ${snapshot}; they count for proposals made after you delegate.`;
}
