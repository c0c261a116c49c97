import type { Interface } from "ethers";
import { assignmentStruct, ClaimStatus, deliveryStruct, voucherStruct, withHeadroom } from "@rendermesh/shared/chain";
import type { RendermeshClient } from "../client.js";
import { chainError, findRevertData, waitForReceipt } from "../chain/tx.js";
import { ChainError, JobStateError } from "../errors.js";

export interface AttributeClaimsParameters {
  jobId: `0x${string}`;
}

/** A segment recorded as paid by the vouchers of the provider whose copy the client verified. */
export interface Attribution {
  segment: number;
  /** The provider whose copy the client verified (and paid by voucher). */
  provider: string;
  /** The provider whose claim on the segment was dropped. */
  dropped: string;
  txHash: `0x${string}`;
}

/** A claim another provider holds on a segment the client verified, that cannot be attributed yet. */
export interface PendingAttribution {
  segment: number;
  provider: string;
  claimant: string;
  /**
   * Why not: the escrow's reason (e.g. `JobEscrowNothingToAttribute(…)`: every voucher second of the verified
   * provider accounts for a segment already), or `no voucher signed` when this client has not paid that provider yet.
   */
  reason: string;
}

export interface AttributeClaimsReturnType {
  attributed: Attribution[];
  /** Tried again on the next pass (the watcher does so when a voucher of the job is redeemed). */
  waiting: PendingAttribution[];
}

export type AttributeClaimsErrorType = ChainError | JobStateError;

type AttributeClient = Pick<RendermeshClient, "contracts" | "journal" | "provider">;

function revertName(err: unknown, iface: Interface): string {
  const data = findRevertData(err);
  if (data) {
    try {
      const parsed = iface.parseError(data);
      if (parsed) return `${parsed.name}(${parsed.args.map((a: unknown) => String(a)).join(", ")})`;
    } catch {
      // not one of the escrow's errors: fall through to the message
    }
  }
  return (err as { shortMessage?: string }).shortMessage ?? (err instanceof Error ? err.message : String(err));
}

/**
 * Keeps a segment from being paid twice, and the provider this client paid from being squeezed out: for each segment
 * this client verified (and paid by voucher to its provider), a claim another provider holds on it (a speculative copy
 * that lost) is answered with `JobEscrow.attributeSegment`, carrying the client's latest voucher to the verified
 * provider, that provider's highest coordinator allocation, and its signed assignment and delivery receipt from the
 * journal. In one transaction the escrow drops the other claim (its stake unlocked, no slash, a dispute bond back),
 * pays the voucher's seconds not yet redeemed (so a claim that took the job's last free seconds cannot keep them from
 * the verified provider) and records the segment as paid by those vouchers. A segment whose provider this client has
 * signed no voucher to yet waits (`waiting`), as does one the escrow refuses (its reason given).
 *
 * @example
 * const { attributed } = await attributeClaims(client, { jobId });
 */
export async function attributeClaims(client: AttributeClient, params: AttributeClaimsParameters): Promise<AttributeClaimsReturnType> {
  const jobId = params.jobId.toLowerCase() as `0x${string}`;
  const job = client.journal.findJob(jobId);
  if (!job)
    throw new JobStateError(`Job ${jobId} is not in this client's journal: it holds no delivery receipts for it.`, {
      hint: "Run it with the --data-dir of the client that opened the job.",
    });
  const escrow = client.contracts.escrow;
  const out: AttributeClaimsReturnType = { attributed: [], waiting: [] };
  for (const seg of client.journal.verifiedSegments(job.ref)) {
    const claim = await escrow.getClaim(jobId, seg.segment).catch((cause: unknown) => {
      throw new ChainError(`Cannot read the claim on segment ${seg.segment} of job ${jobId}.`, { cause, hint: "Check --rpc-url." });
    });
    const status = Number(claim.status);
    if (status !== ClaimStatus.Pending && status !== ClaimStatus.Disputed) continue;
    if (claim.provider.toLowerCase() === seg.provider.toLowerCase()) continue; // the verified provider's own claim
    const voucher = client.journal.voucher(job.ref, seg.provider);
    if (!voucher) {
      out.waiting.push({ segment: seg.segment, provider: seg.provider, claimant: claim.provider, reason: "no voucher signed" });
      continue;
    }
    const allocation = highestAllocation(client.journal.verifiedSegments(job.ref), seg.provider);
    const attributions = [
      {
        assignment: assignmentStruct(seg.assignment.assignment),
        coordinatorSig: seg.assignment.signature,
        delivery: deliveryStruct(seg.delivery.delivery),
        providerSig: seg.delivery.signature,
      },
    ];
    const args = [
      voucherStruct({ jobId, provider: seg.provider, seconds: voucher.seconds }),
      voucher.signature,
      allocation?.seconds ?? 0,
      allocation?.signature ?? "0x",
      attributions,
    ] as const;
    let estimate: bigint;
    try {
      estimate = await escrow.attributeSegment.estimateGas(...args);
    } catch (err) {
      out.waiting.push({
        segment: seg.segment,
        provider: seg.provider,
        claimant: claim.provider,
        reason: revertName(err, escrow.interface),
      });
      continue;
    }
    let hash: string;
    try {
      hash = (await escrow.attributeSegment(...args, { gasLimit: withHeadroom(estimate) })).hash;
    } catch (err) {
      throw chainError(`Attributing segment ${seg.segment} of job ${jobId}`, err, escrow.interface);
    }
    const receipt = await waitForReceipt(client.provider, hash, 120_000);
    if (receipt?.status !== 1)
      throw new ChainError(`The attribution of segment ${seg.segment} (${hash}) ${receipt ? "reverted" : "was not mined in time"}.`, {
        hint: "Run it again: an attributed segment is skipped.",
      });
    out.attributed.push({ segment: seg.segment, provider: seg.provider, dropped: claim.provider, txHash: hash as `0x${string}` });
  }
  return out;
}

/** The highest coordinator allocation the assignments of `provider`'s verified segments carry. */
function highestAllocation(
  segments: ReturnType<AttributeClient["journal"]["verifiedSegments"]>,
  provider: string,
): { seconds: number; signature: `0x${string}` } | undefined {
  let best: { seconds: number; signature: `0x${string}` } | undefined;
  for (const s of segments) {
    const a = s.assignment.allocation;
    if (s.provider.toLowerCase() === provider.toLowerCase() && a && a.seconds > (best?.seconds ?? 0)) best = a;
  }
  return best;
}

export interface WatchClaimsParameters extends AttributeClaimsParameters {
  /** Each pass that attributed or found something waiting. */
  onPass?: ((result: AttributeClaimsReturnType) => void) | undefined;
  onError?: ((err: unknown) => void) | undefined;
}

/**
 * Runs `attributeClaims` now and again whenever the escrow emits, for this job, a claim (`SegmentClaimed`), a
 * dispute or a redeemed voucher (which may make a waiting attribution possible). Passes never overlap. `stop()`
 * unsubscribes and resolves once the pass in flight, if any, has finished.
 */
export function watchClaims(client: AttributeClient, params: WatchClaimsParameters): { stop: () => Promise<void> } {
  const escrow = client.contracts.escrow;
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;
  const pass = () => {
    chain = chain.then(async () => {
      if (stopped) return;
      try {
        const r = await attributeClaims(client, params);
        if (r.attributed.length > 0 || r.waiting.length > 0) params.onPass?.(r);
      } catch (err) {
        params.onError?.(err);
      }
    });
  };
  const filters = [
    escrow.filters.SegmentClaimed!(params.jobId),
    escrow.filters.ClaimDisputed!(params.jobId),
    escrow.filters.VoucherRedeemed!(params.jobId),
  ];
  const subscribed = Promise.all(filters.map((f) => escrow.on(f, pass)));
  pass();
  return {
    stop: async () => {
      stopped = true;
      await subscribed.catch(() => undefined);
      await Promise.all(filters.map((f) => escrow.off(f, pass)));
      await chain;
    },
  };
}
