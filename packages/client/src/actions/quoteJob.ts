import { PROTOCOLS, QuoteResponse, type JobSpec, type Quote } from "@rendermesh/shared";
import { request } from "@rendermesh/shared/net";
import type { RendermeshClient } from "../client.js";
import { ChainError, type NetworkError, type PeerRefusedError } from "../errors.js";
import { networkError, refusal, toMultiaddrs } from "../net/peers.js";

export interface QuoteJobParameters {
  spec: Pick<JobSpec, "model" | "seconds" | "fps" | "width" | "height">;
  /** Coordinator multiaddrs; default the client's. */
  coordinator?: string[] | undefined;
  signal?: AbortSignal | undefined;
}

export type QuoteJobReturnType = Quote;

export type QuoteJobErrorType = PeerRefusedError | NetworkError | ChainError;

/**
 * Asks a coordinator for a price: model, seconds, fps and size → price per
 * second, deposit, fees, policy version, live providers and ETA.
 *
 * @example
 * const quote = await quoteJob(client, { spec: { model, seconds: 6, fps: 12, width: 192, height: 192 } });
 * console.log(quote.pricePerSecond, quote.etaSeconds);
 */
export async function quoteJob(client: RendermeshClient, params: QuoteJobParameters): Promise<QuoteJobReturnType> {
  const target = toMultiaddrs(params.coordinator ?? client.coordinator ?? [], "coordinator");
  const { node } = await client.net();
  let answer;
  try {
    const { model, seconds, fps, width, height } = params.spec;
    answer = await request(node, target, PROTOCOLS.quote, { type: "quote", spec: { model, seconds, fps, width, height } }, QuoteResponse, {
      signal: params.signal,
    });
  } catch (err) {
    throw networkError(err, "coordinator", "get a quote");
  }
  if (answer.type === "error") throw refusal(answer, "coordinator");
  if (answer.chainId !== client.chainId || answer.escrow.toLowerCase() !== client.deployment.escrow.toLowerCase()) {
    throw new ChainError(
      `The coordinator quotes for chain ${answer.chainId} and escrow ${answer.escrow}, not for this client's chain ${client.chainId} and escrow ${client.deployment.escrow}.`,
      {
        hint: "Use a coordinator of the same network (check --coordinator and --rpc-url).",
      },
    );
  }
  return answer;
}
