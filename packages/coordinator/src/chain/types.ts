import type { AssignmentFields, PolicySnapshot, SignedDelivery } from "@rendermesh/shared";
import type { EscrowJob, RegistryEntry } from "@rendermesh/shared/chain";

export interface ChainCallOptions {
  signal?: AbortSignal;
}

/**
 * Everything the coordinator needs from the chain, behind one narrow
 * interface: the escrow's jobs, the registry's bindings, the policy at a
 * block, and EIP-712 signing and recovery under the escrow's domain. The
 * ethers implementation (`connectChain`) is what runs; unit tests of one
 * module may pass a stub.
 */
export interface ChainView {
  readonly chainId: number;
  readonly escrow: string;
  /** This coordinator's address (the signer of assignments). */
  readonly coordinator: string;
  getJob(jobId: string, options?: ChainCallOptions): Promise<EscrowJob>;
  /** The block of the job's `JobOpened` event, or undefined if none was found. */
  jobOpenedBlock(jobId: string, options?: ChainCallOptions): Promise<number | undefined>;
  /** The content policy at a block (default latest). */
  readPolicy(blockTag?: number, options?: ChainCallOptions): Promise<PolicySnapshot>;
  /** Unix seconds of the latest block: escrow deadlines are in chain time, which may run ahead of the wall clock. */
  chainTime?(options?: ChainCallOptions): Promise<number>;
  /** `registry.providerOfPeer(peerIdBytes)`, lower-case; the zero address if none. */
  providerOfPeer(peerIdBytes: Uint8Array, options?: ChainCallOptions): Promise<string>;
  isActive(address: string, options?: ChainCallOptions): Promise<boolean>;
  getProvider(address: string, options?: ChainCallOptions): Promise<RegistryEntry>;
  /** Addresses with a `ProviderRegistered` event, lower-case. */
  registeredProviders(options?: ChainCallOptions): Promise<string[]>;
  /** Calls `listener` with the address of every provider whose registration changed since the last call; returns the stop function. */
  watchRegistry(listener: (address: string) => void, intervalMs: number): () => void;
  /** Token balance the escrow holds (to check a job's deposit is there). */
  escrowBalance(options?: ChainCallOptions): Promise<bigint>;
  signAssignment(fields: AssignmentFields): Promise<`0x${string}`>;
  /** ERC-1271 `isValidSignature(hash, signature)` of a contract account; false for an account without code. */
  isValidContractSignature?(account: string, hash: string, signature: string, options?: ChainCallOptions): Promise<boolean>;
  /** Signs `Allocation(jobId, provider, seconds)`: the seconds of the job assigned to `provider` in total. */
  signAllocation?(jobId: string, provider: string, seconds: number): Promise<`0x${string}`>;
  /**
   * The address that signed a delivery receipt (EIP-712 under the escrow's domain). `likely` is who should have
   * signed: a guess that may make the check cheaper, never a change to the signer returned.
   */
  recoverDelivery(delivery: SignedDelivery, likely?: string): string;
  close(): Promise<void>;
}
