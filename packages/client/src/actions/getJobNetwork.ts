import {
  JobSegmentsResponse,
  MAX_MESSAGE_BYTES,
  PROTOCOLS,
  type JobSegments,
  type JobSegmentsQuery,
  type SegmentState,
} from "@rendermesh/shared";
import { request } from "@rendermesh/shared/net";
import type { RendermeshClient } from "../client.js";
import { networkError, refusal, toMultiaddrs } from "../net/peers.js";
import { jobAuth } from "./jobAuth.js";

export interface GetJobNetworkParameters {
  jobId: `0x${string}`;
  coordinator?: string[] | undefined;
  /** Send the wallet's `auth` (default true): the coordinator then lists each segment's attempts too. */
  asClient?: boolean | undefined;
  signal?: AbortSignal | undefined;
}

type SegmentStatus = SegmentState["status"];

/** What the coordinator says of the job, or why it could not be asked. */
export type GetJobNetworkReturnType =
  | {
      reachable: true;
      status: JobSegments["status"];
      segments: number;
      failCode: string | undefined;
      failMessage: string | undefined;
      lastSeq: number;
      /** Segments per status. */
      counts: Record<SegmentStatus, number>;
      items: SegmentState[];
    }
  | { reachable: false; reason: string };

/** How long the coordinator gets to answer every page (a status command must not hang on a dead one). */
const NETWORK_TIMEOUT_MS = 10_000;

/**
 * The network's view of a job: the coordinator's state of each segment
 * (pending, rendering, waiting for the client's verdict, verified, failed),
 * with every attempt when asked as the job's client. Never throws for an
 * unreachable or refusing coordinator: the answer says why, so a status
 * command can still show the journal and the chain.
 *
 * @example
 * const n = await getJobNetwork(client, { jobId });
 * if (n.reachable) console.log(n.status, n.counts.verified, "/", n.segments);
 */
export async function getJobNetwork(client: RendermeshClient, params: GetJobNetworkParameters): Promise<GetJobNetworkReturnType> {
  const addrs = params.coordinator ?? client.coordinator ?? [];
  if (addrs.length === 0) return { reachable: false, reason: "no coordinator is configured (--coordinator, or `pnpm dev`)" };
  try {
    const target = toMultiaddrs(addrs, "coordinator");
    const { node } = await client.net();
    const auth = params.asClient === false ? undefined : await jobAuth(client, params.jobId);
    const signal = params.signal
      ? AbortSignal.any([params.signal, AbortSignal.timeout(NETWORK_TIMEOUT_MS)])
      : AbortSignal.timeout(NETWORK_TIMEOUT_MS);
    const items: SegmentState[] = [];
    let last: JobSegments | undefined;
    for (let from: number | undefined = 0; from !== undefined;) {
      const query: JobSegmentsQuery = { type: "segments", jobId: params.jobId, from, ...(auth ? { auth } : {}) };
      let page;
      try {
        page = await request(node, target, PROTOCOLS.job, query, JobSegmentsResponse, { signal, maxMessageBytes: MAX_MESSAGE_BYTES });
      } catch (err) {
        throw networkError(err, "coordinator", "ask for the job's segments");
      }
      if (page.type === "error") throw refusal(page, "coordinator");
      items.push(...page.items);
      last = page;
      from = page.next;
    }
    const counts: Record<SegmentStatus, number> = { pending: 0, active: 0, delivered: 0, verified: 0, failed: 0 };
    for (const i of items) counts[i.status]++;
    return {
      reachable: true,
      status: last!.status,
      segments: last!.segments,
      failCode: last!.failCode,
      failMessage: last!.failMessage,
      lastSeq: last!.lastSeq,
      counts,
      items,
    };
  } catch (err) {
    const e = err as { shortMessage?: string; message?: string };
    return { reachable: false, reason: e.shortMessage ?? e.message ?? String(err) };
  }
}
