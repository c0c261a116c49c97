import type { Provider, Signer } from "ethers";

/** The addresses the DAO actions need, as in `deployments/<chainId>.json`. */
export interface DaoDeployment {
  chainId: number;
  token: string;
  policy: string;
  governor: string;
  timelock: string;
  /** First block to scan for `ProposalCreated` logs (the deployment block). */
  startBlock?: number | undefined;
}

/**
 * What every DAO action takes: a provider for reads, a signer for
 * transactions, the deployment, and optionally the client data dir where
 * proposals this client creates are remembered. The job actions'
 * `RendermeshClient` fits this shape.
 */
export interface DaoClient {
  provider: Provider;
  /** Signs transactions (delegate, propose, vote, queue, execute). */
  signer?: Signer | undefined;
  /** Used when `signer` is absent, so a `RendermeshClient` (which has `wallet`) works as a DaoClient too. */
  wallet?: Signer | undefined;
  deployment: DaoDeployment;
  /** Client data dir; proposals created here are stored under `<dataDir>/dao/`. */
  dataDir?: string | undefined;
}

/** OpenZeppelin `IGovernor.ProposalState`, by index. */
export const PROPOSAL_STATES = ["Pending", "Active", "Canceled", "Defeated", "Succeeded", "Queued", "Expired", "Executed"] as const;
export type ProposalState = (typeof PROPOSAL_STATES)[number];

export function proposalStateName(index: bigint | number): ProposalState {
  const name = PROPOSAL_STATES[Number(index)];
  if (name === undefined) throw new RangeError(`Unknown proposal state ${index}.`);
  return name;
}

/** `GovernorCountingSimple.VoteType`. */
export const VOTE_SUPPORT = { against: 0, for: 1, abstain: 2 } as const;
export type VoteSupport = keyof typeof VOTE_SUPPORT;

/** The calls a proposal makes, exactly as `propose` took them. */
export interface ProposalCalls {
  targets: string[];
  values: bigint[];
  calldatas: string[];
  description: string;
}

/** A proposal as `propose` created it, rebuilt from a store or from its `ProposalCreated` log. */
export interface ProposalRecord extends ProposalCalls {
  proposalId: bigint;
  proposer: string;
  /** Block after which voting opens (the votes snapshot). */
  voteStart: bigint;
  /** Last block of voting. */
  voteEnd: bigint;
  blockNumber?: number | undefined;
  txHash?: string | undefined;
}

/** Transaction sent by an action. */
export interface SentTransaction {
  txHash: string;
  blockNumber: number;
  gasUsed: bigint;
}
