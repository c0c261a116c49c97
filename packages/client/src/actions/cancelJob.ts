import type { JobEvent } from "@rendermesh/shared";
import type { RendermeshClient } from "../client.js";
import type { NetworkError, PeerRefusedError } from "../errors.js";
import { toMultiaddrs } from "../net/peers.js";
import { jobAuth } from "./jobAuth.js";
import { openJobStream } from "./jobStream.js";

export interface CancelJobParameters {
  jobId: `0x${string}`;
  coordinator?: string[] | undefined;
  signal?: AbortSignal | undefined;
}

/** The job's final event (`job-failed` with code `CANCELLED`, or how it had already ended). */
export type CancelJobReturnType = JobEvent | undefined;

export type CancelJobErrorType = PeerRefusedError | NetworkError;

/**
 * Asks the coordinator to stop a job: no more segments are assigned and the
 * job ends as `job-failed` with code `CANCELLED`. Signed with the wallet's
 * `jobAuth`; only the job's on-chain client may cancel it. Money is not
 * touched: settle or refund on the escrow afterwards (`settleJob`, `refundJob`).
 *
 * @example
 * const final = await cancelJob(client, { jobId });
 */
export async function cancelJob(client: RendermeshClient, params: CancelJobParameters): Promise<CancelJobReturnType> {
  const auth = await jobAuth(client, params.jobId);
  const stream = await openJobStream(
    client,
    { type: "cancel", jobId: params.jobId, auth },
    {
      target: toMultiaddrs(params.coordinator ?? client.coordinator ?? [], "coordinator"),
      signal: params.signal,
    },
  );
  let last: JobEvent | undefined;
  for await (const event of stream) last = event;
  return last;
}
