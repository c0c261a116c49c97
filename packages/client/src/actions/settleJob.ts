import { getAddress, type TransactionReceipt } from "ethers";
import { withHeadroom } from "@rendermesh/shared/chain";
import type { RendermeshClient } from "../client.js";
import { chainError, resumeJournalled, sendJournalled } from "../chain/tx.js";
import type { ChainError } from "../errors.js";
import { JobStateError } from "../errors.js";
import { progress, type ProgressOptions } from "../events.js";
import { getJob } from "./getJob.js";
import { readPayments, type Payments } from "./payments.js";

export interface SettleJobParameters extends ProgressOptions {
  /** The job's escrow id or journal ref. */
  jobId: string;
}

export interface SettleJobReturnType {
  txHash: `0x${string}`;
  gasUsed: bigint;
  /**
   * True when the settle closed the job at once (every listed provider acknowledged its seconds and every second
   * was paid). Otherwise the job is closing: providers may still redeem and claim until `closesAt`, then the rest
   * of the deposit returns with `refundJob`.
   */
  cooperative: boolean;
  /** Once closing: when the challenge window ends (unix seconds); 0 when the settle was cooperative. */
  closesAt: number;
  /** True when the job was already settled (by an earlier run) and nothing was sent. */
  alreadySettled: boolean;
  payments: Payments;
}

export type SettleJobErrorType = ChainError | JobStateError;

/**
 * Settles the job with one `settle`: pays every provider for its verified
 * seconds (its cumulative voucher total, honouring what it redeemed itself),
 * each entry carrying the coordinator's allocation for that provider and, when
 * the provider gave one, its acknowledgement. With every provider's
 * acknowledgement and every second paid the job closes at once (fees
 * credited, nothing left to refund); otherwise it enters its challenge window
 * (`closing`) and the rest of the deposit returns after it. The
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
  if (!jobId || job.phase === "opening")
    throw new JobStateError(`Job ${params.jobId} is not open on-chain yet.`, { hint: "Run `rendermesh job resume` first." });
  const iface = client.contracts.escrow.interface;
  const openBlock = client.journal.lastTx(job.ref, "open")?.blockNumber;

  const finish = async (receipt: TransactionReceipt, alreadySettled: boolean): Promise<SettleJobReturnType> => {
    const payments = await readPayments(client, { ...job, jobId }, receipt, openBlock);
    job = client.journal.setPhase(job.ref, "settled", { settledAt: job.settledAt ?? Date.now() });
    const closing = receipt.logs
      .map((l) => (l.address.toLowerCase() === client.deployment.escrow.toLowerCase() ? iface.parseLog(l) : null))
      .find((e) => e?.name === "JobClosing");
    const closesAt = closing ? Number(closing.args[1]) : 0;
    params.onProgress?.(progress("settle:confirmed", { txHash: receipt.hash, gasUsed: receipt.gasUsed }));
    return { txHash: receipt.hash as `0x${string}`, gasUsed: receipt.gasUsed, cooperative: !closing, closesAt, alreadySettled, payments };
  };

  // 1. A settle we sent before (perhaps just before a crash).
  const previous = client.journal.lastTx(job.ref, "settle");
  if (previous) {
    const receipt = await resumeJournalled(previous, client.wallet, client.journal, { iface });
    if (receipt?.status === 1) return finish(receipt, true);
  }

  // 2. The chain's word: never settle a job that is not open.
  const onChain = await getJob(client, { jobId });
  if (onChain.status === "settled" || onChain.status === "closing") {
    const receipt = await findClosingReceipt(client, jobId, onChain.status === "settled" ? "JobSettled" : "JobClosing", openBlock);
    if (receipt) return finish(receipt, true);
    throw new JobStateError(`Job ${jobId} is already settled on-chain.`);
  }
  if (onChain.status !== "open") {
    throw new JobStateError(`Job ${jobId} cannot be settled: it is ${onChain.status} on-chain.`);
  }

  // 3. One settle, for the verified seconds of each provider.
  const entries = settleEntries(client, job.ref);
  client.journal.setPhase(job.ref, "settling");
  const data = iface.encodeFunctionData("settle", [jobId, entries]);
  // A provider's redeem (or claim) ordered before the settle in the same block makes it read the payment records a
  // settle of a job nothing was paid for skips: the bare estimate would run out of gas. Same headroom as the
  // provider's own payments.
  let estimate: bigint;
  try {
    estimate = await client.provider.estimateGas({ from: client.account, to: client.deployment.escrow, data });
  } catch (err) {
    throw chainError(`Settling job ${jobId}`, err, iface, "Check the job with `rendermesh job status`.");
  }
  const { receipt } = await sendJournalled(
    { to: client.deployment.escrow, data, gasLimit: withHeadroom(estimate) },
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

/** One `JobEscrow.settle` entry. */
export interface SettleEntry {
  provider: string;
  totalSeconds: number;
  allocated: number;
  allocationSig: `0x${string}`;
  acknowledgementSig: `0x${string}`;
}

/**
 * The settle entries of a job, from the journal: each provider's verified seconds, its highest coordinator
 * allocation (carried by the assignments of its verified segments) and, when its acknowledgement is of exactly those
 * seconds, that acknowledgement. A provider without an allocation (a coordinator that signs none) cannot be listed;
 * it is paid by its own redeem or claim.
 */
export function settleEntries(client: Pick<RendermeshClient, "journal" | "logger">, ref: string): SettleEntry[] {
  const byProvider = client.journal.verifiedSecondsByProvider(ref);
  const allocations = new Map<string, { seconds: number; signature: `0x${string}` }>();
  for (const segment of client.journal.verifiedSegments(ref)) {
    const a = segment.assignment.allocation;
    const key = segment.provider.toLowerCase();
    if (a && a.seconds > (allocations.get(key)?.seconds ?? 0)) allocations.set(key, a);
  }
  const entries: SettleEntry[] = [];
  for (const [provider, seconds] of byProvider) {
    const allocation = allocations.get(provider);
    if (!allocation || allocation.seconds < seconds) {
      client.logger.warn(
        { provider, seconds, allocated: allocation?.seconds },
        "no coordinator allocation covers this provider's seconds; left to its own redeem",
      );
      continue;
    }
    const voucher = client.journal.voucher(ref, provider);
    const acknowledgement = voucher?.seconds === seconds ? voucher.acknowledgement : undefined;
    entries.push({
      provider: getAddress(provider),
      totalSeconds: seconds,
      allocated: allocation.seconds,
      allocationSig: allocation.signature,
      acknowledgementSig: acknowledgement ?? "0x",
    });
  }
  return entries;
}

/** The receipt of the transaction that emitted the job's closing event, from the logs. */
export async function findClosingReceipt(
  client: Pick<RendermeshClient, "provider" | "contracts" | "deployment">,
  jobId: string,
  event: "JobSettled" | "JobRefunded" | "JobClosing",
  fromBlock?: number,
): Promise<TransactionReceipt | undefined> {
  const topic = client.contracts.escrow.interface.getEvent(event)!.topicHash;
  const logs = await client.provider.getLogs({
    address: client.deployment.escrow,
    topics: [topic, jobId],
    fromBlock: fromBlock ?? client.deployment.startBlock,
    toBlock: "latest",
  });
  const log = logs.at(-1);
  return log ? ((await client.provider.getTransactionReceipt(log.transactionHash)) ?? undefined) : undefined;
}
