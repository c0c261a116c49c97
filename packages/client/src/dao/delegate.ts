import { UsageError } from "@rendermesh/shared";
import { getAddress, isAddress } from "ethers";
import type { ChainError } from "../errors.js";
import { read, send, signerAddress, tokenContract } from "./internal.js";
import type { DaoClient, SentTransaction } from "./types.js";

export interface DelegateParameters {
  /** Who receives the votes; default: the signer itself. */
  to?: string | undefined;
}

export interface DelegateReturnType {
  delegator: string;
  delegatee: string;
  /** Delegatee before this call (zero address when never delegated). */
  previousDelegatee: string;
  /** The delegator's MESH balance (base units): the votes moved. */
  balance: bigint;
  /** The delegatee's current votes after the call. */
  votes: bigint;
  /** Absent when the votes were already delegated to `delegatee`. */
  tx?: SentTransaction | undefined;
}
export type DelegateErrorType = UsageError | ChainError;

/**
 * Delegates the signer's MESH votes (ERC20Votes) to an address, by default to
 * itself. Tokens vote only once delegated, and a proposal counts the votes
 * delegated before its snapshot block. Does nothing if already delegated there.
 *
 * @example
 * await delegate(client);                    // self-delegate
 * await delegate(client, { to: "0xAbc…" });  // give your votes to someone
 */
export async function delegate(client: DaoClient, params: DelegateParameters = {}): Promise<DelegateReturnType> {
  const delegator = getAddress(await signerAddress(client, "delegate votes"));
  if (params.to !== undefined && !isAddress(params.to)) {
    throw new UsageError(`${JSON.stringify(params.to)} is not an address.`, {
      hint: "Give 0x followed by 40 hex digits, or nothing to delegate to yourself.",
    });
  }
  const delegatee = params.to === undefined ? delegator : getAddress(params.to);
  const token = tokenContract(client);
  const ctx = { doing: "delegate votes", account: delegator };
  const [previous, balance] = await Promise.all([
    read<string>(token, "delegates", [delegator], ctx),
    read<bigint>(token, "balanceOf", [delegator], ctx),
  ]);
  let tx: SentTransaction | undefined;
  if (getAddress(previous) !== delegatee) {
    const sent = await send(client, token, "delegate", [delegatee], ctx);
    tx = { txHash: sent.txHash, blockNumber: sent.blockNumber, gasUsed: sent.gasUsed };
  }
  const votes = await read<bigint>(token, "getVotes", [delegatee], ctx);
  return { delegator, delegatee, previousDelegatee: getAddress(previous), balance, votes, tx };
}
