import { createHash } from "node:crypto";
import { getAddress, verifyMessage } from "ethers";

/**
 * The binding between an Ethereum address and the X.509 key that signs its
 * Content Credentials. C2PA signs with X.509 certificates over P-256 keys,
 * not with secp256k1, so the address signs (EIP-191, any wallet can) a
 * statement naming the key's SHA-256 SPKI fingerprint; the statement travels
 * inside the manifest as the `org.rendermesh.signer` assertion. A verifier
 * that finds the address on the chain (the job's client, a paid provider)
 * then knows the key speaks for it.
 */
export interface SignerBinding {
  version: 1;
  /** The vouching Ethereum address (checksummed). */
  address: string;
  /** 0x sha256 of the signing certificate's SubjectPublicKeyInfo (DER). */
  key: `0x${string}`;
  /** EIP-191 signature by `address` over `bindingMessage(address, key)`. */
  signature: `0x${string}`;
}

/** Whatever can sign an EIP-191 message for an address (an ethers `Wallet` or `Signer`). */
export interface MessageSigner {
  readonly address: string;
  signMessage(message: string): Promise<string>;
}

export const keyFingerprint = (spki: Uint8Array): `0x${string}` => `0x${createHash("sha256").update(spki).digest("hex")}`;

/** The exact text the address signs: readable in a wallet's prompt, and naming what it vouches for. */
export function bindingMessage(address: string, key: string): string {
  return [
    "Rendermesh provenance key",
    "",
    "This address vouches that the X.509 key below signs Content Credentials (C2PA) on its behalf.",
    "",
    `address: ${getAddress(address)}`,
    `key (sha256 of SPKI): ${key.toLowerCase()}`,
  ].join("\n");
}

export async function signBinding(signer: MessageSigner, spki: Uint8Array): Promise<SignerBinding> {
  const address = getAddress(signer.address);
  const key = keyFingerprint(spki);
  const signature = (await signer.signMessage(bindingMessage(address, key))) as `0x${string}`;
  return { version: 1, address, key, signature };
}

export type BindingCheck = { ok: true } | { ok: false; reason: string };

/** Checks that `binding` was signed by its address and names the key `spki`. */
export function checkBinding(binding: unknown, spki: Uint8Array | undefined): BindingCheck {
  const b = binding as Partial<SignerBinding> | undefined;
  if (!b || typeof b.address !== "string" || typeof b.key !== "string" || typeof b.signature !== "string")
    return { ok: false, reason: "the manifest has no signer binding" };
  let recovered: string;
  try {
    recovered = verifyMessage(bindingMessage(b.address, b.key), b.signature);
  } catch {
    return { ok: false, reason: "the binding signature is malformed" };
  }
  if (getAddress(recovered) !== getAddress(b.address))
    return { ok: false, reason: `the binding was signed by ${recovered}, not by ${getAddress(b.address)}` };
  if (!spki) return { ok: false, reason: "the signing certificate could not be read from the manifest" };
  if (keyFingerprint(spki) !== b.key.toLowerCase())
    return { ok: false, reason: `${getAddress(b.address)} vouched for another key than the one that signed this manifest` };
  return { ok: true };
}
