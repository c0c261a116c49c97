import type { AssignmentFields, DeliveryFields, PolicySnapshot, VoucherFields } from "@rendermesh/shared";
import {
  assignmentStruct,
  connectContracts,
  toEscrowJob,
  toRegistryEntry,
  deliveryStruct,
  eip712Domain,
  isVoucherSignedBy,
  readPolicy,
  signAcknowledgement,
  signDelivery,
  verifyAssignment,
  verifyDelivery,
  verifyVoucher,
  voucherStruct,
  withHeadroom,
  type Deployment,
  type RendermeshContracts,
  type RendermeshDomain,
  type EscrowJob,
  type RegistryEntry,
} from "@rendermesh/shared/chain";
import type { ContractTransactionResponse, Provider, Signer, TransactionReceipt } from "ethers";
import { TransactionError } from "../errors.js";
import type {
  AllocationProof,
  ChainReader,
  DeliverySigner,
  EscrowClaim,
  EscrowWriter,
  PaymentEvent,
  SegmentAttribution,
  SignatureChecker,
  TxResult,
} from "./types.js";

/** The revert data an ethers error carries, wherever the node put it. */
function revertData(err: unknown): string | undefined {
  const e = err as { data?: unknown; info?: { error?: { data?: unknown } }; error?: { data?: unknown } };
  for (const d of [e?.data, e?.info?.error?.data, e?.error?.data, (e?.info?.error?.data as { data?: unknown } | undefined)?.data]) {
    if (typeof d === "string" && /^0x[0-9a-fA-F]{8}/.test(d)) return d;
  }
  return undefined;
}

/** The arguments of `JobEscrow.attributeSegment`. */
function attributeArgs(voucher: VoucherFields, signature: string, allocation: AllocationProof, attributions: SegmentAttribution[]) {
  return [
    voucherStruct(voucher),
    signature,
    allocation.seconds,
    allocation.signature,
    attributions.map((a) => ({
      assignment: assignmentStruct(a.assignment),
      coordinatorSig: a.coordinatorSig,
      delivery: deliveryStruct(a.delivery),
      providerSig: a.providerSig,
    })),
  ] as const;
}

/**
 * Decodes an ethers failure into one sentence naming the contract's custom
 * error and its arguments when any of `interfaces` knows it (ethers does not
 * decode custom errors of a failed `sendTransaction` by itself).
 */
export function describeChainError(
  err: unknown,
  interfaces: ReadonlyArray<{ parseError(data: string): { name: string; args: ArrayLike<unknown> } | null }> = [],
): string {
  const e = err as { revert?: { name?: string; args?: unknown[] }; shortMessage?: string; reason?: string; message?: string };
  const fmt = (name: string, args: ArrayLike<unknown>) =>
    `${name}(${Array.from(args)
      .map((a) => (typeof a === "bigint" ? a.toString() : String(a)))
      .join(", ")})`;
  if (e?.revert?.name) return fmt(e.revert.name, e.revert.args ?? []);
  const data = revertData(err);
  if (data) {
    for (const i of interfaces) {
      try {
        const parsed = i.parseError(data);
        if (parsed) return fmt(parsed.name, parsed.args);
      } catch {
        // not this contract's error
      }
    }
  }
  return e?.reason ?? e?.shortMessage ?? e?.message ?? String(err);
}

/**
 * The provider's view of (and hand on) the Rendermesh contracts, over
 * ethers 6 and the shared ABIs. Reads go through `provider`; transactions
 * are signed by `signer` and awaited until mined.
 */
export class EthersChain implements ChainReader, SignatureChecker, DeliverySigner, EscrowWriter {
  readonly chainId: number;
  readonly escrowAddress: string;
  readonly deployment: Deployment;
  readonly contracts: RendermeshContracts;
  readonly domain: RendermeshDomain;
  readonly provider: Provider;
  readonly signer: Signer;
  readonly #openedBlocks = new Map<string, number>();

  constructor(init: { deployment: Deployment; signer: Signer; provider: Provider }) {
    this.deployment = init.deployment;
    this.chainId = init.deployment.chainId;
    this.escrowAddress = init.deployment.escrow;
    this.signer = init.signer;
    this.provider = init.provider;
    this.contracts = connectContracts(init.signer, init.deployment);
    this.domain = eip712Domain(init.deployment.chainId, init.deployment.escrow);
  }

  // ---- reads ----------------------------------------------------------------

  async getJob(jobId: string): Promise<EscrowJob> {
    return toEscrowJob(await this.contracts.escrow.getJob(jobId));
  }

  async jobOpenedBlock(jobId: string): Promise<number | undefined> {
    const key = jobId.toLowerCase();
    const cached = this.#openedBlocks.get(key);
    if (cached !== undefined) return cached;
    const escrow = this.contracts.escrow;
    const logs = await escrow.queryFilter(escrow.filters.JobOpened!(jobId), this.deployment.startBlock);
    const block = logs[0]?.blockNumber;
    if (block !== undefined) this.#openedBlocks.set(key, block);
    return block;
  }

  readPolicy(blockTag?: number): Promise<PolicySnapshot> {
    return readPolicy(this.contracts.policy, blockTag);
  }

  async paidSeconds(jobId: string, provider: string): Promise<number> {
    return Number(await this.contracts.escrow.paidSeconds(jobId, provider));
  }

  async getProvider(address: string): Promise<RegistryEntry> {
    return toRegistryEntry(await this.contracts.registry.getProvider(address));
  }

  async chainTime(): Promise<number> {
    const block = await this.provider.getBlock("latest");
    return block ? block.timestamp : Math.floor(Date.now() / 1000);
  }

  async paymentEvents(jobId: string, provider: string, fromBlock: number): Promise<PaymentEvent[]> {
    const escrow = this.contracts.escrow;
    const f = escrow.filters;
    const [redeemed, finalized, settled] = await Promise.all([
      escrow.queryFilter(f.VoucherRedeemed!(jobId, provider), fromBlock),
      escrow.queryFilter(f.ClaimFinalized!(jobId, null, provider), fromBlock),
      escrow.queryFilter(f.JobSettled!(jobId), fromBlock),
    ]);
    const settleTxs = new Set(settled.map((l) => l.transactionHash));
    const args = (log: unknown) => (log as { args: Record<string, bigint> }).args;
    return [
      ...redeemed.map((l) => ({
        tx: l.transactionHash,
        kind: settleTxs.has(l.transactionHash) ? ("settle" as const) : ("redeem" as const),
        seconds: Number(args(l).totalSeconds),
        amount: args(l).amount!,
      })),
      ...finalized.map((l) => ({
        tx: l.transactionHash,
        kind: "claim" as const,
        segment: Number(args(l).segment),
        amount: args(l).amount!,
      })),
    ];
  }

  async getClaim(jobId: string, segment: number): Promise<EscrowClaim> {
    const c = await this.contracts.escrow.getClaim(jobId, segment);
    return { provider: c.provider.toLowerCase(), disputableUntil: Number(c.deadlineAt), status: Number(c.status) };
  }

  async escrowBalance(address: string): Promise<bigint> {
    return this.contracts.escrow.balanceOf(address);
  }

  async tokenBalance(address: string): Promise<bigint> {
    return this.contracts.token.balanceOf(address);
  }

  // ---- signatures -------------------------------------------------------------

  recoverAssignmentSigner(assignment: AssignmentFields, signature: string, likely?: string): string {
    return verifyAssignment(this.domain, assignment, signature, { likely });
  }

  recoverVoucherSigner(voucher: VoucherFields, signature: string, likely?: string): string {
    return verifyVoucher(this.domain, voucher, signature, { likely });
  }

  isVoucherSignedBy(voucher: VoucherFields, signature: string, signer: string): Promise<boolean> {
    return isVoucherSignedBy(this.provider, this.domain, voucher, signature, signer);
  }

  recoverDeliverySigner(delivery: DeliveryFields, signature: string, likely?: string): string {
    return verifyDelivery(this.domain, delivery, signature, { likely });
  }

  signDelivery(delivery: DeliveryFields): Promise<`0x${string}`> {
    return signDelivery(this.signer, this.domain, delivery);
  }

  /** This provider acknowledges it is owed `seconds` of the job in total (for the client's cooperative settle). */
  async signAcknowledgement(jobId: string, seconds: number): Promise<`0x${string}`> {
    return signAcknowledgement(this.signer, this.domain, { jobId, provider: await this.signer.getAddress(), seconds });
  }

  // ---- escrow transactions ----------------------------------------------------------

  async redeem(voucher: VoucherFields, signature: string, allocation: AllocationProof): Promise<TxResult> {
    const args = [voucherStruct(voucher), signature, allocation.seconds, allocation.signature] as const;
    const receipt = await this.#send("redeem the voucher", async () =>
      this.contracts.escrow.redeem(...args, { gasLimit: withHeadroom(await this.contracts.escrow.redeem.estimateGas(...args)) }),
    );
    return { ...this.#result(receipt), amount: this.#sumEvent(receipt, "VoucherRedeemed", "amount") };
  }

  async claim(
    assignment: AssignmentFields,
    coordinatorSig: string,
    delivery: DeliveryFields,
    providerSig: string,
  ): Promise<TxResult & { disputableUntil: number }> {
    const args = [assignmentStruct(assignment), coordinatorSig, deliveryStruct(delivery), providerSig] as const;
    const receipt = await this.#send(`claim segment ${assignment.segment}`, async () =>
      this.contracts.escrow.claim(...args, { gasLimit: withHeadroom(await this.contracts.escrow.claim.estimateGas(...args)) }),
    );
    const event = this.#events(receipt, "SegmentClaimed")[0];
    return { ...this.#result(receipt), amount: 0n, disputableUntil: Number(event?.args.disputableUntil ?? 0n) };
  }

  async finalizeClaim(jobId: string, segment: number): Promise<TxResult> {
    const receipt = await this.#send(`finalise the claim of segment ${segment}`, async () =>
      this.contracts.escrow.finalizeClaim(jobId, segment, {
        gasLimit: withHeadroom(await this.contracts.escrow.finalizeClaim.estimateGas(jobId, segment)),
      }),
    );
    return { ...this.#result(receipt), amount: this.#sumEvent(receipt, "ClaimFinalized", "amount") };
  }

  async checkAttributeSegment(
    voucher: VoucherFields,
    signature: string,
    allocation: AllocationProof,
    attributions: SegmentAttribution[],
  ): Promise<string | undefined> {
    try {
      await this.contracts.escrow.attributeSegment.staticCall(...attributeArgs(voucher, signature, allocation, attributions));
      return undefined;
    } catch (err) {
      return describeChainError(err, this.#interfaces());
    }
  }

  async attributeSegment(
    voucher: VoucherFields,
    signature: string,
    allocation: AllocationProof,
    attributions: SegmentAttribution[],
  ): Promise<TxResult> {
    const args = attributeArgs(voucher, signature, allocation, attributions);
    const segments = attributions.map((a) => a.assignment.segment).join(", ");
    const receipt = await this.#send(`attribute segment(s) ${segments} and redeem the voucher`, async () =>
      this.contracts.escrow.attributeSegment(...args, {
        gasLimit: withHeadroom(await this.contracts.escrow.attributeSegment.estimateGas(...args)),
      }),
    );
    return { ...this.#result(receipt), amount: this.#sumEvent(receipt, "VoucherRedeemed", "amount") };
  }

  async withdraw(): Promise<TxResult> {
    const receipt = await this.#send("withdraw the escrow balance", () => this.contracts.escrow.withdraw());
    return { ...this.#result(receipt), amount: this.#sumEvent(receipt, "Withdrawn", "amount") };
  }

  // ---- registry transactions ----------------------------------------------------------

  /** Approves the registry for `stake` (if needed) and registers. */
  async register(peerId: Uint8Array, askPerSecond: bigint, models: string[], stake: bigint): Promise<TxResult[]> {
    const out: TxResult[] = [];
    const approve = await this.#approve(stake);
    if (approve) out.push(approve);
    const receipt = await this.#send("register", () => this.contracts.registry.register(peerId, askPerSecond, models, stake));
    out.push(this.#result(receipt));
    return out;
  }

  async addStake(amount: bigint): Promise<TxResult[]> {
    const out: TxResult[] = [];
    const approve = await this.#approve(amount);
    if (approve) out.push(approve);
    out.push(this.#result(await this.#send("add stake", () => this.contracts.registry.addStake(amount))));
    return out;
  }

  async setPeerId(peerId: Uint8Array): Promise<TxResult> {
    return this.#result(await this.#send("bind the peer id", () => this.contracts.registry.setPeerId(peerId)));
  }

  async updateListing(askPerSecond: bigint, models: string[]): Promise<TxResult> {
    return this.#result(await this.#send("update the ask and models", () => this.contracts.registry.update(askPerSecond, models)));
  }

  async requestUnstake(amount: bigint): Promise<TxResult & { availableAt: number }> {
    const receipt = await this.#send("request unstaking", () => this.contracts.registry.requestUnstake(amount));
    const event = this.#events(receipt, "UnstakeRequested", "registry")[0];
    return { ...this.#result(receipt), availableAt: Number(event?.args.availableAt ?? 0n) };
  }

  async withdrawStake(): Promise<TxResult> {
    const receipt = await this.#send("withdraw the stake", () => this.contracts.registry.withdrawStake());
    return { ...this.#result(receipt), amount: this.#sumEvent(receipt, "StakeWithdrawn", "amount", "registry") };
  }

  async #approve(amount: bigint): Promise<TxResult | undefined> {
    if (amount === 0n) return undefined;
    const owner = await this.signer.getAddress();
    const registry = this.deployment.registry;
    const allowance = await this.contracts.token.allowance(owner, registry);
    if (allowance >= amount) return undefined;
    return this.#result(await this.#send("approve the stake", () => this.contracts.token.approve(registry, amount)));
  }

  async #send(what: string, send: () => Promise<ContractTransactionResponse>): Promise<TransactionReceipt> {
    let response: ContractTransactionResponse;
    try {
      response = await send();
    } catch (cause) {
      throw new TransactionError(`Cannot ${what}: ${describeChainError(cause, this.#interfaces())}.`, { cause });
    }
    let receipt: TransactionReceipt | null;
    try {
      receipt = await response.wait();
    } catch (cause) {
      throw new TransactionError(`The transaction to ${what} failed: ${describeChainError(cause, this.#interfaces())}.`, {
        cause,
        details: [`tx: ${response.hash}`],
      });
    }
    if (!receipt) throw new TransactionError(`The transaction to ${what} was dropped.`, { details: [`tx: ${response.hash}`] });
    return receipt;
  }

  #interfaces() {
    return [this.contracts.escrow.interface, this.contracts.registry.interface, this.contracts.token.interface];
  }

  #result(receipt: TransactionReceipt): TxResult {
    return { hash: receipt.hash, amount: 0n, gasUsed: receipt.gasUsed };
  }

  #events(receipt: TransactionReceipt, name: string, contract: "escrow" | "registry" = "escrow") {
    const c = this.contracts[contract];
    const target = (contract === "escrow" ? this.deployment.escrow : this.deployment.registry).toLowerCase();
    const out: Array<{ args: Record<string, bigint> }> = [];
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== target) continue;
      try {
        const parsed = c.interface.parseLog(log);
        if (parsed?.name === name) out.push({ args: parsed.args as unknown as Record<string, bigint> });
      } catch {
        // not one of this contract's events
      }
    }
    return out;
  }

  #sumEvent(receipt: TransactionReceipt, name: string, field: string, contract: "escrow" | "registry" = "escrow"): bigint {
    return this.#events(receipt, name, contract).reduce((sum, e) => sum + BigInt(e.args[field] ?? 0n), 0n);
  }
}
