import type { Logger, VoucherMessage } from "@rendermesh/shared";
import { JobStatus } from "@rendermesh/shared/chain";
import type { AcknowledgementSigner, ChainReader, SignatureChecker } from "../chain/types.js";
import { RefusalError } from "../errors.js";
import type { Journal } from "../journal/index.js";
import type { ProviderMetrics } from "../metrics.js";

export interface VoucherServiceComponents {
  address: string;
  chain: Pick<ChainReader, "chainId" | "escrowAddress" | "getJob">;
  signatures: Pick<SignatureChecker, "isVoucherSignedBy">;
  journal: Journal;
  metrics: ProviderMetrics;
  logger: Logger;
  /** Signs the acknowledgements a cooperative settle needs; without it none is given. */
  acknowledger?: AcknowledgementSigner | undefined;
  /**
   * How long to wait for the chain when a signature must be asked of it (a contract-wallet client's ERC-1271
   * `isValidSignature`) before answering BUSY (default 10 s): a stalled chain must not hold the stream open.
   */
  chainTimeoutMs?: number;
  /** Called after a higher voucher is stored (the payment loop may act on it). */
  onVoucher?: (jobId: string, seconds: number) => void;
}

export interface VoucherAckMessage {
  type: "voucher-ack";
  jobId: string;
  /** The highest voucher seconds now held for the job (may exceed the one just sent). */
  seconds: number;
  /** This provider's acknowledgement of `seconds`, once they cover every segment it delivered for the job. */
  acknowledgement?: `0x${string}` | undefined;
  /** The highest coordinator allocation it holds for the job (a settle entry for it needs one). */
  allocation?: { seconds: number; signature: `0x${string}` } | undefined;
}

/**
 * The voucher protocol's logic: a client's cumulative EIP-712 voucher is
 * kept if it is for this provider, on this escrow, signed by the job's
 * client on-chain (by ECDSA, or by ERC-1271 when the client is a contract
 * wallet, as the escrow checks) and higher than the one held. The journal write is
 * durable before the ack, so an acknowledged voucher survives a crash.
 */
export class VoucherService {
  readonly #c: VoucherServiceComponents;
  constructor(components: VoucherServiceComponents) {
    this.#c = components;
  }

  async handle(message: VoucherMessage, context: { peer?: string } = {}): Promise<VoucherAckMessage> {
    const { voucher } = message;
    const log = this.#c.logger.child({ job: voucher.jobId, peer: context.peer });
    if (message.chainId !== this.#c.chain.chainId || message.escrow.toLowerCase() !== this.#c.chain.escrowAddress.toLowerCase()) {
      throw new RefusalError(
        "WRONG_CHAIN",
        `This provider serves escrow ${this.#c.chain.escrowAddress} on chain ${this.#c.chain.chainId}.`,
      );
    }
    if (voucher.provider.toLowerCase() !== this.#c.address.toLowerCase()) {
      throw new RefusalError("BAD_MESSAGE", `The voucher is for provider ${voucher.provider}, not ${this.#c.address}.`);
    }
    // A job this provider rendered for is in its journal with the client and seconds the escrow gave it then
    // (neither changes): no chain read, so a stalled chain does not hold up the ack, and with it the acknowledgement
    // the client's cooperative settle needs. Any other job is read from the escrow.
    let job: { client: string; seconds: number } | undefined = this.#c.journal.getJob(voucher.jobId);
    if (!job) {
      const onChain = await this.#c.chain.getJob(voucher.jobId);
      if (onChain.status === JobStatus.None) throw new RefusalError("UNKNOWN_JOB", `Job ${voucher.jobId} does not exist on the escrow.`);
      job = onChain;
    }
    // As the escrow's SignatureChecker: a client with code (a Safe, an ERC-4337 account) signs through ERC-1271.
    // An ECDSA signature by the client's key is judged here without the chain, so a stall does not hold it up.
    let signed: boolean;
    let timer: NodeJS.Timeout | undefined;
    try {
      signed = await Promise.race([
        this.#c.signatures.isVoucherSignedBy(voucher, message.signature, job.client),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("the chain did not answer in time")), this.#c.chainTimeoutMs ?? 10_000);
        }),
      ]);
    } catch (err) {
      log.warn({ err }, "could not check the voucher's signature on the chain");
      throw new RefusalError("BUSY", "The chain cannot be asked about the voucher's signature now; send it again later.");
    } finally {
      clearTimeout(timer);
    }
    if (!signed) {
      throw new RefusalError(
        "BAD_SIGNATURE",
        `The voucher is not signed by the job's client ${job.client} (by its key, or by its ERC-1271 wallet contract).`,
      );
    }
    if (voucher.seconds > job.seconds) {
      throw new RefusalError("BAD_MESSAGE", `The voucher is for ${voucher.seconds} seconds; the job has ${job.seconds}.`);
    }
    const result = this.#c.journal.recordVoucher({
      jobId: voucher.jobId,
      chainId: message.chainId,
      escrow: message.escrow,
      seconds: voucher.seconds,
      signature: message.signature,
    });
    if (result.stored) {
      this.#c.metrics.vouchersReceived.inc();
      log.info({ seconds: voucher.seconds }, "voucher stored");
      this.#c.onVoucher?.(voucher.jobId, voucher.seconds);
    }
    const ack: VoucherAckMessage = { type: "voucher-ack", jobId: voucher.jobId, seconds: result.seconds };
    const allocation = this.#c.journal.getAllocation(voucher.jobId);
    if (allocation) ack.allocation = { seconds: allocation.seconds, signature: allocation.signature };
    // The acknowledgement counts only in a settle that pays every second of the job to providers the coordinator
    // allocated them to: then nobody can be paid more, and a delivered segment this voucher does not cover was paid
    // to another provider's copy (a speculative copy, or a reassignment after the client rejected this one). So it is
    // given with every voucher; a settle that leaves any second unpaid opens the challenge window regardless.
    if (this.#c.acknowledger && result.seconds > 0) {
      ack.acknowledgement = await this.#c.acknowledger.signAcknowledgement(voucher.jobId, result.seconds);
    }
    return ack;
  }
}
