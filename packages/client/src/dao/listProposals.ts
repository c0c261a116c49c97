import type { ChainError } from "../errors.js";
import { getProposal, type ProposalStatus } from "./getProposal.js";
import { scanProposals } from "./internal.js";
import { describeCall } from "./policyActions.js";
import { readStoredProposals } from "./store.js";
import type { DaoClient, ProposalRecord } from "./types.js";

export interface ListProposalsParameters {
  /** First block to scan; default the deployment's start block. */
  fromBlock?: number | undefined;
}

export type ListedProposal = ProposalStatus & { record: ProposalRecord };
/** Newest first. */
export type ListProposalsReturnType = ListedProposal[];
export type ListProposalsErrorType = ChainError;

/**
 * Every proposal on the governor — made by anyone, with any tool — from its
 * `ProposalCreated` logs (plus any this client stored), newest first, each
 * with its state and tally.
 *
 * @example
 * for (const p of await listProposals(client)) console.log(p.proposalId, p.state, p.description);
 */
export async function listProposals(client: DaoClient, params: ListProposalsParameters = {}): Promise<ListProposalsReturnType> {
  const latest = await client.provider.getBlockNumber();
  const found = await scanProposals(client, params.fromBlock ?? client.deployment.startBlock ?? 0, latest);
  const byId = new Map<bigint, ProposalRecord>(found.map((r) => [r.proposalId, r]));
  if (client.dataDir)
    for (const r of readStoredProposals(client.dataDir, client.deployment)) if (!byId.has(r.proposalId)) byId.set(r.proposalId, r);
  const records = [...byId.values()].sort((a, b) => (b.voteStart > a.voteStart ? 1 : b.voteStart < a.voteStart ? -1 : 0));
  const out: ListedProposal[] = [];
  for (const record of records) {
    const status = await getProposal(client, { proposalId: record.proposalId, withCalls: false });
    out.push({
      ...status,
      description: record.description,
      calls: record.targets.map((target, i) => ({
        target,
        value: record.values[i]!,
        calldata: record.calldatas[i]!,
        summary: describeCall(target, record.values[i]!, record.calldatas[i]!, client.deployment.policy),
      })),
      record,
    });
  }
  return out;
}
