import type { RendermeshClient } from "../client.js";
import type { Interface } from "ethers";
import { chainError, findRevertData, resumeJournalled, sendJournalled } from "../chain/tx.js";
import type { ChainError } from "../errors.js";
import { JobStateError } from "../errors.js";
import { getJob } from "./getJob.js";
import { readPayments, type Payments } from "./payments.js";
import { findClosingReceipt } from "./settleJob.js";

export interface RefundJobParameters {
  jobId: `0x${string}`;
}

export interface RefundJobReturnType {
  txHash: `0x${string}`;
  refund: bigint;
  payments: Payments;
  alreadyRefunded: boolean;
}

export type RefundJobErrorType = ChainError | JobStateError;

/**
 * Recovers a job's unspent deposit with `JobEscrow.refund`, which opens
 * after the job's deadline plus its claim window, or, for a job settled
 * without every provider's acknowledgement, after its challenge window (so
 * providers could redeem and claim what they delivered first). Anyone may send it; the
 * refund goes to the job's client. Works without a journal entry.
 *
 * @example
 * const { refund } = await refundJob(client, { jobId });
 */
export async function refundJob(client: RendermeshClient, params: RefundJobParameters): Promise<RefundJobReturnType> {
  const jobId = params.jobId.toLowerCase() as `0x${string}`;
  const onChain = await getJob(client, { jobId });
  const journalJob = client.journal.findJob(jobId);
  const terms = {
    jobId,
    deposit: BigInt(onChain.totalSeconds) * onChain.pricePerSecond,
    pricePerSecond: onChain.pricePerSecond,
    coordinator: onChain.coordinator,
    coordinatorFeeBps: onChain.coordinatorFeeBps,
    treasuryFeeBps: onChain.treasuryFeeBps,
  };
  const iface = client.contracts.escrow.interface;
  const done = async (receiptHash: string, already: boolean): Promise<RefundJobReturnType> => {
    const receipt = (await client.provider.getTransactionReceipt(receiptHash))!;
    const payments = await readPayments(client, terms, receipt);
    if (journalJob) client.journal.setPhase(journalJob.ref, "refunded", { settledAt: Date.now() });
    return { txHash: receipt.hash as `0x${string}`, refund: payments.refund, payments, alreadyRefunded: already };
  };

  if (onChain.status === "none")
    throw new JobStateError(`There is no job ${jobId} on this escrow.`, { hint: "Check the job id and --rpc-url." });
  if (onChain.status === "settled")
    throw new JobStateError(`Job ${jobId} was settled; there is nothing left to refund.`, {
      hint: `\`rendermesh job status ${jobId}\` shows who was paid.`,
    });
  if (onChain.status === "refunded") {
    const receipt = await findClosingReceipt(client, jobId, "JobRefunded");
    if (receipt) return done(receipt.hash, true);
    throw new JobStateError(`Job ${jobId} was refunded already.`);
  }
  if (journalJob) {
    const previous = client.journal.lastTx(journalJob.ref, "refund");
    if (previous) {
      const receipt = await resumeJournalled(previous, client.wallet, client.journal, { iface });
      if (receipt?.status === 1) return done(receipt.hash, true);
    }
  }
  // The escrow decides when the refund opens: ask it (a dry run), not our clock.
  try {
    await client.contracts.escrow.refund.staticCall(jobId);
  } catch (err) {
    const parsed = revertOf(err, iface);
    if (parsed?.name === "JobEscrowRefundTooEarly") {
      const opensAt = Number(parsed.args[0]);
      const why =
        onChain.status === "closing"
          ? "the end of the challenge window its settle started, in which providers may still redeem and claim"
          : `its deadline plus its ${onChain.claimWindow} s claim window`;
      throw new JobStateError(
        `Job ${jobId} cannot be refunded yet: the refund opens at ${new Date(opensAt * 1000).toISOString()} (${why}).`,
        {
          hint: "Wait until then, or let the job finish with `rendermesh job resume`.",
        },
      );
    }
    if (parsed?.name === "JobEscrowClaimsPending") {
      throw new JobStateError(`Job ${jobId} cannot be refunded while providers' claims on it are pending.`, {
        hint: "Wait for the claims' dispute window to pass, then try again.",
      });
    }
    throw chainError("The refund", err, iface);
  }
  const { tx } = await sendJournalled(
    { to: client.deployment.escrow, data: iface.encodeFunctionData("refund", [jobId]) },
    { journal: client.journal, ref: journalJob?.ref ?? jobId, kind: "refund", wallet: client.wallet, iface },
  );
  return done(tx.hash, false);
}

function revertOf(err: unknown, iface: Interface): ReturnType<Interface["parseError"]> | undefined {
  const data = findRevertData(err);
  if (!data) return undefined;
  try {
    return iface.parseError(data);
  } catch {
    return undefined;
  }
}
