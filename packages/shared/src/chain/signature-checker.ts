import { getAddress, Interface, recoverAddress, type Provider, type TypedDataDomain } from "ethers";
import { hashVoucher, type Voucher } from "./eip712.js";

/** `IERC1271.isValidSignature.selector`: what a contract wallet returns for a signature it accepts. */
export const ERC1271_MAGIC_VALUE = "0x1626ba7e";

const ERC1271 = new Interface(["function isValidSignature(bytes32 hash, bytes signature) view returns (bytes4)"]);
/** The whole first return word must be the selector, left-aligned (OpenZeppelin compares `mload(0)` with it). */
const MAGIC_WORD = ERC1271_MAGIC_VALUE + "0".repeat(56);

/** The two reads a signature check needs: whether the signer has code, and an `eth_call` to it. */
export type SignatureReader = Pick<Provider, "getCode" | "call">;

export interface SignatureCheckOptions {
  /** The block to check at (default latest): an account's code and a wallet's owners can change. */
  blockTag?: number | "latest" | undefined;
}

/**
 * Off-chain twin of OpenZeppelin 5's `SignatureChecker.isValidSignatureNow`,
 * which the escrow uses: an account without code signs by ECDSA (the hash
 * recovered to it), an account with code (a Safe, an ERC-4337 account, any
 * ERC-1271 wallet) by its `isValidSignature(hash, signature)` answering the
 * magic value, asked with `eth_call`. So a node accepts exactly the
 * signatures the contract will accept, contract wallets included.
 *
 * A malformed signature, a wallet that reverts or answers anything else is
 * `false`; a failure to reach the chain throws (the signature was not judged).
 */
export async function isValidSignatureNow(
  reader: SignatureReader,
  signer: string,
  hash: string,
  signature: string,
  options: SignatureCheckOptions = {},
): Promise<boolean> {
  const account = getAddress(signer);
  const code = await reader.getCode(account, options.blockTag);
  if (code === "0x") {
    try {
      return getAddress(recoverAddress(hash, signature)) === account;
    } catch {
      return false; // not a recoverable 65-byte (or 64-byte compact) signature
    }
  }
  let data: string;
  try {
    data = ERC1271.encodeFunctionData("isValidSignature", [hash, signature]);
  } catch {
    return false; // not bytes at all
  }
  let answer: string;
  try {
    answer = await reader.call({ to: account, data, blockTag: options.blockTag });
  } catch (err) {
    if ((err as { code?: string }).code === "CALL_EXCEPTION") return false; // the wallet reverted: not its signature
    throw err;
  }
  return answer.length >= MAGIC_WORD.length && answer.slice(0, MAGIC_WORD.length).toLowerCase() === MAGIC_WORD;
}

/** Whether `signature` is `signer`'s voucher, by ECDSA or ERC-1271 as the escrow's `redeem` and `settle` decide. */
export function isVoucherSignedBy(
  reader: SignatureReader,
  domain: TypedDataDomain,
  voucher: Voucher,
  signature: string,
  signer: string,
  options: SignatureCheckOptions = {},
): Promise<boolean> {
  return isValidSignatureNow(reader, signer, hashVoucher(domain, voucher), signature, options);
}
