import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { JsonRpcProvider, Network, Wallet } from "ethers";
import { castVote } from "./castVote.js";
import { delegate } from "./delegate.js";
import { GovernanceError } from "./errors.js";
import { executeProposal } from "./executeProposal.js";
import { getProposal } from "./getProposal.js";
import { getPolicy } from "./getPolicy.js";
import type { PolicyAction } from "./policyActions.js";
import { propose } from "./propose.js";
import { queueProposal } from "./queueProposal.js";
import type { DaoClient, DaoDeployment, ProposalState, VoteSupport } from "./types.js";

/**
 * A whole DAO cycle on a local chain in seconds — delegate, propose, mine
 * past the voting delay, vote, mine past the voting period, queue, move the
 * clock past the timelock delay, execute — for tests and demos. It uses only
 * standard `eth_*` calls plus Hardhat's `evm_mine`, `evm_increaseTime` and
 * (for long jumps) `hardhat_mine`, so it runs against `hardhat node`.
 */

export type GovernanceCycleStep =
  | { step: "delegated"; member: string; txHash: string | null }
  | { step: "proposed"; proposalId: bigint; txHash: string; voteStart: bigint; voteEnd: bigint }
  | { step: "mined"; toBlock: bigint; reason: "voting delay" | "voting period" }
  | { step: "voted"; member: string; support: VoteSupport; weight: bigint; txHash: string }
  | { step: "decided"; state: ProposalState }
  | { step: "queued"; txHash: string; eta: bigint }
  | { step: "time-advanced"; seconds: bigint }
  | { step: "executed"; txHash: string; blockNumber: number; policyVersion: bigint };

/** A member's key: a 0x private key, or a dev.json account `{ privateKey }`. */
export type MemberKey = string | { privateKey: string };

export interface GovernanceCycleParameters {
  /** JSON-RPC URL of the Hardhat node. */
  rpcUrl: string;
  /** Contract addresses, or the path of `deployments/<chainId>.json`. */
  deployment: DaoDeployment | string;
  /** The DAO members: each delegates to itself if it has not delegated yet, and votes. */
  members: MemberKey[];
  /** The policy changes to make. */
  actions: PolicyAction[];
  /** Default: a unique description naming the actions (so the same change can be run twice). */
  description?: string | undefined;
  /** One entry per member: its vote, or null to not vote. Default: every member votes for. */
  votes?: Array<VoteSupport | null> | undefined;
  /** Index of the member who proposes. Default 0. */
  proposer?: number | undefined;
  /** Client data dir to remember the proposal in (optional). */
  dataDir?: string | undefined;
  onStep?: ((step: GovernanceCycleStep) => void) | undefined;
}

export interface GovernanceCycleReturnType {
  proposalId: bigint;
  /** `Executed`, or `Defeated` when the votes did not carry it (nothing changed then). */
  state: ProposalState;
  policyVersionBefore: bigint;
  policyVersionAfter: bigint;
  /** Block whose transaction executed the change: jobs opened after it use the new policy. */
  executedInBlock: number | null;
  transactions: Array<{ step: string; txHash: string }>;
}

export type GovernanceCycleErrorType = GovernanceError;

/** Mines `count` blocks (`evm_mine`, or one `hardhat_mine` for long runs). */
export async function mineBlocks(provider: JsonRpcProvider, count: bigint | number): Promise<void> {
  const n = BigInt(count);
  if (n <= 0n) return;
  if (n > 32n) {
    await provider.send("hardhat_mine", [`0x${n.toString(16)}`]);
    return;
  }
  for (let i = 0n; i < n; i++) await provider.send("evm_mine", []);
}

/** Mines until the latest block number is at least `block`. */
export async function mineUntil(provider: JsonRpcProvider, block: bigint): Promise<bigint> {
  const latest = BigInt(await provider.send("eth_blockNumber", []));
  if (latest < block) await mineBlocks(provider, block - latest);
  return block > latest ? block : latest;
}

/** Moves the chain's clock forward by `seconds` and mines a block that carries the new time. */
export async function increaseTime(provider: JsonRpcProvider, seconds: bigint | number): Promise<void> {
  const s = BigInt(seconds);
  if (s > 0n) await provider.send("evm_increaseTime", [Number(s)]);
  await provider.send("evm_mine", []);
}

/** A provider that never caches block numbers, so a test sees every block it mines. */
export function localProvider(rpcUrl: string, chainId: number): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
}

function loadDeploymentArg(deployment: DaoDeployment | string): DaoDeployment {
  if (typeof deployment !== "string") return deployment;
  return JSON.parse(readFileSync(deployment, "utf8")) as DaoDeployment;
}

/**
 * Runs one governance cycle for `actions` and returns the proposal's final
 * state. The votes, quorum and timelock are the real contracts' — a cycle
 * whose votes miss quorum ends `Defeated` and changes nothing.
 *
 * @example
 * const dev = readDevNetwork()!;
 * const { state, policyVersionAfter } = await runGovernanceCycle({
 *   rpcUrl: dev.rpcUrl,
 *   deployment: dev.deploymentFile,
 *   members: dev.accounts.dao,
 *   actions: [{ type: "block-term", terms: ["red fox"] }],
 * });
 */
export async function runGovernanceCycle(params: GovernanceCycleParameters): Promise<GovernanceCycleReturnType> {
  const deployment = loadDeploymentArg(params.deployment);
  const provider = localProvider(params.rpcUrl, deployment.chainId);
  try {
    return await cycle(provider, deployment, params);
  } finally {
    provider.destroy();
  }
}

async function cycle(
  provider: JsonRpcProvider,
  deployment: DaoDeployment,
  params: GovernanceCycleParameters,
): Promise<GovernanceCycleReturnType> {
  if (params.members.length === 0) throw new GovernanceError("A governance cycle needs at least one DAO member.");
  const onStep = params.onStep ?? (() => {});
  const transactions: GovernanceCycleReturnType["transactions"] = [];
  const clients: DaoClient[] = params.members.map((m) => ({
    provider,
    signer: new Wallet(typeof m === "string" ? m : m.privateKey, provider),
    deployment,
    dataDir: params.dataDir,
  }));
  const reader: DaoClient = { provider, deployment };
  const policyVersionBefore = (await getPolicy(reader)).version;

  for (const client of clients) {
    const d = await delegate(client);
    if (d.tx) transactions.push({ step: "delegate", txHash: d.tx.txHash });
    onStep({ step: "delegated", member: d.delegator, txHash: d.tx?.txHash ?? null });
  }
  // Votes are checkpointed per block: let the delegations settle into a past block before proposing.
  await mineBlocks(provider, 1);

  const proposer = clients[params.proposer ?? 0];
  if (!proposer) throw new GovernanceError(`There is no member ${params.proposer} to propose.`);
  const description =
    params.description ??
    `Rendermesh governance cycle: ${params.actions.map((a) => a.type).join(", ")} (${Date.now()}-${randomBytes(4).toString("hex")})`;
  const proposed = await propose(proposer, { actions: params.actions, description });
  transactions.push({ step: "propose", txHash: proposed.txHash });
  onStep({
    step: "proposed",
    proposalId: proposed.proposalId,
    txHash: proposed.txHash,
    voteStart: proposed.voteStart,
    voteEnd: proposed.voteEnd,
  });
  const proposalId = proposed.proposalId;

  // Voting opens in the block after the snapshot; mine so that the latest block is past it.
  onStep({ step: "mined", toBlock: await mineUntil(provider, proposed.voteStart + 1n), reason: "voting delay" });

  const votes = params.votes ?? clients.map(() => "for" as const);
  for (const [i, client] of clients.entries()) {
    const support = votes[i] ?? null;
    if (support === null) continue;
    const v = await castVote(client, { proposalId, support });
    transactions.push({ step: "vote", txHash: v.txHash });
    onStep({ step: "voted", member: v.voter, support, weight: v.weight, txHash: v.txHash });
  }

  onStep({ step: "mined", toBlock: await mineUntil(provider, proposed.voteEnd + 1n), reason: "voting period" });
  const decided = await getProposal(reader, { proposalId, withCalls: false });
  onStep({ step: "decided", state: decided.state });
  if (decided.state !== "Succeeded") {
    return {
      proposalId,
      state: decided.state,
      policyVersionBefore,
      policyVersionAfter: (await getPolicy(reader)).version,
      executedInBlock: null,
      transactions,
    };
  }

  const queued = await queueProposal(clients[0]!, { proposalId });
  transactions.push({ step: "queue", txHash: queued.txHash });
  onStep({ step: "queued", txHash: queued.txHash, eta: queued.eta });

  const latest = await provider.getBlock("latest");
  const wait = queued.eta - BigInt(latest?.timestamp ?? 0);
  await increaseTime(provider, wait > 0n ? wait : 0n);
  onStep({ step: "time-advanced", seconds: wait > 0n ? wait : 0n });

  const executed = await executeProposal(clients[0]!, { proposalId });
  transactions.push({ step: "execute", txHash: executed.txHash });
  onStep({ step: "executed", txHash: executed.txHash, blockNumber: executed.blockNumber, policyVersion: executed.policyVersion });
  return {
    proposalId,
    state: "Executed",
    policyVersionBefore,
    policyVersionAfter: executed.policyVersion,
    executedInBlock: executed.blockNumber,
    transactions,
  };
}
