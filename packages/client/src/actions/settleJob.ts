import { getAddress, type TransactionReceipt } from "ethers";
import type { RendermeshClient } from "../client.js";
import { resumeJournalled, sendJournalled } from "../chain/tx.js";
import type { ChainError} from "../errors.js";
import { JobStateError } from "../errors.js";
import { progress, type ProgressOptions } from "../events.js";
import type { JournalJob } from "../journal/journal.js";
import { getJob } from "./getJob.js";
import { readPayments, type Payments } from "./payments.js";

export interface SettleJobParameters extends ProgressOptions {
  /** The job's escrow id or journal ref. */
  jobId: string;
}

export interface SettleJobReturnType {
  txHash: `0x${string}`;
  gasUsed: bigint;
  /** True when the job was already settled (by an earlier run) and nothing was sent. */
  alreadySettled: boolean;
  payments: Payments;
}

export type SettleJobErrorType = ChainError | JobStateError;

/**
 * Closes the job with one `settle`: pays every provider for its verified
 * seconds (its cumulative voucher total, honouring what it redeemed itself),
 * credits the coordinator and treasury fees and refunds the rest. The
 * transaction is journalled before it is sent and the on-chain status is
 * read first, so settling twice is impossible: a resumed client finds the
 * first settle and reports it.
 *
 * @example
 * const { payments } = await settleJob(client, { jobId });
 * for (const p of payments.providers) console.log(p.provider, p.seconds, p.amount);
 */
export async function settleJob(client: RendermeshClient, params: SettleJobParameters): Promise<SettleJobReturnType> {
  let job = client.journal.getJob(params.jobId);
  const jobId = job.jobId;
  if (!jobId || job.phase === "opening") throw new JobStateError(`Job ${params.jobId} is not open on-chain yet.`, { hint: "Run `rendermesh job resume` first." });
  const iface = client.contracts.escrow.interface;
  const openBlock = client.journal.lastTx(job.ref, "open")?.blockNumber;

  const finish = async (receipt: TransactionReceipt, alreadySettled: boolean): Promise<SettleJobReturnType> => {
    const payments = await readPayments(client, { ...job, jobId }, receipt, openBlock);
    job = client.journal.setPhase(job.ref, "settled", { settledAt: job.settledAt ?? Date.now() });
    params.onProgress?.(progress("settle:confirmed", { txHash: receipt.hash, gasUsed: receipt.gasUsed }));
    return { txHash: receipt.hash as `0x${string}`, gasUsed: receipt.gasUsed, alreadySettled, payments };
  };

  // 1. A settle we sent before (perhaps just before a crash).
  const previous = client.journal.lastTx(job.ref, "settle");
  if (previous) {
    const receipt = await resumeJournalled(previous, client.wallet, client.journal, { iface });
    if (receipt?.status === 1) return finish(receipt, true);
  }

  // 2. The chain's word: never settle a job that is not open.
  const onChain = await getJob(client, { jobId });
  if (onChain.status === "settled") {
    const receipt = await findClosingReceipt(client, jobId, "JobSettled", openBlock);
    if (receipt) return finish(receipt, true);
    throw new JobStateError(`Job ${jobId} is already settled on-chain.`);
  }
  if (onChain.status !== "open") {
    throw new JobStateError(`Job ${jobId} cannot be settled: it is ${onChain.status} on-chain.`);
  }

  // 3. One settle, for the verified seconds of each provider.
  const byProvider = client.journal.verifiedSecondsByProvider(job.ref);
  const providers = [...byProvider.keys()].map((p) => getAddress(p));
  const seconds = [...byProvider.values()];
  client.journal.setPhase(job.ref, "settling");
  const data = iface.encodeFunctionData("settle", [jobId, providers, seconds]);
  const { receipt } = await sendJournalled(
    { to: client.deployment.escrow, data },
    {
      journal: client.journal,
      ref: job.ref,
      kind: "settle",
      wallet: client.wallet,
      iface,
      onSigned: (hash) => params.onProgress?.(progress("settle:sent", { txHash: hash })),
    },
  );
  return finish(receipt, false);
}

/** The receipt of the transaction that emitted the job's closing event, from the logs. */
export async function findClosingReceipt(
  client: Pick<RendermeshClient, "provider" | "contracts" | "deployment">,
  jobId: string,
  event: "JobSettled" | "JobRefunded",
  fromBlock?: number,
): Promise<TransactionReceipt | undefined> {
  const topic = client.contracts.escrow.interface.getEvent(event)!.topicHash;
  const logs = await client.provider.getLogs({ address: client.deployment.escrow, topics: [topic, jobId], fromBlock: fromBlock ?? client.deployment.startBlock, toBlock: "latest" });
  const log = logs.at(-1);
  return log ? ((await client.provider.getTransactionReceipt(log.transactionHash)) ?? undefined) : undefined;
}

export type { JournalJob };
