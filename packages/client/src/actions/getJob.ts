import type { RendermeshClient } from "../client.js";
import { ChainError } from "../errors.js";

/** `JobEscrow.JobStatus` names. */
export const JOB_STATUS = ["none", "open", "settled", "refunded", "closing"] as const;
export type OnChainJobStatus = (typeof JOB_STATUS)[number];

export interface GetJobParameters {
  jobId: `0x${string}`;
  blockTag?: number | "latest";
}

export interface GetJobReturnType {
  jobId: `0x${string}`;
  status: OnChainJobStatus;
  client: string;
  coordinator: string;
  totalSeconds: number;
  paidSeconds: number;
  reservedSeconds: number;
  /** Providers' claims not yet finalised or resolved. */
  pendingClaims: number;
  pricePerSecond: bigint;
  deadline: number;
  policyVersion: bigint;
  coordinatorFeeBps: number;
  treasuryFeeBps: number;
  specHash: string;
  /** Once `closing` (settled without every provider's acknowledgement): when the challenge window ends, unix s. */
  closesAt: number;
  /** The job's own windows (seconds), fixed when it opened, and its dispute bond. */
  disputeWindow: number;
  claimWindow: number;
  arbiterWindow: number;
  disputeBond: bigint;
}

export type GetJobErrorType = ChainError;

/**
 * The escrow's record of a job.
 *
 * @example
 * const job = await getJob(client, { jobId });
 * if (job.status === "settled") console.log("paid");
 */
export async function getJob(client: Pick<RendermeshClient, "contracts">, params: GetJobParameters): Promise<GetJobReturnType> {
  let j;
  try {
    j = await client.contracts.escrow.getJob(params.jobId, { blockTag: params.blockTag ?? "latest" });
  } catch (cause) {
    throw new ChainError(`Cannot read job ${params.jobId} from the escrow.`, { cause, hint: "Check --rpc-url and --deployment." });
  }
  return {
    jobId: params.jobId,
    status: JOB_STATUS[Number(j.status)] ?? "none",
    client: j.client,
    coordinator: j.coordinator,
    totalSeconds: Number(j.totalSeconds),
    paidSeconds: Number(j.paidSeconds),
    reservedSeconds: Number(j.reservedSeconds),
    pendingClaims: Number(j.pendingClaims),
    pricePerSecond: j.pricePerSecond,
    deadline: Number(j.deadline),
    policyVersion: j.policyVersion,
    coordinatorFeeBps: Number(j.coordinatorFeeBps),
    treasuryFeeBps: Number(j.treasuryFeeBps),
    specHash: j.specHash,
    closesAt: Number(j.closesAt),
    disputeWindow: Number(j.disputeWindow),
    claimWindow: Number(j.claimWindow),
    arbiterWindow: Number(j.arbiterWindow),
    disputeBond: j.disputeBond,
  };
}
