import { parseJobSpec, type JobSpec, type Quote } from "@rendermesh/shared";
import { defaultModel } from "@rendermesh/shared/model";
import type { RendermeshClient } from "../client.js";
import { formatUnits } from "ethers";
import { PeerRefusedError, PriceTooHighError } from "../errors.js";
import { progress, type ProgressOptions } from "../events.js";
import { checkPolicy } from "./checkPolicy.js";
import { openJob } from "./openJob.js";
import { quoteJob } from "./quoteJob.js";
import { runJob, type RunJobReturnType } from "./runJob.js";
import { SPEC_DEFAULTS } from "./spec-defaults.js";

export interface GenerateVideoParameters extends ProgressOptions {
  prompt: string;
  seconds: number;
  fps?: number | undefined;
  width?: number | undefined;
  height?: number | undefined;
  seed?: number | undefined;
  /** Model id (0x + sha256 of the ONNX bytes); default the network's default model. */
  model?: `0x${string}` | undefined;
  /** Refuse (before any gas) if the quoted price per second is above this (token base units). */
  maxPricePerSecond?: bigint | undefined;
  /** Coordinator multiaddrs; default the client's. */
  coordinator?: string[] | undefined;
  /** Output directory of this job (default `<client.outDir>/<jobId>`). */
  outDir?: string | undefined;
  signal?: AbortSignal | undefined;
}

export type GenerateVideoReturnType = RunJobReturnType & { spec: JobSpec };

/** Defaults of a job spec. */
export { SPEC_DEFAULTS };

/** A validated spec from the user's parameters and the defaults. */
export function buildSpec(
  params: Pick<GenerateVideoParameters, "prompt" | "seconds" | "fps" | "width" | "height" | "seed" | "model">,
): JobSpec {
  return parseJobSpec({
    v: 1,
    model: params.model ?? defaultModel().manifest.id,
    prompt: params.prompt,
    seed: params.seed ?? SPEC_DEFAULTS.seed,
    seconds: params.seconds,
    fps: params.fps ?? SPEC_DEFAULTS.fps,
    width: params.width ?? SPEC_DEFAULTS.width,
    height: params.height ?? SPEC_DEFAULTS.height,
  });
}

/**
 * Refuses a quote before any gas is spent: above the client's maximum price,
 * or with no live provider to render the job.
 */
export function assertQuoteAcceptable(quote: Pick<Quote, "pricePerSecond" | "providers">, maxPricePerSecond: bigint | undefined): void {
  if (maxPricePerSecond !== undefined && quote.pricePerSecond > maxPricePerSecond) {
    throw new PriceTooHighError(quote.pricePerSecond, maxPricePerSecond, (a) => `${formatUnits(a, 18)} MESH`);
  }
  if (quote.providers === 0)
    throw new PeerRefusedError("NO_PROVIDERS", "The coordinator has no live provider for this model within the price.", {
      peer: "coordinator",
    });
}

/**
 * One paid job from prompt to verified video: check the spec against the
 * on-chain policy (before any gas), get a quote, open the escrow with a
 * permit (one transaction), submit, verify and pay each segment, join the
 * video, settle and write the manifest.
 *
 * @example
 * const result = await generateVideo(client, { prompt: "a calm blue sea at night", seconds: 3, onProgress: console.log });
 * console.log(result.video?.path, result.payments.refund);
 */
export async function generateVideo(client: RendermeshClient, params: GenerateVideoParameters): Promise<GenerateVideoReturnType> {
  const spec = buildSpec(params);
  const emit = params.onProgress;
  const policy = await checkPolicy(client, { spec });
  emit?.(progress("policy:checked", { policyVersion: policy.version }));
  const coordinator = params.coordinator ?? client.coordinator ?? [];
  const quote = await quoteJob(client, { spec, coordinator, signal: params.signal });
  emit?.(
    progress("quote:received", {
      pricePerSecond: quote.pricePerSecond,
      deposit: quote.deposit,
      providers: quote.providers,
      etaSeconds: quote.etaSeconds,
    }),
  );
  assertQuoteAcceptable(quote, params.maxPricePerSecond);
  const opened = await openJob(client, {
    spec,
    quote,
    policyVersion: policy.version,
    coordinatorPeer: coordinator,
    outDir: params.outDir,
    onProgress: emit,
  });
  const result = await runJob(client, { jobId: opened.ref, onProgress: emit, signal: params.signal });
  return { ...result, spec };
}
