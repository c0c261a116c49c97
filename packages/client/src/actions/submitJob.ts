import { ChainRef, type JobSpec } from "@rendermesh/shared";
import type { RendermeshClient } from "../client.js";
import type { NetworkError, PeerRefusedError } from "../errors.js";
import { toMultiaddrs } from "../net/peers.js";
import { jobAuth } from "./jobAuth.js";
import { openJobStream, type JobEventStream } from "./jobStream.js";

export interface SubmitJobParameters {
  jobId: `0x${string}`;
  spec: JobSpec;
  /** Coordinator multiaddrs; default the client's. */
  coordinator?: string[] | undefined;
  signal?: AbortSignal | undefined;
  idleTimeoutMs?: number | undefined;
}

export type SubmitJobReturnType = JobEventStream;

export type SubmitJobErrorType = PeerRefusedError | NetworkError;

/**
 * Sends an opened job's spec to the coordinator on `/rendermesh/job` and
 * returns its event stream (job-accepted, segment-assigned/-progress/
 * -delivered/-failed, job-complete or job-failed). The coordinator checks the
 * spec hash, the deposit and the policy; a refusal is thrown from the first
 * iteration as `PeerRefusedError` with its reason code. The submission
 * carries the wallet's `jobAuth` signature, which the coordinator checks
 * against the job's on-chain client (`NOT_JOB_CLIENT` otherwise).
 * Submitting the same job again is harmless: the coordinator replays its
 * events and takes this peer as the one whose verdicts count.
 *
 * @example
 * for await (const event of await submitJob(client, { jobId, spec })) console.log(event.seq, event.type);
 */
export async function submitJob(client: RendermeshClient, params: SubmitJobParameters): Promise<SubmitJobReturnType> {
  const chain = ChainRef.parse({ chainId: client.chainId, escrow: client.deployment.escrow });
  const auth = await jobAuth(client, params.jobId);
  return openJobStream(
    client,
    { type: "submit", jobId: params.jobId, ...chain, spec: params.spec, auth },
    {
      target: toMultiaddrs(params.coordinator ?? client.coordinator ?? [], "coordinator"),
      signal: params.signal,
      idleTimeoutMs: params.idleTimeoutMs,
    },
  );
}
