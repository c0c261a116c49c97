/**
 * The chain's view of a job and of a provider's registration, as plain values,
 * one definition for every part that reads them (coordinator, provider-node,
 * client). Addresses are lower-cased so parts compare them with `===`.
 */

/** `JobEscrow.JobStatus`. */
export const JobStatus = { None: 0, Open: 1, Settled: 2, Refunded: 3, Closing: 4 } as const;
export type JobStatusName = "none" | "open" | "settled" | "refunded";
/**
 * A job's status as the nodes' journals name it. A closing job (settled by the client without every provider's
 * acknowledgement, its challenge window running) is still "open" to them: providers can redeem and claim.
 */
export const jobStatusName = (s: number): JobStatusName => (["none", "open", "settled", "refunded", "open"] as const)[s] ?? "none";
/** `JobEscrow.ClaimStatus`. */
export const ClaimStatus = { None: 0, Pending: 1, Disputed: 2, Paid: 3, Refused: 4 } as const;

/** `JobEscrow.getJob(jobId)`, with addresses lower-cased. */
export interface EscrowJob {
  client: string;
  seconds: number;
  paidSeconds: number;
  reservedSeconds: number;
  coordinator: string;
  /** Unix seconds. */
  deadline: number;
  coordinatorFeeBps: number;
  treasuryFeeBps: number;
  pricePerSecond: bigint;
  policyVersion: bigint;
  status: number;
  specHash: string;
  /** End of the challenge window once the client settled without every acknowledgement (unix seconds; 0 before). */
  closesAt: number;
  /** The job's own windows, fixed when it opened (seconds), and its dispute bond. */
  disputeWindow: number;
  claimWindow: number;
  arbiterWindow: number;
  disputeBond: bigint;
}

/** `ProviderRegistry.getProvider(address)`. */
export interface RegistryEntry {
  registered: boolean;
  /** Peer id multihash bytes as 0x hex. */
  peerId: string;
  stake: bigint;
  askPerSecond: bigint;
  /** Model ids, lower-cased. */
  models: string[];
  unstakeAmount: bigint;
  unstakeAvailableAt: number;
}

/** The struct `JobEscrow.getJob` returns through ethers (fields by name). */
export interface RawEscrowJob {
  client: string;
  totalSeconds: bigint | number;
  paidSeconds: bigint | number;
  reservedSeconds: bigint | number;
  coordinator: string;
  deadline: bigint | number;
  coordinatorFeeBps: bigint | number;
  treasuryFeeBps: bigint | number;
  pricePerSecond: bigint | number;
  policyVersion: bigint | number;
  status: bigint | number;
  specHash: string;
  closesAt: bigint | number;
  disputeWindow: bigint | number;
  claimWindow: bigint | number;
  arbiterWindow: bigint | number;
  disputeBond: bigint | number;
}

/** The struct `ProviderRegistry.getProvider` returns through ethers. */
export interface RawRegistryEntry {
  registered: boolean;
  peerId: string;
  stake: bigint | number;
  askPerSecond: bigint | number;
  models: readonly string[];
  unstakeAmount: bigint | number;
  unstakeAvailableAt: bigint | number;
}

/** `escrow.getJob(jobId)`'s result as an `EscrowJob`. */
export function toEscrowJob(j: RawEscrowJob): EscrowJob {
  return {
    client: String(j.client).toLowerCase(),
    seconds: Number(j.totalSeconds),
    paidSeconds: Number(j.paidSeconds),
    reservedSeconds: Number(j.reservedSeconds),
    coordinator: String(j.coordinator).toLowerCase(),
    deadline: Number(j.deadline),
    coordinatorFeeBps: Number(j.coordinatorFeeBps),
    treasuryFeeBps: Number(j.treasuryFeeBps),
    pricePerSecond: BigInt(j.pricePerSecond),
    policyVersion: BigInt(j.policyVersion),
    status: Number(j.status),
    specHash: String(j.specHash).toLowerCase(),
    closesAt: Number(j.closesAt),
    disputeWindow: Number(j.disputeWindow),
    claimWindow: Number(j.claimWindow),
    arbiterWindow: Number(j.arbiterWindow),
    disputeBond: BigInt(j.disputeBond),
  };
}

/** `registry.getProvider(address)`'s result as a `RegistryEntry`. */
export function toRegistryEntry(p: RawRegistryEntry): RegistryEntry {
  return {
    registered: Boolean(p.registered),
    peerId: String(p.peerId),
    stake: BigInt(p.stake),
    askPerSecond: BigInt(p.askPerSecond),
    models: p.models.map((m) => String(m).toLowerCase()),
    unstakeAmount: BigInt(p.unstakeAmount),
    unstakeAvailableAt: Number(p.unstakeAvailableAt),
  };
}
