import type { RendermeshClient } from "../client.js";
import type { JournalJob, JournalTx, Rejection, VerifiedSegment, VoucherRecord } from "../journal/journal.js";
import { getJob, type GetJobReturnType } from "./getJob.js";
import { getJobNetwork, type GetJobNetworkReturnType } from "./getJobNetwork.js";

export interface GetJobStatusParameters {
  jobId: string;
  /** Ask the coordinator for its view of the job's segments too (default true). */
  network?: boolean | undefined;
}

export interface GetJobStatusReturnType {
  jobId: `0x${string}`;
  /** What this client's journal knows (undefined for a job it did not open). */
  journal:
    | {
        phase: JournalJob["phase"];
        lastSeq: number;
        seconds: number;
        verified: Array<Pick<VerifiedSegment, "segment" | "provider" | "cid" | "psnrDb">>;
        rejected: Rejection[];
        vouchers: VoucherRecord[];
        transactions: Array<Pick<JournalTx, "kind" | "hash" | "state" | "blockNumber" | "gasUsed">>;
        outDir: string;
        videoPath: string | undefined;
        manifestPath: string | undefined;
        failure: string | undefined;
      }
    | undefined;
  chain: GetJobReturnType;
  /** The coordinator's view of the job's segments, or why it could not be asked (undefined when not asked). */
  network: GetJobNetworkReturnType | undefined;
  /** Unix seconds after which `refund` is allowed: deadline + the job's claim window, or the end of its challenge window. */
  refundableAt: number;
}

/**
 * A job's state from the journal, the escrow and the coordinator together.
 *
 * @example
 * const s = await getJobStatus(client, { jobId });
 * console.log(s.chain.status, s.journal?.verified.length);
 */
export async function getJobStatus(client: RendermeshClient, params: GetJobStatusParameters): Promise<GetJobStatusReturnType> {
  const local = client.journal.findJob(params.jobId);
  const jobId = (local?.jobId ?? params.jobId).toLowerCase() as `0x${string}`;
  const chain = await getJob(client, { jobId });
  // As the job's client (with auth) only when this wallet opened it: anyone else gets the public view.
  const network =
    params.network === false
      ? undefined
      : await getJobNetwork(client, { jobId, asClient: chain.client.toLowerCase() === client.wallet.address.toLowerCase() });
  return {
    jobId,
    journal: local
      ? {
          phase: local.phase,
          lastSeq: local.lastSeq,
          seconds: local.spec.seconds,
          verified: client.journal
            .verifiedSegments(local.ref)
            .map(({ segment, provider, cid, psnrDb }) => ({ segment, provider, cid, psnrDb })),
          rejected: client.journal.rejections(local.ref),
          vouchers: client.journal.vouchers(local.ref),
          transactions: client.journal
            .txs(local.ref)
            .map(({ kind, hash, state, blockNumber, gasUsed }) => ({ kind, hash, state, blockNumber, gasUsed })),
          outDir: local.outDir,
          videoPath: local.videoPath,
          manifestPath: local.manifestPath,
          failure: local.failure,
        }
      : undefined,
    chain,
    network,
    refundableAt: chain.status === "closing" ? chain.closesAt : chain.deadline + chain.claimWindow,
  };
}
