import type { RendermeshClient } from "../client.js";
import type { NetworkError, PeerRefusedError } from "../errors.js";
import { toMultiaddrs } from "../net/peers.js";
import { jobAuth } from "./jobAuth.js";
import { openJobStream, type JobEventStream } from "./jobStream.js";

export interface WatchJobParameters {
  jobId: `0x${string}`;
  /** Replay events after this sequence number (the journal's last applied one). */
  fromSeq?: number | undefined;
  coordinator?: string[] | undefined;
  signal?: AbortSignal | undefined;
  idleTimeoutMs?: number | undefined;
}

export type WatchJobReturnType = JobEventStream;

export type WatchJobErrorType = PeerRefusedError | NetworkError;

/**
 * Follows a submitted job: the coordinator replays the events after
 * `fromSeq`, then streams live ones until the job completes or fails. This
 * is how a restarted client catches up. The request carries the wallet's
 * `jobAuth`; only the job's client gets the full stream.
 *
 * @example
 * for await (const event of await watchJob(client, { jobId, fromSeq: 12 })) console.log(event.type);
 */
export async function watchJob(client: RendermeshClient, params: WatchJobParameters): Promise<WatchJobReturnType> {
  const auth = await jobAuth(client, params.jobId);
  return openJobStream(
    client,
    { type: "watch", jobId: params.jobId, fromSeq: params.fromSeq ?? 0, auth },
    {
      target: toMultiaddrs(params.coordinator ?? client.coordinator ?? [], "coordinator"),
      signal: params.signal,
      idleTimeoutMs: params.idleTimeoutMs,
    },
  );
}
