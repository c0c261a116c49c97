import { UsageError } from "@rendermesh/shared";
import { Contract, type Log, type Signer, type TransactionReceipt } from "ethers";
import { governorInterface, policyInterface, timelockInterface, votesTokenInterface } from "./interfaces.js";
import { type GovernanceErrorContext, mapGovernanceError } from "./errors.js";
import type { DaoClient, ProposalRecord, SentTransaction } from "./types.js";

/** Helpers the DAO actions share; not exported from the package. */

export const governorContract = (client: DaoClient) => new Contract(client.deployment.governor, governorInterface, client.provider);
export const tokenContract = (client: DaoClient) => new Contract(client.deployment.token, votesTokenInterface, client.provider);
export const timelockContract = (client: DaoClient) => new Contract(client.deployment.timelock, timelockInterface, client.provider);
export const policyContract = (client: DaoClient) => new Contract(client.deployment.policy, policyInterface, client.provider);

/** A view call; failures are mapped to one-sentence errors. */
export async function read<T>(contract: Contract, name: string, args: unknown[], ctx: GovernanceErrorContext): Promise<T> {
  try {
    return (await contract.getFunction(name).staticCall(...args)) as T;
  } catch (err) {
    throw mapGovernanceError(err, ctx);
  }
}

function requireSigner(client: DaoClient, doing: string): Signer {
  const signer = client.signer ?? client.wallet;
  if (!signer) {
    throw new UsageError(`A wallet is needed to ${doing}.`, {
      hint: "Set RENDERMESH_PRIVATE_KEY or pass --keystore FILE.",
    });
  }
  return signer;
}

export async function signerAddress(client: DaoClient, doing: string): Promise<string> {
  return requireSigner(client, doing).getAddress();
}

/** Sends a transaction, waits for it, and maps any failure (estimate, revert, RPC) to one sentence. */
export async function send(
  client: DaoClient,
  contract: Contract,
  name: string,
  args: unknown[],
  ctx: GovernanceErrorContext,
): Promise<SentTransaction & { receipt: TransactionReceipt }> {
  const signer = requireSigner(client, ctx.doing);
  try {
    const tx = await (contract.connect(signer) as Contract).getFunction(name).send(...args);
    const receipt = await tx.wait();
    if (!receipt) throw new Error(`transaction ${tx.hash} was dropped`);
    return { txHash: receipt.hash, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed, receipt };
  } catch (err) {
    throw mapGovernanceError(err, ctx);
  }
}

/** The governor's clock (block number for MeshToken's votes): the block a transaction sent now is judged against, less one. */
export async function clock(client: DaoClient): Promise<bigint> {
  return read<bigint>(governorContract(client), "clock", [], { doing: "read the governor's clock" });
}

export async function latestTimestamp(client: DaoClient): Promise<bigint> {
  const block = await client.provider.getBlock("latest");
  return BigInt(block?.timestamp ?? Math.floor(Date.now() / 1000));
}

/** Parses `ProposalCreated` logs into records. */
export function parseProposalCreated(logs: readonly Log[]): ProposalRecord[] {
  const out: ProposalRecord[] = [];
  for (const log of logs) {
    let parsed;
    try {
      parsed = governorInterface.parseLog({ topics: [...log.topics], data: log.data });
    } catch {
      continue;
    }
    if (!parsed || parsed.name !== "ProposalCreated") continue;
    const a = parsed.args;
    out.push({
      proposalId: BigInt(a[0] as bigint),
      proposer: String(a[1]),
      targets: [...(a[2] as string[])].map(String),
      values: [...(a[3] as bigint[])].map((v) => BigInt(v)),
      calldatas: [...(a[5] as string[])].map(String),
      voteStart: BigInt(a[6] as bigint),
      voteEnd: BigInt(a[7] as bigint),
      description: String(a[8]),
      blockNumber: log.blockNumber,
      txHash: log.transactionHash,
    });
  }
  return out;
}

const PROPOSAL_CREATED = governorInterface.getEvent("ProposalCreated")!.topicHash;

/** `ProposalCreated` logs of the governor in [from, to], fetched in chunks (public RPCs cap a log range). */
export async function scanProposals(client: DaoClient, from: number, to: number, chunk = 10_000): Promise<ProposalRecord[]> {
  const out: ProposalRecord[] = [];
  for (let start = from; start <= to; start += chunk) {
    const end = Math.min(to, start + chunk - 1);
    let logs: Log[];
    try {
      logs = await client.provider.getLogs({
        address: client.deployment.governor,
        topics: [PROPOSAL_CREATED],
        fromBlock: start,
        toBlock: end,
      });
    } catch (err) {
      throw mapGovernanceError(err, { doing: "read the governor's proposal logs" });
    }
    out.push(...parseProposalCreated(logs));
  }
  return out;
}
