import { scalePrice, type PolicySnapshot, type Quote, type QuoteRequest, type ReferenceWork } from "@rendermesh/shared";
import type { LiveProvider } from "../directory/index.js";
import { RefusalError } from "../errors.js";
import { estimateSeconds, segmentWork } from "../scheduler/index.js";

export interface QuoteContext {
  coordinator: string;
  chainId: number;
  escrow: string;
  policy: PolicySnapshot;
  reference: ReferenceWork;
  providers: readonly LiveProvider[];
  /**
   * Share of the model's live throughput the quoted price must reach (0..1,
   * default 0.5): the price is the lowest at which providers giving that
   * share of throughput fit, so a job is not stuck on the single cheapest one.
   */
  coverage?: number;
  /** Extra seconds in the suggested deadline, beyond 3 × the ETA (default 300). */
  deadlineSlackSeconds?: number;
}

/** The request's spec checked against the policy's model list and limits (no prompt yet at quote time). */
export function checkQuotePolicy(spec: QuoteRequest["spec"], policy: PolicySnapshot): void {
  if (!policy.allowedModels.has(spec.model.toLowerCase())) {
    throw new RefusalError("POLICY_MODEL_NOT_ALLOWED", `Model ${spec.model} is not on the policy's allowed list.`);
  }
  if (spec.seconds > policy.maxSeconds)
    throw new RefusalError("POLICY_LIMIT", `${spec.seconds} seconds is more than the policy's maximum of ${policy.maxSeconds}.`);
  if (spec.width > policy.maxWidth || spec.height > policy.maxHeight) {
    throw new RefusalError(
      "POLICY_LIMIT",
      `Frame size ${spec.width}x${spec.height} is larger than the policy's maximum of ${policy.maxWidth}x${policy.maxHeight}.`,
    );
  }
  if (spec.fps > policy.maxFps)
    throw new RefusalError("POLICY_LIMIT", `${spec.fps} fps is more than the policy's maximum of ${policy.maxFps}.`);
}

/** A price grossed up so that, after the coordinator and treasury fees, a provider still earns `price`. */
export function grossUp(price: bigint, feeBps: number): bigint {
  const keep = 10_000n - BigInt(Math.min(9_999, feeBps));
  return (price * 10_000n + keep - 1n) / keep;
}

/**
 * Prices a job from the providers live now: price per second (enough
 * providers' asks fit, fees included), deposit, fees, policy version and an
 * ETA from their current throughput.
 */
export function computeQuote(spec: QuoteRequest["spec"], ctx: QuoteContext): Quote {
  checkQuotePolicy(spec, ctx.policy);
  const serving = ctx.providers.filter((p) => p.models.has(spec.model.toLowerCase()));
  if (serving.length === 0)
    throw new RefusalError("NO_PROVIDERS", `No live provider serves model ${spec.model} right now.`, { retryAfterMs: 10_000 });
  const work = segmentWork(spec, ctx.reference);
  const priced = serving
    .map((p) => ({ p, price: scalePrice(p.ask, spec, ctx.reference), throughput: p.capacity * p.speedFps * Math.max(0.05, p.reliability) }))
    .sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : 0));
  const total = priced.reduce((s, x) => s + x.throughput, 0);
  const target = total * Math.min(1, Math.max(0, ctx.coverage ?? 0.5));
  let acc = 0;
  let price = priced[0]!.price;
  for (const x of priced) {
    price = x.price;
    acc += x.throughput;
    if (acc >= target) break;
  }
  const chosen = priced.filter((x) => x.price <= price).map((x) => x.p);
  const pricePerSecond = grossUp(price, ctx.policy.coordinatorFeeBps + ctx.policy.treasuryFeeBps);
  const eta = estimateSeconds(spec.seconds, work, chosen);
  return {
    type: "quote-result",
    coordinator: ctx.coordinator as `0x${string}`,
    chainId: ctx.chainId,
    escrow: ctx.escrow as `0x${string}`,
    pricePerSecond,
    deposit: pricePerSecond * BigInt(spec.seconds),
    coordinatorFeeBps: ctx.policy.coordinatorFeeBps,
    treasuryFeeBps: ctx.policy.treasuryFeeBps,
    policyVersion: ctx.policy.version,
    providers: chosen.length,
    etaSeconds: Math.round(eta * 10) / 10,
    deadlineSeconds: Math.ceil(eta * 3 + (ctx.deadlineSlackSeconds ?? 300)),
  };
}
