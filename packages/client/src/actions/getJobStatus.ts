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
  /**
   * Every segment providers have claimed on this job (from the escrow's `SegmentClaimed` events), with its state now.
   * `until`: while `pending`, the end of the dispute window (the client may dispute until then; after it anyone may
   * finalise and the provider is paid); while `disputed`, the end of the arbiter's window (after it the claim is
   * finalised in the provider's favour).
   */
  claims: JobClaim[];
  /**
   * When the unspent deposit can come back at the earliest (unix s): `refundableAt`, or later while claims are open
   * (a refund waits for every claim to be finalised or resolved). Undefined once the job is settled or refunded.
   */
  depositUnlocksAt: number | undefined;
}

export interface JobClaim {
  segment: number;
  provider: string;
  status: "pending" | "disputed" | "paid" | "refused";
  /** See {@link GetJobStatusReturnType.claims}; 0 once paid or refused. */
  until: number;
}

const CLAIM_STATUS = ["none", "pending", "disputed", "paid", "refused"] as const;

/** The job's claims from its `SegmentClaimed` logs, each with the escrow's current record of it. */
async function jobClaims(client: RendermeshClient, jobId: string, fromBlock: number): Promise<JobClaim[]> {
  const escrow = client.contracts.escrow;
  const logs = await escrow.queryFilter(escrow.filters.SegmentClaimed!(jobId), fromBlock);
  const segments = [...new Set(logs.map((l) => Number((l as unknown as { args: { segment: bigint } }).args.segment)))].sort(
    (a, b) => a - b,
  );
  const out: JobClaim[] = [];
  for (const segment of segments) {
    const c = await escrow.getClaim(jobId, segment);
    const status = CLAIM_STATUS[Number(c.status)] ?? "none";
    if (status === "none") continue;
    const open = status === "pending" || status === "disputed";
    out.push({ segment, provider: c.provider, status, until: open ? Number(c.deadlineAt) : 0 });
  }
  return out;
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
  const openBlock = local ? client.journal.lastTx(local.ref, "open")?.blockNumber : undefined;
  const claims = chain.status === "none" ? [] : await jobClaims(client, jobId, openBlock ?? client.deployment.startBlock);
  const refundableAt = chain.status === "closing" ? chain.closesAt : chain.deadline + chain.claimWindow;
  const live = chain.status === "open" || chain.status === "closing";
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
    refundableAt,
    claims,
    depositUnlocksAt: live ? Math.max(refundableAt, ...claims.filter((c) => c.until > 0).map((c) => c.until)) : undefined,
  };
}
