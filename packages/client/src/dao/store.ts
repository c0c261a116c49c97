import { AbiCoder, id as keccakUtf8, keccak256 } from "ethers";
import { Journal } from "../journal/journal.js";
import type { DaoDeployment, ProposalCalls, ProposalRecord } from "./types.js";

/**
 * Proposals this client created, kept in the client's journal (SQLite, in
 * the data dir) so `queue` and `execute` can rebuild targets and calldatas
 * without scanning logs. They used to be one JSON file per chain and governor
 * (`<dataDir>/dao/<chainId>-<governor>.json`); the journal imports those once
 * (its migration 2). The chain stays the source of truth: every record is
 * checked against its id before use, and logs are the fallback.
 */

/** `Governor.hashProposal`: keccak256(abi.encode(targets, values, calldatas, keccak256(description))). */
export function hashProposal(calls: ProposalCalls): bigint {
  const encoded = AbiCoder.defaultAbiCoder().encode(
    ["address[]", "uint256[]", "bytes[]", "bytes32"],
    [calls.targets, calls.values, calls.calldatas, keccakUtf8(calls.description)],
  );
  return BigInt(keccak256(encoded));
}

interface StoredProposal {
  proposalId: string;
  proposer: string;
  targets: string[];
  values: string[];
  calldatas: string[];
  description: string;
  voteStart: string;
  voteEnd: string;
  blockNumber?: number | undefined;
  txHash?: string | undefined;
}

function toStored(r: ProposalRecord): StoredProposal {
  return {
    proposalId: r.proposalId.toString(),
    proposer: r.proposer,
    targets: r.targets,
    values: r.values.map(String),
    calldatas: r.calldatas,
    description: r.description,
    voteStart: r.voteStart.toString(),
    voteEnd: r.voteEnd.toString(),
    blockNumber: r.blockNumber,
    txHash: r.txHash,
  };
}

function fromStored(s: StoredProposal): ProposalRecord {
  return {
    proposalId: BigInt(s.proposalId),
    proposer: s.proposer,
    targets: s.targets,
    values: s.values.map((v) => BigInt(v)),
    calldatas: s.calldatas,
    description: s.description,
    voteStart: BigInt(s.voteStart),
    voteEnd: BigInt(s.voteEnd),
    blockNumber: s.blockNumber,
    txHash: s.txHash,
  };
}

/** Every stored proposal whose calls still hash to its id (a corrupt or edited entry is ignored). */
export function readStoredProposals(dataDir: string, deployment: DaoDeployment): ProposalRecord[] {
  const journal = Journal.open(dataDir);
  let rows: string[];
  try {
    rows = journal.daoProposals(deployment.chainId, deployment.governor);
  } finally {
    journal.close();
  }
  const out: ProposalRecord[] = [];
  for (const row of rows) {
    try {
      const r = fromStored(JSON.parse(row) as StoredProposal);
      if (hashProposal(r) === r.proposalId) out.push(r);
    } catch {
      // skip a malformed entry
    }
  }
  return out;
}

/** Adds or replaces a proposal in the store (one SQLite transaction). */
export function storeProposal(dataDir: string, deployment: DaoDeployment, record: ProposalRecord): void {
  const journal = Journal.open(dataDir);
  try {
    journal.putDaoProposal(deployment.chainId, deployment.governor, record.proposalId.toString(), JSON.stringify(toStored(record)));
  } finally {
    journal.close();
  }
}
