import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import { MAX_MESSAGE_BYTES, PROTOCOLS, VoucherResponse, type VoucherMessage } from "@rendermesh/shared";
import { request } from "@rendermesh/shared/net";
import { eip712Domain, verifyAcknowledgement } from "@rendermesh/shared/chain";
import type { RendermeshClient } from "../client.js";
import type { NetworkError, PeerRefusedError } from "../errors.js";
import { networkError, refusal } from "../net/peers.js";

export interface SendVoucherParameters {
  jobId: `0x${string}`;
  provider: string;
  seconds: number;
  signature: `0x${string}`;
  /** The provider's multiaddrs (from its delivery). */
  multiaddrs: string[];
  /** The provider's libp2p peer id, appended to addresses that lack `/p2p/…`. */
  peerId?: string | undefined;
  signal?: AbortSignal | undefined;
}

export type SendVoucherReturnType = {
  seconds: number;
  /** The provider's acknowledgement of exactly the voucher's seconds, checked here; absent if it gave none. */
  acknowledgement?: `0x${string}` | undefined;
};

export type SendVoucherErrorType = PeerRefusedError | NetworkError;

/** Provider addresses, each ending in `/p2p/<peerId>`. */
function providerTargets(addrs: readonly string[], peerId: string | undefined): Multiaddr[] {
  const out: Multiaddr[] = [];
  for (const a of addrs) {
    try {
      const ma = multiaddr(a);
      out.push(ma.getComponents().some((c) => c.name === "p2p") || !peerId ? ma : ma.encapsulate(`/p2p/${peerId}`));
    } catch {
      // a malformed address of the provider's is skipped; the others may work
    }
  }
  return out;
}

/**
 * Sends a signed cumulative voucher straight to the provider on
 * `/rendermesh/voucher`. Best effort: the provider can also be paid by the
 * final `settle`, so a provider that cannot be reached loses nothing.
 *
 * @example
 * await sendVoucher(client, { jobId, provider, seconds: 2, signature, multiaddrs, peerId });
 */
export async function sendVoucher(client: RendermeshClient, params: SendVoucherParameters): Promise<SendVoucherReturnType> {
  const { node } = await client.net();
  const message: VoucherMessage = {
    type: "voucher",
    chainId: client.chainId,
    escrow: client.deployment.escrow as `0x${string}`,
    voucher: { jobId: params.jobId, provider: params.provider as `0x${string}`, seconds: params.seconds },
    signature: params.signature,
  };
  let answer;
  try {
    answer = await request(node, providerTargets(params.multiaddrs, params.peerId), PROTOCOLS.voucher, message, VoucherResponse, {
      signal: params.signal,
      maxMessageBytes: MAX_MESSAGE_BYTES,
    });
  } catch (err) {
    throw networkError(err, "provider", "send its voucher");
  }
  if (answer.type === "error") throw refusal(answer, "provider");
  let acknowledgement: `0x${string}` | undefined;
  if (answer.acknowledgement && answer.seconds === params.seconds) {
    try {
      // Kept only if it is the provider's own signature of these seconds: a settle with a bad one would revert.
      const domain = eip712Domain(client.chainId, client.deployment.escrow);
      verifyAcknowledgement(
        domain,
        { jobId: params.jobId, provider: params.provider, seconds: params.seconds },
        answer.acknowledgement,
        params.provider,
      );
      acknowledgement = answer.acknowledgement;
    } catch (err) {
      client.logger.warn(
        { provider: params.provider, err: (err as Error).message },
        "the provider's acknowledgement does not verify; ignored",
      );
    }
  }
  return { seconds: answer.seconds, acknowledgement };
}
