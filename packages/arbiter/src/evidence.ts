import { CID } from "multiformats/cid";
import { getBytes, type Interface, type Provider } from "ethers";
import { specHash, JobSpec, type SignedAssignment, type SignedDelivery } from "@rendermesh/shared";
import type { JobEscrowContract } from "@rendermesh/shared/chain";

/** A disputed claim as its `claim` transaction put it on chain: the signed assignment and delivery receipt. */
export interface ClaimEvidence {
  provider: string;
  assignment: SignedAssignment;
  delivery: SignedDelivery;
}

const cidString = (hex: string): string => CID.decode(getBytes(hex)).toString();

/**
 * Reads the claim of `segment` that a dispute at `block` is about: the last `SegmentClaimed` for it at or before
 * the dispute, and the messages from its transaction's calldata (the escrow stores only their effects). Returns
 * undefined when the claim was not sent as a direct `claim` call (a contract wallet's batch, say): the arbiter
 * then has no evidence and leaves the dispute to the timeout, which pays the provider.
 */
export async function readClaimEvidence(
  escrow: JobEscrowContract,
  provider: Provider,
  jobId: string,
  segment: number,
  block: number,
): Promise<ClaimEvidence | undefined> {
  const logs = await escrow.queryFilter(escrow.filters.SegmentClaimed!(jobId, segment), 0, block);
  const log = logs.at(-1);
  if (!log) return undefined;
  const tx = await provider.getTransaction(log.transactionHash);
  if (!tx) return undefined;
  const iface = escrow.interface as unknown as Interface;
  let parsed;
  try {
    parsed = iface.parseTransaction({ data: tx.data, value: tx.value });
  } catch {
    return undefined;
  }
  if (parsed?.name !== "claim") return undefined;
  const [a, coordinatorSig, d, providerSig] = parsed.args as unknown as [
    { jobId: string; segment: bigint; firstFrame: bigint; frameCount: bigint; provider: string; deadline: bigint },
    string,
    { jobId: string; segment: bigint; cid: string; sha256: string; frameCount: bigint; trace: string },
    string,
  ];
  if (a.jobId.toLowerCase() !== jobId.toLowerCase() || Number(a.segment) !== segment) return undefined;
  let cid: string;
  let trace: string | undefined;
  try {
    cid = cidString(d.cid);
    trace = d.trace === "0x" ? undefined : cidString(d.trace);
  } catch {
    // Bytes that are no CID at all: the claim names no content anyone could fetch.
    cid = "";
  }
  return {
    provider: a.provider,
    assignment: {
      assignment: {
        jobId: a.jobId,
        segment: Number(a.segment),
        firstFrame: Number(a.firstFrame),
        frameCount: Number(a.frameCount),
        provider: a.provider,
        deadline: Number(a.deadline),
      },
      signature: coordinatorSig,
    },
    delivery: {
      delivery: {
        jobId: d.jobId,
        segment: Number(d.segment),
        cid,
        sha256: d.sha256,
        frameCount: Number(d.frameCount),
        ...(trace === undefined ? {} : { trace }),
      },
      signature: providerSig,
    },
  } as ClaimEvidence;
}

/** Where the arbiter learns a job's spec: the job's coordinator (its HTTP API serves `/api/jobs/<id>`). */
export interface SpecSource {
  spec(jobId: string): Promise<unknown>;
  /** Multiaddrs the provider announced, if the source knows them. */
  multiaddrs?(provider: string): Promise<string[]>;
}

/** The coordinator HTTP API as a spec source. */
export function coordinatorSpecSource(baseUrl: string): SpecSource {
  const base = baseUrl.replace(/\/+$/, "");
  return {
    async spec(jobId) {
      const res = await fetch(`${base}/api/jobs/${jobId}`, { signal: AbortSignal.timeout(15_000) });
      if (!res.ok) return undefined;
      const body = (await res.json()) as { spec?: unknown };
      return body.spec;
    },
    async multiaddrs(provider) {
      const res = await fetch(`${base}/api/providers`, { signal: AbortSignal.timeout(15_000) });
      if (!res.ok) return [];
      const body = (await res.json()) as { providers?: { address?: string; multiaddrs?: unknown }[] };
      const p = body.providers?.find((x) => x.address?.toLowerCase() === provider.toLowerCase());
      return Array.isArray(p?.multiaddrs) ? p.multiaddrs.filter((m): m is string => typeof m === "string") : [];
    },
  };
}

/** The spec, only if it parses and hashes to what the job committed to on chain; else undefined (never trusted). */
export function trustedSpec(candidate: unknown, onChainHash: string): JobSpec | undefined {
  const parsed = JobSpec.safeParse(candidate);
  if (!parsed.success) return undefined;
  try {
    return specHash(parsed.data).toLowerCase() === onChainHash.toLowerCase() ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
