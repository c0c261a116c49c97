import type { AssignmentFields, DeliveryFields, PolicySnapshot, VoucherFields } from "@rendermesh/shared";
import type { EscrowJob, RegistryEntry } from "@rendermesh/shared/chain";

/**
 * What the provider reads from the chain. The production implementation is
 * `EthersChain` (over the shared ABIs); tests may stub any of it.
 */
export interface ChainReader {
  readonly chainId: number;
  readonly escrowAddress: string;
  getJob(jobId: string): Promise<EscrowJob>;
  /** Block number of the job's `JobOpened` event; undefined when the escrow never opened it. */
  jobOpenedBlock(jobId: string): Promise<number | undefined>;
  /** The content policy as it stood at `blockTag` (default: latest). */
  readPolicy(blockTag?: number): Promise<PolicySnapshot>;
  /** Paid seconds of `provider` in `jobId` per the escrow. */
  paidSeconds(jobId: string, provider: string): Promise<number>;
  getProvider(address: string): Promise<RegistryEntry>;
  /** Latest block timestamp, unix seconds. */
  chainTime(): Promise<number>;
  /**
   * What the escrow paid `provider` for `jobId` since `fromBlock`, from its
   * events: `VoucherRedeemed` (a redeem, or a settle when the same
   * transaction settled the job) and `ClaimFinalized`.
   */
  paymentEvents(jobId: string, provider: string, fromBlock: number): Promise<PaymentEvent[]>;
}

export interface PaymentEvent {
  tx: string;
  kind: "redeem" | "settle" | "claim";
  /** Cumulative seconds (redeem, settle). */
  seconds?: number | undefined;
  /** The claimed segment (claim). */
  segment?: number | undefined;
  amount: bigint;
}

/**
 * EIP-712 signer recovery under the escrow's domain. `likely` is who should have signed: a guess that may make the
 * check cheaper (a key seen before is checked directly), never a change to the signer returned.
 */
export interface SignatureChecker {
  recoverAssignmentSigner(assignment: AssignmentFields, signature: string, likely?: string): string;
  recoverVoucherSigner(voucher: VoucherFields, signature: string, likely?: string): string;
  /**
   * Whether `signature` is `signer`'s voucher as the escrow will judge it: ECDSA for an account without code, the
   * account's ERC-1271 `isValidSignature` for a contract wallet (a Safe, an ERC-4337 account). Throws only when the
   * chain cannot be asked.
   */
  isVoucherSignedBy(voucher: VoucherFields, signature: string, signer: string): Promise<boolean>;
  recoverDeliverySigner(delivery: DeliveryFields, signature: string, likely?: string): string;
}

export interface DeliverySigner {
  signDelivery(delivery: DeliveryFields): Promise<`0x${string}`>;
}

export interface AcknowledgementSigner {
  signAcknowledgement(jobId: string, seconds: number): Promise<`0x${string}`>;
}

export interface EscrowClaim {
  provider: string;
  /** Unix seconds: the end of the dispute window while pending, of the arbiter's window while disputed. */
  disputableUntil: number;
  status: number;
}

/** The coordinator's allocation to this provider, which a redeem needs. */
export interface AllocationProof {
  seconds: number;
  signature: string;
}

/** A mined transaction and what it paid this provider, if anything. */
export interface TxResult {
  hash: string;
  /** Token base units credited to the provider by this transaction (from its events). */
  amount: bigint;
  gasUsed: bigint;
}

/** A segment this provider delivered, as `JobEscrow.attributeSegment` takes it (the same pair a claim carries). */
export interface SegmentAttribution {
  assignment: AssignmentFields;
  coordinatorSig: string;
  delivery: DeliveryFields;
  providerSig: string;
}

/** The escrow calls of the payment loop. Each waits for the transaction to be mined. */
export interface EscrowWriter {
  redeem(voucher: VoucherFields, signature: string, allocation: AllocationProof): Promise<TxResult>;
  claim(
    assignment: AssignmentFields,
    coordinatorSig: string,
    delivery: DeliveryFields,
    providerSig: string,
  ): Promise<TxResult & { disputableUntil: number }>;
  finalizeClaim(jobId: string, segment: number): Promise<TxResult>;
  /**
   * How the escrow would answer `attributeSegment(voucher, …, attributions)` sent by this provider now: undefined
   * when it would succeed, else its refusal as `ErrorName(args…)`. Optional: a writer without it (a test stub) never
   * attributes.
   */
  checkAttributeSegment?(
    voucher: VoucherFields,
    signature: string,
    allocation: AllocationProof,
    attributions: SegmentAttribution[],
  ): Promise<string | undefined>;
  /**
   * Drops other providers' claims on segments this provider delivered and redeems its voucher, in one transaction
   * (`JobEscrow.attributeSegment`; the escrow lets the provider do it only when its voucher cannot be paid otherwise).
   */
  attributeSegment?(
    voucher: VoucherFields,
    signature: string,
    allocation: AllocationProof,
    attributions: SegmentAttribution[],
  ): Promise<TxResult>;
  withdraw(): Promise<TxResult>;
  getClaim(jobId: string, segment: number): Promise<EscrowClaim>;
  /** The provider's balance held by the escrow (earned, not yet withdrawn). */
  escrowBalance(address: string): Promise<bigint>;
}
