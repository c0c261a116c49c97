import { governorContract, read, scanProposals } from "./internal.js";
import { ProposalNotFoundError } from "./errors.js";
import { readStoredProposals } from "./store.js";
import type { DaoClient, ProposalRecord } from "./types.js";

export interface GetProposalRecordParameters {
  proposalId: bigint;
}
export type GetProposalRecordReturnType = ProposalRecord;
export type GetProposalRecordErrorType = ProposalNotFoundError;

/**
 * Rebuilds a proposal's targets, values, calldatas and description — what
 * `queue` and `execute` must send again — from the client's store, else from
 * the governor's `ProposalCreated` log, so it works for proposals made by
 * anyone with any tool.
 *
 * @example
 * const p = await getProposalRecord(client, { proposalId });
 * console.log(p.description, p.targets.length);
 */
export async function getProposalRecord(client: DaoClient, params: GetProposalRecordParameters): Promise<GetProposalRecordReturnType> {
  const { proposalId } = params;
  if (client.dataDir) {
    const stored = readStoredProposals(client.dataDir, client.deployment).find((r) => r.proposalId === proposalId);
    if (stored) return stored;
  }
  const governor = governorContract(client);
  const doing = `look up proposal ${proposalId}`;
  const snapshot = await read<bigint>(governor, "proposalSnapshot", [proposalId], { doing, proposalId });
  if (snapshot === 0n) throw new ProposalNotFoundError(proposalId, client.deployment.governor);

  // The proposal was created at block snapshot - votingDelay (if the delay has not changed since): look there first.
  const delay = await read<bigint>(governor, "votingDelay", [], { doing, proposalId });
  const guess = Number(snapshot - delay);
  if (guess >= 0) {
    const hit = (await scanProposals(client, guess, guess)).find((r) => r.proposalId === proposalId);
    if (hit) return hit;
  }
  const latest = await client.provider.getBlockNumber();
  const to = Math.min(latest, Number(snapshot));
  const hit = (await scanProposals(client, client.deployment.startBlock ?? 0, to)).find((r) => r.proposalId === proposalId);
  if (!hit)
    throw new ProposalNotFoundError(proposalId, client.deployment.governor, {
      details: ["The governor knows the id but its ProposalCreated log was not found."],
    });
  return hit;
}
