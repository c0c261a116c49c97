import { getAddress, ZeroAddress } from "ethers";
import type { ChainError } from "../errors.js";
import { clock, governorContract, read, timelockContract, tokenContract } from "./internal.js";
import type { DaoClient } from "./types.js";

export interface GetGovernanceParameters {
  /** Also report this account's balance, delegate and votes. */
  account?: string | undefined;
}

export interface GovernanceSettings {
  governor: string;
  timelock: string;
  token: string;
  name: string;
  tokenSymbol: string;
  /** Blocks between a proposal and the start of voting. */
  votingDelay: bigint;
  /** Blocks voting lasts. */
  votingPeriod: bigint;
  /** Votes needed to propose. */
  proposalThreshold: bigint;
  quorumNumerator: bigint;
  quorumDenominator: bigint;
  /** Votes (for + abstain) a proposal made now would need. */
  quorum: bigint;
  /** Seconds between queue and execute. */
  timelockDelay: bigint;
  totalSupply: bigint;
  currentBlock: bigint;
  account?: { address: string; balance: bigint; delegatee: string | null; votes: bigint } | undefined;
}

export type GetGovernanceReturnType = GovernanceSettings;
export type GetGovernanceErrorType = ChainError;

/**
 * The DAO's rules as they stand (voting delay and period, threshold, quorum,
 * timelock delay) and, for an account, its balance, delegate and votes.
 *
 * @example
 * const g = await getGovernance(client, { account: "0x…" });
 * if (g.account?.votes === 0n) console.log("delegate first");
 */
export async function getGovernance(client: DaoClient, params: GetGovernanceParameters = {}): Promise<GetGovernanceReturnType> {
  const governor = governorContract(client);
  const token = tokenContract(client);
  const timelock = timelockContract(client);
  const ctx = { doing: "read the DAO settings" };
  const current = await clock(client);
  const [
    name,
    votingDelay,
    votingPeriod,
    proposalThreshold,
    quorumNumerator,
    quorumDenominator,
    quorum,
    timelockDelay,
    tokenSymbol,
    totalSupply,
  ] = await Promise.all([
    read<string>(governor, "name", [], ctx),
    read<bigint>(governor, "votingDelay", [], ctx),
    read<bigint>(governor, "votingPeriod", [], ctx),
    read<bigint>(governor, "proposalThreshold", [], ctx),
    read<bigint>(governor, "quorumNumerator", [], ctx),
    read<bigint>(governor, "quorumDenominator", [], ctx),
    read<bigint>(governor, "quorum", [current - 1n], ctx),
    read<bigint>(timelock, "getMinDelay", [], ctx),
    read<string>(token, "symbol", [], ctx),
    read<bigint>(token, "totalSupply", [], ctx),
  ]);
  let account: GovernanceSettings["account"];
  if (params.account) {
    const address = getAddress(params.account);
    const [balance, delegatee, votes] = await Promise.all([
      read<bigint>(token, "balanceOf", [address], ctx),
      read<string>(token, "delegates", [address], ctx),
      read<bigint>(token, "getVotes", [address], ctx),
    ]);
    account = { address, balance, delegatee: delegatee === ZeroAddress ? null : getAddress(delegatee), votes };
  }
  return {
    governor: getAddress(client.deployment.governor),
    timelock: getAddress(client.deployment.timelock),
    token: getAddress(client.deployment.token),
    name,
    tokenSymbol,
    votingDelay,
    votingPeriod,
    proposalThreshold,
    quorumNumerator,
    quorumDenominator,
    quorum,
    timelockDelay,
    totalSupply,
    currentBlock: current,
    account,
  };
}
