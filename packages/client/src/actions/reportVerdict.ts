import { MAX_MESSAGE_BYTES, PROTOCOLS, ReportResponse, type SegmentVerdict } from "@rendermesh/shared";
import { request } from "@rendermesh/shared/net";
import type { RendermeshClient } from "../client.js";
import type { NetworkError, PeerRefusedError } from "../errors.js";
import { networkError, refusal, toMultiaddrs } from "../net/peers.js";
import { jobAuth } from "./jobAuth.js";

export interface ReportVerdictParameters {
  verdict: Omit<SegmentVerdict, "type" | "auth">;
  coordinator?: string[] | undefined;
  signal?: AbortSignal | undefined;
}

export type ReportVerdictReturnType = { jobId: string; segment: number };

export type ReportVerdictErrorType = PeerRefusedError | NetworkError;

/**
 * Tells the coordinator whether a delivered segment verified. An ok verdict
 * counts the segment (once); a failing one has it reassigned, and the
 * rejected copy is never paid. The verdict carries the wallet's `jobAuth`,
 * so it counts even from a peer that did not submit the job.
 *
 * @example
 * await reportVerdict(client, { verdict: { jobId, segment: 3, provider, cid, ok: false, check: "content", message: "PSNR 9.1 dB" } });
 */
export async function reportVerdict(client: RendermeshClient, params: ReportVerdictParameters): Promise<ReportVerdictReturnType> {
  const target = toMultiaddrs(params.coordinator ?? client.coordinator ?? [], "coordinator");
  const { node } = await client.net();
  const auth = await jobAuth(client, params.verdict.jobId);
  const message: SegmentVerdict = { type: "verdict", ...params.verdict, message: params.verdict.message?.slice(0, 2000), auth };
  let answer;
  try {
    answer = await request(node, target, PROTOCOLS.report, message, ReportResponse, {
      signal: params.signal,
      maxMessageBytes: MAX_MESSAGE_BYTES,
    });
  } catch (err) {
    throw networkError(err, "coordinator", "report a verdict");
  }
  if (answer.type === "error") throw refusal(answer, "coordinator");
  return { jobId: answer.jobId, segment: answer.segment };
}
