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
  /**
   * Where the provider serves the claimed segment, if the source knows: the addresses the provider gave with its
   * delivery of `segment` (`cid`), else the ones it is known by.
   */
  multiaddrs?(provider: string, claimed?: { jobId: string; segment: number; cid: string }): Promise<string[]>;
}

interface AttemptLite {
  provider?: string;
  peerId?: string;
  multiaddrs?: unknown;
  delivery?: { delivery?: { cid?: string } } | null;
}

/** `addr` ending in `/p2p/<peerId>` (a dial needs it to know whom it reaches). */
function withPeer(addr: string, peerId: string | undefined): string {
  return !peerId || addr.includes("/p2p/") ? addr : `${addr}/p2p/${peerId}`;
}

/**
 * The coordinator HTTP API as a spec source. A provider's addresses come from its delivery of the claimed segment
 * (`/api/jobs/<id>/segments`: the listen addresses the provider named when it delivered). The provider directory
 * (`/api/providers`) is the fallback only: it records the address a provider dialled the coordinator from, which is
 * an outbound port nobody can dial back, so only its peer id is of use there.
 */
export function coordinatorSpecSource(baseUrl: string): SpecSource {
  const base = baseUrl.replace(/\/+$/, "");
  const getJson = async (path: string): Promise<unknown> => {
    const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(15_000) });
    return res.ok ? res.json() : undefined;
  };
  return {
    async spec(jobId) {
      const body = (await getJson(`/api/jobs/${jobId}`)) as { spec?: unknown } | undefined;
      return body?.spec;
    },
    async multiaddrs(provider, claimed) {
      const who = provider.toLowerCase();
      const strings = (v: unknown) => (Array.isArray(v) ? v.filter((m): m is string => typeof m === "string") : []);
      if (claimed) {
        const body = (await getJson(`/api/jobs/${claimed.jobId}/segments`).catch(() => undefined)) as
          { segments?: Array<{ index?: number; attempts?: AttemptLite[] }> } | undefined;
        const attempts = body?.segments?.find((s) => s.index === claimed.segment)?.attempts ?? [];
        const mine = attempts.filter((a) => a.provider?.toLowerCase() === who && strings(a.multiaddrs).length > 0);
        // The attempt that delivered the claimed file first; any other of this provider's deliveries after it.
        mine.sort((a, b) => Number(b.delivery?.delivery?.cid === claimed.cid) - Number(a.delivery?.delivery?.cid === claimed.cid));
        const addrs = [...new Set(mine.flatMap((a) => strings(a.multiaddrs).map((m) => withPeer(m, a.peerId))))];
        if (addrs.length > 0) return addrs;
      }
      const body = (await getJson("/api/providers")) as { providers?: Array<{ address?: string; peerId?: string; multiaddrs?: unknown }> };
      const p = body?.providers?.find((x) => x.address?.toLowerCase() === who);
      return strings(p?.multiaddrs).map((m) => withPeer(m, p?.peerId));
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
