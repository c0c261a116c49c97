import { getAddress, getBytes, hexlify, isHexString, TypedDataEncoder, type TypedDataDomain, type TypedDataField } from "ethers";
import { CID } from "multiformats/cid";
import { ChainValueError } from "./errors.js";

/**
 * The EIP-712 messages of the protocol and the escrow's domain. The
 * type strings are part of the protocol: wallets, `JobEscrow` and every
 * package sign and check exactly these.
 */

export const EIP712_NAME = "Rendermesh";
export const EIP712_VERSION = "1";

export const VOUCHER_TYPE = "Voucher(bytes32 jobId,address provider,uint32 seconds)";
export const ASSIGNMENT_TYPE =
  "Assignment(bytes32 jobId,uint32 segment,uint32 firstFrame,uint32 frameCount,address provider,uint64 deadline)";
export const DELIVERY_TYPE = "Delivery(bytes32 jobId,uint32 segment,bytes cid,bytes32 sha256,uint32 frameCount,bytes trace)";
/** Signed by a provider: it is owed `seconds` seconds of the job in total and no more (for a cooperative settle). */
export const ACKNOWLEDGEMENT_TYPE = "Acknowledgement(bytes32 jobId,address provider,uint32 seconds)";
/** Signed by a job's coordinator: it assigned `provider` `seconds` seconds of the job in total (vouchers' cap). */
export const ALLOCATION_TYPE = "Allocation(bytes32 jobId,address provider,uint32 seconds)";

/** The escrow's EIP-712 domain. */
export interface RendermeshDomain extends TypedDataDomain {
  name: typeof EIP712_NAME;
  version: typeof EIP712_VERSION;
  chainId: bigint;
  verifyingContract: string;
}

/** The domain every Rendermesh message is signed under: name, version, chain id and the `JobEscrow` address. */
export function eip712Domain(chainId: bigint | number, escrow: string): RendermeshDomain {
  return { name: EIP712_NAME, version: EIP712_VERSION, chainId: BigInt(chainId), verifyingContract: getAddress(escrow) };
}

function types(primary: string, fields: TypedDataField[]): Record<string, TypedDataField[]> {
  return Object.freeze({ [primary]: Object.freeze(fields.map((f) => Object.freeze(f))) as TypedDataField[] });
}

/** `Voucher(bytes32 jobId,address provider,uint32 seconds)`, as ethers `signTypedData` takes it. */
export const VOUCHER_TYPES = types("Voucher", [
  { name: "jobId", type: "bytes32" },
  { name: "provider", type: "address" },
  { name: "seconds", type: "uint32" },
]);

/** `Assignment(bytes32 jobId,uint32 segment,uint32 firstFrame,uint32 frameCount,address provider,uint64 deadline)`. */
export const ASSIGNMENT_TYPES = types("Assignment", [
  { name: "jobId", type: "bytes32" },
  { name: "segment", type: "uint32" },
  { name: "firstFrame", type: "uint32" },
  { name: "frameCount", type: "uint32" },
  { name: "provider", type: "address" },
  { name: "deadline", type: "uint64" },
]);

/** `Delivery(bytes32 jobId,uint32 segment,bytes cid,bytes32 sha256,uint32 frameCount,bytes trace)`. */
export const DELIVERY_TYPES = types("Delivery", [
  { name: "jobId", type: "bytes32" },
  { name: "segment", type: "uint32" },
  { name: "cid", type: "bytes" },
  { name: "sha256", type: "bytes32" },
  { name: "frameCount", type: "uint32" },
  { name: "trace", type: "bytes" },
]);

/** `Acknowledgement(bytes32 jobId,address provider,uint32 seconds)`. */
export const ACKNOWLEDGEMENT_TYPES = types("Acknowledgement", [
  { name: "jobId", type: "bytes32" },
  { name: "provider", type: "address" },
  { name: "seconds", type: "uint32" },
]);

/** `Allocation(bytes32 jobId,address provider,uint32 seconds)`. */
export const ALLOCATION_TYPES = types("Allocation", [
  { name: "jobId", type: "bytes32" },
  { name: "provider", type: "address" },
  { name: "seconds", type: "uint32" },
]);

/**
 * An Acknowledgement (signed by `provider`) or an Allocation (signed by the
 * job's coordinator): both are `(jobId, provider, seconds)`, cumulative.
 */
export interface SecondsStatement {
  jobId: string;
  provider: string;
  seconds: number | bigint;
}

/** Signed by a job's client: `provider` is owed `seconds` seconds of the job in total (cumulative). */
export interface Voucher {
  jobId: string;
  provider: string;
  seconds: number | bigint;
}

/** Signed by a job's coordinator: `provider` renders `segment`, frames `[firstFrame, firstFrame + frameCount)`, by `deadline` (unix seconds). */
export interface Assignment {
  jobId: string;
  segment: number | bigint;
  firstFrame: number | bigint;
  frameCount: number | bigint;
  provider: string;
  deadline: number | bigint;
}

/** A CID as binary bytes, 0x hex of those bytes, a CIDv1 string (`bafy…`), or a `CID` object. */
export type CidInput = Uint8Array | string | { readonly bytes: Uint8Array };

/**
 * Signed by a provider: it delivered `segment` as the file with CIDv1 `cid` and `sha256`. `trace` is the binary
 * CIDv1 of the segment's render-trace root; absent (empty bytes) for models without one, such as the field model.
 */
export interface Delivery {
  jobId: string;
  segment: number | bigint;
  cid: CidInput;
  sha256: string;
  frameCount: number | bigint;
  trace?: CidInput | undefined;
}

/** The delivery's trace as 0x hex bytes: `0x` when it has none. */
export function traceHex(trace: CidInput | undefined): string {
  if (trace === undefined || trace === "0x" || (trace instanceof Uint8Array && trace.length === 0)) return "0x";
  return hexlify(cidBytes(trace));
}

/** The binary CIDv1 that a Delivery signs. */
export function cidBytes(cid: CidInput): Uint8Array {
  let bytes: Uint8Array;
  if (cid instanceof Uint8Array) bytes = cid;
  else if (typeof cid === "string" && isHexString(cid)) bytes = getBytes(cid);
  else if (typeof cid === "string") {
    try {
      bytes = CID.parse(cid).bytes;
    } catch (cause) {
      throw new ChainValueError(`"${cid.slice(0, 80)}" is neither 0x hex nor a CID string.`, { cause });
    }
  } else bytes = cid.bytes;
  let parsed: CID;
  try {
    parsed = CID.decode(bytes) as CID;
  } catch (cause) {
    throw new ChainValueError(`The bytes ${hexlify(bytes).slice(0, 80)} are not a binary CID.`, { cause });
  }
  if (parsed.version !== 1) {
    throw new ChainValueError(`CID ${parsed.toString()} is version ${parsed.version}; deliveries sign CIDv1.`, {
      hint: "Convert it with cid.toV1().",
    });
  }
  return bytes;
}

/** The voucher as EIP-712 typed-data value. */
export function voucherValue(voucher: Voucher): Record<string, unknown> {
  return { jobId: voucher.jobId, provider: voucher.provider, seconds: voucher.seconds };
}

/** The assignment as EIP-712 typed-data value. */
export function assignmentValue(assignment: Assignment): Record<string, unknown> {
  const { jobId, segment, firstFrame, frameCount, provider, deadline } = assignment;
  return { jobId, segment, firstFrame, frameCount, provider, deadline };
}

/** The delivery as EIP-712 typed-data value (the CID as binary bytes). */
export function deliveryValue(delivery: Delivery): Record<string, unknown> {
  const { jobId, segment, sha256, frameCount } = delivery;
  return { jobId, segment, cid: hexlify(cidBytes(delivery.cid)), sha256, frameCount, trace: traceHex(delivery.trace) };
}

/**
 * The voucher as `JobEscrow.redeem` takes it. `seconds` is a reserved word in
 * Solidity, so the contract's field is `totalSeconds`.
 */
export function voucherStruct(voucher: Voucher): { jobId: string; provider: string; totalSeconds: bigint } {
  return { jobId: voucher.jobId, provider: voucher.provider, totalSeconds: BigInt(voucher.seconds) };
}

/** The assignment as `JobEscrow.claim` takes it. */
export function assignmentStruct(assignment: Assignment): {
  jobId: string;
  segment: bigint;
  firstFrame: bigint;
  frameCount: bigint;
  provider: string;
  deadline: bigint;
} {
  return {
    jobId: assignment.jobId,
    segment: BigInt(assignment.segment),
    firstFrame: BigInt(assignment.firstFrame),
    frameCount: BigInt(assignment.frameCount),
    provider: assignment.provider,
    deadline: BigInt(assignment.deadline),
  };
}

/** The delivery as `JobEscrow.claim` takes it (the CID as 0x hex of its binary form). */
export function deliveryStruct(delivery: Delivery): {
  jobId: string;
  segment: bigint;
  cid: string;
  sha256: string;
  frameCount: bigint;
  trace: string;
} {
  return {
    jobId: delivery.jobId,
    segment: BigInt(delivery.segment),
    cid: hexlify(cidBytes(delivery.cid)),
    sha256: delivery.sha256,
    frameCount: BigInt(delivery.frameCount),
    trace: traceHex(delivery.trace),
  };
}

/** An acknowledgement or allocation as EIP-712 typed-data value. */
export function secondsValue(statement: SecondsStatement): Record<string, unknown> {
  return { jobId: statement.jobId, provider: statement.provider, seconds: statement.seconds };
}

/** The EIP-712 digest a voucher signature signs. */
export function hashVoucher(domain: TypedDataDomain, voucher: Voucher): string {
  return TypedDataEncoder.hash(domain, VOUCHER_TYPES, voucherValue(voucher));
}

/** The EIP-712 digest an assignment signature signs. */
export function hashAssignment(domain: TypedDataDomain, assignment: Assignment): string {
  return TypedDataEncoder.hash(domain, ASSIGNMENT_TYPES, assignmentValue(assignment));
}

/** The EIP-712 digest a delivery signature signs. */
export function hashDelivery(domain: TypedDataDomain, delivery: Delivery): string {
  return TypedDataEncoder.hash(domain, DELIVERY_TYPES, deliveryValue(delivery));
}
