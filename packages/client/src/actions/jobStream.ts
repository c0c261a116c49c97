import type { Multiaddr } from "@multiformats/multiaddr";
import {
  JobStreamMessage,
  MAX_MESSAGE_BYTES,
  PROTOCOLS,
  type CancelJob,
  type JobEvent,
  type SubmitJob,
  type WatchJob,
} from "@rendermesh/shared";
import { openProtocolStream, type MessageStream } from "@rendermesh/shared/net";
import type { RendermeshClient } from "../client.js";
import { networkError, refusal } from "../net/peers.js";

/** Idle time after which a silent job stream is dropped and re-opened with `watch` (default 2 min). */
const DEFAULT_JOB_STREAM_IDLE_MS = 120_000;

/**
 * The coordinator's event stream for one job. Iterating yields events in
 * `seq` order; a refusal (an error frame) is thrown as `PeerRefusedError`,
 * a broken or idle stream as `NetworkError`. `close()` ends it early.
 */
export interface JobEventStream extends AsyncIterable<JobEvent> {
  close(): void;
}

export interface OpenJobStreamOptions {
  target: Multiaddr[];
  signal?: AbortSignal | undefined;
  idleTimeoutMs?: number | undefined;
}

/** Opens `/rendermesh/job`, sends `request` and returns the event stream. */
export async function openJobStream(
  client: RendermeshClient,
  request: SubmitJob | WatchJob | CancelJob,
  options: OpenJobStreamOptions,
): Promise<JobEventStream> {
  const { node } = await client.net();
  let stream: MessageStream;
  try {
    stream = await openProtocolStream(node, options.target, PROTOCOLS.job, { signal: options.signal, maxMessageBytes: MAX_MESSAGE_BYTES });
    await stream.write(request, { signal: options.signal });
    // Our side has said all it will; the coordinator keeps writing events.
    await stream.close({ signal: options.signal });
  } catch (err) {
    throw networkError(
      err,
      "coordinator",
      request.type === "submit" ? "submit the job" : request.type === "cancel" ? "cancel the job" : "follow the job",
    );
  }
  const idle = options.idleTimeoutMs ?? DEFAULT_JOB_STREAM_IDLE_MS;
  return {
    close: () => stream.abort(new Error("closed by the client")),
    async *[Symbol.asyncIterator]() {
      try {
        for await (const message of stream.messages(JobStreamMessage, { signal: options.signal, timeout: idle })) {
          if (message.type === "error") throw refusal(message, "coordinator");
          // A summary is what a stranger gets; our requests carry auth, so it never comes here.
          if (message.type === "job-summary") continue;
          yield message;
        }
      } catch (err) {
        options.signal?.throwIfAborted();
        throw networkError(err, "coordinator", "follow the job");
      }
    },
  };
}
