import { eip712Domain, signVoucher as signTyped } from "@rendermesh/shared/chain";
import type { RendermeshClient } from "../client.js";

export interface SignVoucherParameters {
  jobId: `0x${string}`;
  provider: string;
  /** Cumulative seconds this provider is owed in this job. */
  seconds: number;
}

export type SignVoucherReturnType = `0x${string}`;

export type SignVoucherErrorType = Error;

/**
 * Signs the client's cumulative EIP-712 voucher
 * `Voucher(bytes32 jobId,address provider,uint32 seconds)` under the
 * escrow's domain. A provider can redeem its latest voucher at any time.
 *
 * @example
 * const signature = await signVoucher(client, { jobId, provider, seconds: 2 });
 */
export async function signVoucher(client: RendermeshClient, params: SignVoucherParameters): Promise<SignVoucherReturnType> {
  return signTyped(client.wallet, eip712Domain(client.chainId, client.deployment.escrow), {
    jobId: params.jobId,
    provider: params.provider,
    seconds: params.seconds,
  });
}
