import { ProposalNotFoundError } from "./errors.js";
import { getProposalRecord } from "./getProposalRecord.js";
import { clock, governorContract, latestTimestamp, read } from "./internal.js";
import { describeCall } from "./policyActions.js";
import { type DaoClient, type ProposalState, proposalStateName } from "./types.js";

export interface GetProposalParameters {
  proposalId: bigint;
  /** Also rebuild the description and calls (store or logs). Default true. */
  withCalls?: boolean | undefined;
}

export interface ProposalCallSummary {
  target: string;
  value: bigint;
  calldata: string;
  summary: string;
}

export interface ProposalStatus {
  proposalId: bigint;
  /** The state as of the latest block (what `state()` returns now). */
  state: ProposalState;
  /**
   * The state a transaction sent now meets: it is mined in the next block, so
   * a proposal whose snapshot is the latest block can already be voted on,
   * and one whose deadline is the latest block can already be queued.
   */
  stateForNextBlock: ProposalState;
  proposer: string;
  description?: string | undefined;
  calls?: ProposalCallSummary[] | undefined;
  /** Votes are counted as they stood at this block. */
  snapshot: bigint;
  /** First block in which a vote counts (snapshot + 1). */
  votingStartsAtBlock: bigint;
  /** Last block in which a vote counts. */
  deadline: bigint;
  /** The governor's clock: the latest block. */
  currentBlock: bigint;
  votes: { for: bigint; against: bigint; abstain: bigint };
  /** Votes (for + abstain) needed; read at the snapshot, or estimated from the latest block while the proposal is pending. */
  quorum: bigint;
  quorumIsEstimate: boolean;
  quorumReached: boolean;
  /** For > against. */
  majorityFor: boolean;
  /** Timelock ETA in unix seconds once queued, else null. */
  eta: bigint | null;
  /** Latest block's timestamp (unix seconds). */
  now: bigint;
  /** First block from which a successful proposal can be queued (deadline + 1). */
  queueableFromBlock: bigint;
  /** One sentence: what can happen next, and when. */
  next: string;
}

export type GetProposalReturnType = ProposalStatus;
export type GetProposalErrorType = ProposalNotFoundError;

const iso = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString();

/**
 * The state of a proposal, its tally against the quorum, and when it can be
 * voted on, queued or executed.
 *
 * @example
 * const s = await getProposal(client, { proposalId });
 * console.log(s.state, s.votes.for, s.quorum, s.next);
 */
export async function getProposal(client: DaoClient, params: GetProposalParameters): Promise<GetProposalReturnType> {
  const { proposalId } = params;
  const governor = governorContract(client);
  const ctx = { doing: `read proposal ${proposalId}`, proposalId };
  const snapshot = await read<bigint>(governor, "proposalSnapshot", [proposalId], ctx);
  if (snapshot === 0n) throw new ProposalNotFoundError(proposalId, client.deployment.governor);

  const [stateIndex, deadline, proposer, etaRaw, tally, current, now] = await Promise.all([
    read<bigint>(governor, "state", [proposalId], ctx),
    read<bigint>(governor, "proposalDeadline", [proposalId], ctx),
    read<string>(governor, "proposalProposer", [proposalId], ctx),
    read<bigint>(governor, "proposalEta", [proposalId], ctx),
    read<[bigint, bigint, bigint]>(governor, "proposalVotes", [proposalId], ctx),
    clock(client),
    latestTimestamp(client),
  ]);
  const state = proposalStateName(stateIndex);
  const quorumIsEstimate = snapshot >= current;
  const quorum = await read<bigint>(governor, "quorum", [quorumIsEstimate ? current - 1n : snapshot], ctx);
  const votes = { against: tally[0], for: tally[1], abstain: tally[2] };
  const quorumReached = votes.for + votes.abstain >= quorum;
  const majorityFor = votes.for > votes.against;
  const eta = etaRaw === 0n ? null : etaRaw;

  let description: string | undefined;
  let calls: ProposalCallSummary[] | undefined;
  if (params.withCalls ?? true) {
    try {
      const record = await getProposalRecord(client, { proposalId });
      description = record.description;
      calls = record.targets.map((target, i) => ({
        target,
        value: record.values[i]!,
        calldata: record.calldatas[i]!,
        summary: describeCall(target, record.values[i]!, record.calldatas[i]!, client.deployment.policy),
      }));
    } catch {
      // The status stands without the calls (e.g. logs pruned by the RPC).
    }
  }

  const next = current + 1n;
  const stateForNextBlock: ProposalState =
    state !== "Pending" && state !== "Active"
      ? state
      : next <= snapshot
        ? "Pending"
        : next <= deadline
          ? "Active"
          : quorumReached && majorityFor
            ? "Succeeded"
            : "Defeated";

  const status: ProposalStatus = {
    proposalId,
    state,
    stateForNextBlock,
    proposer,
    description,
    calls,
    snapshot,
    votingStartsAtBlock: snapshot + 1n,
    deadline,
    currentBlock: current,
    votes,
    quorum,
    quorumIsEstimate,
    quorumReached,
    majorityFor,
    eta,
    now,
    queueableFromBlock: deadline + 1n,
    next: "",
  };
  status.next = nextStep(status);
  return status;
}

/** What can happen next to a proposal, as one sentence. */
export function nextStep(s: ProposalStatus): string {
  const id = s.proposalId;
  switch (s.state) {
    case "Pending": {
      const n = s.votingStartsAtBlock - s.currentBlock;
      return `Voting starts at block ${s.votingStartsAtBlock} (in ${n} block${n === 1n ? "" : "s"}) and ends at block ${s.deadline}.`;
    }
    case "Active": {
      const left = s.deadline - s.currentBlock;
      const outlook =
        s.quorumReached && s.majorityFor
          ? "it is passing"
          : !s.quorumReached
            ? "quorum is not reached yet"
            : "it is failing (for ≤ against)";
      return `Voting is open until block ${s.deadline} (${left} block${left === 1n ? "" : "s"} left) and ${outlook}; if it succeeds it can be queued from block ${s.queueableFromBlock}.`;
    }
    case "Succeeded":
      return `It passed and can be queued now: \`rendermesh dao queue ${id}\`.`;
    case "Queued":
      if (s.eta !== null && s.eta > s.now)
        return `It is queued in the timelock and can be executed at ${iso(s.eta)} (in ${s.eta - s.now} s).`;
      return `It is queued and can be executed now: \`rendermesh dao execute ${id}\`.`;
    case "Defeated":
      return !s.quorumReached
        ? `It was defeated: quorum not reached (${s.votes.for + s.votes.abstain} of ${s.quorum} votes for or abstaining); it changes nothing.`
        : `It was defeated: ${s.votes.for} for against ${s.votes.against} against; it changes nothing.`;
    case "Executed":
      return "It was executed; the change is in force.";
    case "Canceled":
      return "It was canceled; it changes nothing.";
    case "Expired":
      return "It expired in the timelock without being executed; it changes nothing.";
  }
}
