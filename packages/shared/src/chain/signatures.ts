import { getAddress, TypedDataEncoder, type Signer, type TypedDataDomain, type TypedDataField } from "ethers";
import {
  ACKNOWLEDGEMENT_TYPES,
  ALLOCATION_TYPES,
  ASSIGNMENT_TYPES,
  DELIVERY_TYPES,
  VOUCHER_TYPES,
  assignmentValue,
  deliveryValue,
  secondsValue,
  voucherValue,
  type SecondsStatement,
  type Assignment,
  type Delivery,
  type Voucher,
} from "./eip712.js";
import { InvalidSignatureError } from "./errors.js";
import { signerKeys } from "./signer-keys.js";

/** Anything that signs EIP-712 typed data: an ethers `Wallet`, a JSON-RPC signer, a Hardhat signer. */
export type TypedDataSigner = Pick<Signer, "signTypedData">;

/** A 65-byte signature as 0x hex. */
type Hex = `0x${string}`;

/**
 * Who a signature is expected from. An address: the check throws
 * `InvalidSignatureError` unless that address signed. `{ likely }`: only a
 * guess, which makes the check cheaper when right (the key of a signer seen
 * before is checked directly instead of recovered, `SignerKeys`); the real
 * signer is returned either way.
 */
export type ExpectedSigner = string | { likely?: string | undefined };

async function sign(
  signer: TypedDataSigner,
  domain: TypedDataDomain,
  types: Record<string, TypedDataField[]>,
  value: Record<string, unknown>,
): Promise<Hex> {
  return (await signer.signTypedData(domain, types, value)) as Hex;
}

function verify(
  what: string,
  domain: TypedDataDomain,
  types: Record<string, TypedDataField[]>,
  value: Record<string, unknown>,
  signature: string,
  expected: ExpectedSigner | undefined,
): string {
  const expectedSigner = typeof expected === "string" ? expected : undefined;
  const likely = typeof expected === "string" ? expected : expected?.likely;
  let signer: string;
  try {
    signer = signerKeys.recover(TypedDataEncoder.hash(domain, types, value), signature, likely);
  } catch (cause) {
    throw new InvalidSignatureError(`The ${what} signature is malformed.`, { cause, details: [`signature: ${signature.slice(0, 140)}`] });
  }
  if (expectedSigner !== undefined && signer !== getAddress(expectedSigner)) {
    throw new InvalidSignatureError(`The ${what} was signed by ${signer}, not by ${getAddress(expectedSigner)}.`, {
      details: [`domain: chain ${String(domain.chainId)}, contract ${String(domain.verifyingContract)}`],
      hint: "Check the signer's key and that both sides use the same chain id and escrow address.",
    });
  }
  return signer;
}

/** The job client signs a cumulative voucher for a provider. */
export function signVoucher(signer: TypedDataSigner, domain: TypedDataDomain, voucher: Voucher): Promise<Hex> {
  return sign(signer, domain, VOUCHER_TYPES, voucherValue(voucher));
}

/**
 * Recovers who signed a voucher and returns that checksummed address; with
 * an `expectedSigner` address, throws `InvalidSignatureError` unless it is
 * that address (`{ likely }` only speeds up the check, see
 * {@link ExpectedSigner}). A malformed signature always throws
 * `InvalidSignatureError`.
 */
export function verifyVoucher(domain: TypedDataDomain, voucher: Voucher, signature: string, expectedSigner?: ExpectedSigner): string {
  return verify("voucher", domain, VOUCHER_TYPES, voucherValue(voucher), signature, expectedSigner);
}

/** The job coordinator signs a segment assignment. */
export function signAssignment(signer: TypedDataSigner, domain: TypedDataDomain, assignment: Assignment): Promise<Hex> {
  return sign(signer, domain, ASSIGNMENT_TYPES, assignmentValue(assignment));
}

/** As {@link verifyVoucher}, for an assignment (signed by the job's coordinator). */
export function verifyAssignment(
  domain: TypedDataDomain,
  assignment: Assignment,
  signature: string,
  expectedSigner?: ExpectedSigner,
): string {
  return verify("assignment", domain, ASSIGNMENT_TYPES, assignmentValue(assignment), signature, expectedSigner);
}

/** The provider signs a delivery receipt. */
export function signDelivery(signer: TypedDataSigner, domain: TypedDataDomain, delivery: Delivery): Promise<Hex> {
  return sign(signer, domain, DELIVERY_TYPES, deliveryValue(delivery));
}

/** As {@link verifyVoucher}, for a delivery receipt (signed by the provider). */
export function verifyDelivery(domain: TypedDataDomain, delivery: Delivery, signature: string, expectedSigner?: ExpectedSigner): string {
  return verify("delivery", domain, DELIVERY_TYPES, deliveryValue(delivery), signature, expectedSigner);
}

/** A provider acknowledges that it is owed `seconds` of the job in total, no more (what a cooperative settle needs). */
export function signAcknowledgement(signer: TypedDataSigner, domain: TypedDataDomain, ack: SecondsStatement): Promise<Hex> {
  return sign(signer, domain, ACKNOWLEDGEMENT_TYPES, secondsValue(ack));
}

/** As {@link verifyVoucher}, for an acknowledgement (signed by its provider). */
export function verifyAcknowledgement(
  domain: TypedDataDomain,
  ack: SecondsStatement,
  signature: string,
  expectedSigner?: ExpectedSigner,
): string {
  return verify("acknowledgement", domain, ACKNOWLEDGEMENT_TYPES, secondsValue(ack), signature, expectedSigner);
}

/** The job coordinator allocates `seconds` of the job to a provider (in total): vouchers and settle pay up to it. */
export function signAllocation(signer: TypedDataSigner, domain: TypedDataDomain, allocation: SecondsStatement): Promise<Hex> {
  return sign(signer, domain, ALLOCATION_TYPES, secondsValue(allocation));
}

/** As {@link verifyVoucher}, for an allocation (signed by the job's coordinator). */
export function verifyAllocation(
  domain: TypedDataDomain,
  allocation: SecondsStatement,
  signature: string,
  expectedSigner?: ExpectedSigner,
): string {
  return verify("allocation", domain, ALLOCATION_TYPES, secondsValue(allocation), signature, expectedSigner);
}
