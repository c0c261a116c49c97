import { jobAccessMessage } from "@rendermesh/shared";
import type { RendermeshClient } from "../client.js";

const cache = new WeakMap<RendermeshClient, Map<string, `0x${string}`>>();

/**
 * The client's `auth` for acting on `jobId` from its libp2p peer: an EIP-191
 * signature by the client's wallet over `jobAccessMessage(chainId, escrow,
 * jobId, peerId)`. The coordinator checks it against the job's client stored
 * on the escrow, so only the key that opened the job can submit, follow,
 * report verdicts on or cancel it. Signed once per job and kept.
 *
 * @example
 * const auth = await jobAuth(client, jobId);
 */
export async function jobAuth(client: RendermeshClient, jobId: string): Promise<`0x${string}`> {
  const { node } = await client.net();
  const peerId = node.peerId.toString();
  let byJob = cache.get(client);
  if (!byJob) cache.set(client, (byJob = new Map()));
  const key = `${jobId.toLowerCase()}:${peerId}`;
  const known = byJob.get(key);
  if (known) return known;
  const auth = (await client.wallet.signMessage(
    jobAccessMessage(client.chainId, client.deployment.escrow, jobId, peerId),
  )) as `0x${string}`;
  byJob.set(key, auth);
  return auth;
}
