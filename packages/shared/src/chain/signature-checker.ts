import { getAddress, Interface, type Provider, type TypedDataDomain } from "ethers";
import { hashVoucher, type Voucher } from "./eip712.js";
import { signerKeys } from "./signer-keys.js";

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
 * Off-chain twin of OpenZeppelin's `SignatureChecker.isValidSignatureNow`,
 * which the escrow uses, in the order that needs the chain least: ECDSA
 * first (the hash recovered to `signer`: true, no chain read at all), then,
 * when `signer` is a contract (a Safe, an ERC-4337 account, any ERC-1271
 * wallet), its `isValidSignature(hash, signature)` answering the magic value,
 * asked with `eth_call`. So a node accepts the signatures the contract will
 * accept, contract wallets included, and judges a plain key's signature even
 * while the chain does not answer. (OpenZeppelin 5.7 asks a signer with code
 * only by ERC-1271; an ECDSA signature "by" an address with code is possible
 * only for an EIP-7702-delegated account, which this accepts.)
 *
 * A malformed signature, a wallet that reverts or answers anything else is
 * `false`; a failure to reach the chain (needed only when ECDSA does not
 * match) throws: the signature was not judged.
 */
export async function isValidSignatureNow(
  reader: SignatureReader,
  signer: string,
  hash: string,
  signature: string,
  options: SignatureCheckOptions = {},
): Promise<boolean> {
  const account = getAddress(signer);
  try {
    if (signerKeys.recover(hash, signature, account) === account) return true;
  } catch {
    // not a recoverable 65-byte (or 64-byte compact) signature: a contract wallet may still accept it
  }
  const code = await reader.getCode(account, options.blockTag);
  if (code === "0x") return false;
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
