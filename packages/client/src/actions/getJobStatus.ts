import type { RendermeshClient } from "../client.js";
import type { JournalJob, JournalTx, Rejection, VerifiedSegment, VoucherRecord } from "../journal/journal.js";
import { getJob, type GetJobReturnType } from "./getJob.js";

export interface GetJobStatusParameters {
  jobId: string;
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
  /** Unix seconds after which `refund` is allowed: deadline + the job's claim window, or the end of its challenge window. */
  refundableAt: number;
}

/**
 * A job's state from the journal and the escrow together.
 *
 * @example
 * const s = await getJobStatus(client, { jobId });
 * console.log(s.chain.status, s.journal?.verified.length);
 */
export async function getJobStatus(client: RendermeshClient, params: GetJobStatusParameters): Promise<GetJobStatusReturnType> {
  const local = client.journal.findJob(params.jobId);
  const jobId = (local?.jobId ?? params.jobId).toLowerCase() as `0x${string}`;
  const chain = await getJob(client, { jobId });
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
    refundableAt: chain.status === "closing" ? chain.closesAt : chain.deadline + chain.claimWindow,
  };
}
