import { hashMessage, recoverAddress } from "ethers";
import { jobAccessMessage } from "@rendermesh/shared";
import type { ChainView } from "../chain/types.js";
import { RefusalError } from "../errors.js";

/**
 * Whether `auth` is the job's client's signature letting `peerId` act on the
 * job: EIP-191 over `jobAccessMessage`, recovered to `client`, or accepted by
 * `client`'s ERC-1271 `isValidSignature` when `client` is a contract.
 */
export async function isJobClientAuth(
  chain: Pick<ChainView, "chainId" | "escrow" | "isValidContractSignature">,
  job: { jobId: string; client: string },
  peerId: string,
  auth: string | undefined,
  options: { signal?: AbortSignal } = {},
): Promise<boolean> {
  if (!auth) return false;
  const hash = hashMessage(jobAccessMessage(chain.chainId, chain.escrow, job.jobId, peerId));
  try {
    if (recoverAddress(hash, auth).toLowerCase() === job.client.toLowerCase()) return true;
  } catch {
    // not a recoverable ECDSA signature; a contract wallet may still accept it
  }
  return (await chain.isValidContractSignature?.(job.client, hash, auth, options).catch(() => false)) ?? false;
}

/** Throws `NOT_JOB_CLIENT` unless `auth` is valid for the job's client and `peerId` (what, in the message, was refused). */
export async function requireJobClient(
  chain: Pick<ChainView, "chainId" | "escrow" | "isValidContractSignature">,
  job: { jobId: string; client: string },
  peerId: string,
  auth: string | undefined,
  what: string,
  options: { signal?: AbortSignal } = {},
): Promise<void> {
  if (await isJobClientAuth(chain, job, peerId, auth, options)) return;
  throw new RefusalError(
    "NOT_JOB_CLIENT",
    auth
      ? `The auth signature on this ${what} is not by job ${job.jobId}'s client ${job.client} for peer ${peerId}.`
      : `A ${what} of job ${job.jobId} must carry auth: its client's signature for peer ${peerId}.`,
  );
}
