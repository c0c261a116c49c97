import { webcrypto } from "node:crypto";
import { Decoder, Encoder, Tag } from "cbor-x";

/**
 * COSE_Sign1 (RFC 9052) for a C2PA claim, built here because c2pa-wasm's
 * callback signer hands over the claim and expects the whole structure back:
 * ES256 and the certificate chain (x5chain, label 33) in the protected
 * header, the claim as detached payload, and a `pad` in the unprotected
 * header that makes the result exactly the size c2pa-rs reserved for it.
 */
// Plain CBOR: byte strings untagged, Maps as maps (cbor-x tags both by default; its types omit the Map option).
const cbor = new Encoder({
  tagUint8Array: false,
  useTag259ForMaps: false,
  variableMapSize: true,
  useRecords: false,
} as ConstructorParameters<typeof Encoder>[0]);
const decoder = new Decoder({ mapsAsObjects: false, useRecords: false });

const COSE_SIGN1_TAG = 18;
const HEADER_ALG = 1;
const HEADER_X5CHAIN = 33;
const ES256 = -7;

/** Bytes the signature box needs for `chain`: the certificates, the signature and headers, with room for padding. */
export function reserveSizeFor(chain: readonly Uint8Array[]): number {
  return chain.reduce((n, c) => n + c.byteLength, 0) + 512;
}

export async function coseSign1(
  claim: Uint8Array,
  key: webcrypto.CryptoKey,
  chain: readonly Uint8Array[],
  reserveSize: number,
): Promise<Uint8Array> {
  const protectedHeader = cbor.encode(
    new Map<number, unknown>([
      [HEADER_ALG, ES256],
      [HEADER_X5CHAIN, chain.length === 1 ? chain[0] : [...chain]],
    ]),
  );
  const toBeSigned = cbor.encode(["Signature1", protectedHeader, new Uint8Array(0), claim]);
  // WebCrypto's ECDSA output is r‖s (IEEE P1363), the form COSE wants.
  const signature = new Uint8Array(await webcrypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, toBeSigned));
  const build = (pad: number) =>
    new Uint8Array(cbor.encode(new Tag([protectedHeader, new Map([["pad", new Uint8Array(pad)]]), null, signature], COSE_SIGN1_TAG)));
  // The pad's length prefix grows at 24, 256 and 65536 bytes, so step down until it fits exactly.
  let pad = Math.max(0, reserveSize - build(0).byteLength);
  let out = build(pad);
  while (out.byteLength > reserveSize && pad > 0) out = build(--pad);
  if (out.byteLength !== reserveSize) throw new RangeError(`COSE_Sign1 is ${out.byteLength} bytes; ${reserveSize} were reserved`);
  return out;
}

/** The DER certificates of a COSE_Sign1's x5chain, signer first. */
export function coseCertChain(cose: Uint8Array): Uint8Array[] {
  let value = decoder.decode(cose) as unknown;
  if (value instanceof Tag) value = value.value;
  if (!Array.isArray(value) || !(value[0] instanceof Uint8Array)) return [];
  const header = decoder.decode(value[0]) as unknown;
  const x5 = header instanceof Map ? header.get(HEADER_X5CHAIN) : undefined;
  if (x5 instanceof Uint8Array) return [x5];
  return Array.isArray(x5) ? x5.filter((c): c is Uint8Array => c instanceof Uint8Array) : [];
}
