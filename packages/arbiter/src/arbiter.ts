import type { Logger } from "@rendermesh/shared";
import type { Provider } from "ethers";
import { withHeadroom, type RendermeshContracts } from "@rendermesh/shared/chain";
import type { Verifier } from "@rendermesh/shared/verify";
import { readClaimEvidence, trustedSpec, type SpecSource } from "./evidence.js";
import type { ArbiterJournal, Verdict } from "./journal.js";
import type { ArbiterMetrics } from "./metrics.js";

/** Claim status values of the escrow's `ClaimStatus` enum (IJobEscrow.sol). */
const CLAIM_DISPUTED = 2n;

export interface ArbiterInit {
  /** Contracts connected to the arbiter's wallet (the address the DAO made `ContentPolicy.arbiter`). */
  contracts: RendermeshContracts;
  provider: Provider;
  chainId: number;
  journal: ArbiterJournal;
  metrics: ArbiterMetrics;
  /** Runs the client's checks on the claimed segment (`SegmentVerifier` from @rendermesh/shared/verify). */
  verifier: Verifier;
  specs: SpecSource;
  logger: Logger;
  /** Stake to slash from a provider whose claim is refused (default: the policy's minimum provider stake). */
  slashAmount?: bigint | undefined;
  /** First block to scan when the journal has none (default 0). */
  fromBlock?: number | undefined;
  /**
   * Most disputes of one job resolved in one `resolveDisputes` transaction (default 16; 1 resolves each alone). A
   * batch that cannot be estimated or reverts (one of its claims finalised meanwhile, say) falls back to one
   * `resolveDispute` per dispute, so one bad dispute cannot block the others.
   */
  batchSize?: number | undefined;
  /** Called with each dispute decided (after its resolution landed, if any). */
  onOutcome?: ((outcome: DisputeOutcome) => void) | undefined;
  /**
   * Whether this arbiter's own network works now (the CLI: the coordinator's HTTP API answers). Asked only before
   * refusing a segment that could not be fetched through the whole arbiter window; without it, or when it says no,
   * such a dispute is left to the timeout, which pays the provider.
   */
  online?: (() => Promise<boolean>) | undefined;
  /** Backoff between tries of a dispute that could not be decided yet, and when its last try is due. */
  retry?: RetryPolicy | undefined;
  /** Wall clock, unix ms (tests). */
  now?: (() => number) | undefined;
}

export interface RetryPolicy {
  /** Wait after the first failed try (default 5 s); doubled after each one. */
  firstDelayMs?: number | undefined;
  /** Longest wait between tries (default 5 min). */
  maxDelayMs?: number | undefined;
  /**
   * The last try is made once the arbiter window has at most this long left (chain time, default 10 min: time to land
   * the resolution). Only then may a segment that could still not be fetched be refused.
   */
  finalMarginSeconds?: number | undefined;
}

export interface DisputeOutcome {
  jobId: string;
  segment: number;
  block: number;
  verdict: Verdict;
  reason: string;
  tx?: string | undefined;
  /** How many disputes the resolving transaction resolved (1: alone, by `resolveDispute`). */
  batchSize?: number | undefined;
}

/** A decided dispute whose resolution is to be sent. */
interface Ready {
  jobId: string;
  segment: number;
  block: number;
  verdict: "pay" | "refuse";
  reason: string;
}

/**
 * The DAO-appointed arbiter: for each `ClaimDisputed` it reads the claim's signed messages from the claim
 * transaction, gets the job's spec (only if it hashes to the job's on-chain spec hash), runs the client's own
 * verification on the segment fetched by CID, and resolves on chain: pay, or refuse and slash. Without a spec or
 * without evidence it resolves nothing: the arbiter window lapses and anyone can finalise the claim in the
 * provider's favour, so an honest disputed segment is always paid.
 *
 * A segment that cannot be fetched is never refused for that while the arbiter window lasts: the dispute waits and
 * is tried again with exponential backoff (the provider, or the arbiter's own network, may be back). At the last try
 * (the window nearly over) it is refused only if this arbiter's own network works (`online`): the provider then
 * failed to serve what it claimed for the whole window. Otherwise it is left, and the timeout pays the provider.
 */
export class Arbiter {
  readonly #init: ArbiterInit;
  #queue: Promise<void> = Promise.resolve();
  #listening = false;

  constructor(init: ArbiterInit) {
    this.#init = init;
  }

  /**
   * Handles every dispute from the journal's last block (or `fromBlock`) to `toBlock` (default: latest): decides each,
   * then sends the resolutions, batched per job (`batchSize`).
   */
  async catchUp(toBlock?: number): Promise<DisputeOutcome[]> {
    const { contracts, journal, metrics } = this.#init;
    const head = toBlock ?? (await this.#init.provider.getBlockNumber());
    const last = journal.lastBlock();
    const from = last === undefined ? (this.#init.fromBlock ?? 0) : last + 1;
    const out: DisputeOutcome[] = [];
    const ready: Ready[] = [];
    // Outcomes are reported in the order the disputes were taken up, whichever transaction resolved them.
    const order = new Map<string, number>();
    const key = (r: { jobId: string; segment: number; block: number }) => `${r.jobId.toLowerCase()}:${r.segment}:${r.block}`;
    const take = (r: Ready | DisputeOutcome | undefined) => {
      if (!r) return;
      order.set(key(r), order.size);
      if ("tx" in r || r.verdict === "wait" || r.verdict === "leave") out.push(r as DisputeOutcome);
      else ready.push(r as Ready);
    };
    if (from <= head) {
      const logs = await contracts.escrow.queryFilter(contracts.escrow.filters.ClaimDisputed!(), from, head);
      for (const log of logs) {
        const { args } = log as unknown as { args: { jobId: string; segment: bigint } };
        take(await this.#prepare(String(args.jobId), Number(args.segment), log.blockNumber));
      }
    }
    // Verdicts whose transaction never went out (a crash between decide and send, or a resolution that failed) are
    // sent now, and disputes left for want of a spec or evidence are tried again (the coordinator may be back).
    for (const row of journal.all()) {
      if (row.tx === null && row.block < from && row.verdict !== null) take(await this.#prepare(row.jobId, row.segment, row.block));
    }
    out.push(...(await this.#resolveAll(ready)));
    out.sort((a, b) => order.get(key(a))! - order.get(key(b))!);
    journal.setLastBlock(head);
    metrics.lastBlock.set(head);
    return out;
  }

  /** Watches new disputes (after a catch-up): each new block is scanned in order, one at a time. */
  watch(): void {
    if (this.#listening) return;
    this.#listening = true;
    void this.#init.provider.on("block", (block: number) => {
      this.#queue = this.#queue.then(() =>
        this.catchUp(block).then(
          () => undefined,
          (err: unknown) => this.#init.logger.error({ err, block }, "dispute scan failed; it is retried on the next block"),
        ),
      );
    });
  }

  /** Waits for the scans already queued by `watch` (for an orderly shutdown). */
  async idle(): Promise<void> {
    await this.#queue;
  }

  async stop(): Promise<void> {
    if (this.#listening) await this.#init.provider.off("block");
    this.#listening = false;
    await this.#queue;
  }

  /** Decides and resolves one dispute; idempotent (a resolved one is skipped). */
  async handle(jobId: string, segment: number, block: number): Promise<DisputeOutcome | undefined> {
    const r = await this.#prepare(jobId, segment, block);
    if (!r || "tx" in r || r.verdict === "wait" || r.verdict === "leave") return r as DisputeOutcome | undefined;
    return (await this.#resolveAll([r as Ready]))[0];
  }

  /**
   * Decides one dispute: undefined when there is nothing to do (resolved already, or not due again yet), an outcome
   * for a dispute that waits or is left, or the resolution to send.
   */
  async #prepare(jobId: string, segment: number, block: number): Promise<Ready | DisputeOutcome | undefined> {
    const { journal, metrics, logger } = this.#init;
    const row = journal.seen(jobId, segment, block);
    if (row.tx !== null) return undefined;
    if (row.verdict === null) metrics.disputesSeen.inc();
    const claim = await this.#init.contracts.escrow.getClaim(jobId, segment);
    if (BigInt(claim.status) !== CLAIM_DISPUTED) {
      // Resolved already (by a transaction of ours that landed before a crash), or finalised after the timeout.
      journal.decide(jobId, segment, block, row.verdict ?? "leave", row.reason ?? "the claim is no longer disputed");
      journal.resolved(jobId, segment, block, "none");
      return undefined;
    }
    let verdict: Verdict;
    let reason: string;
    if (row.verdict === "pay" || row.verdict === "refuse") {
      verdict = row.verdict;
      reason = row.reason ?? "";
    } else {
      const final = await this.#finalTry(Number(claim.deadlineAt));
      // Tried before and not due again yet: wait for the backoff, unless this is the last try the window allows.
      if (row.nextAt !== null && this.#now() < row.nextAt && !final) return undefined;
      ({ verdict, reason } = await this.#decide(jobId, segment, block, final));
      metrics.verdicts.inc({ verdict });
      if (verdict === "wait" || verdict === "leave") {
        const nextAt = this.#now() + this.#delay(row.attempts);
        journal.postpone(jobId, segment, block, verdict, reason, nextAt);
        logger.info({ jobId, segment, verdict, reason, retryAt: new Date(nextAt).toISOString() }, "dispute not resolved yet");
        return this.#report({ jobId, segment, block, verdict, reason });
      }
      journal.decide(jobId, segment, block, verdict, reason);
    }
    logger.info({ jobId, segment, verdict, reason }, "dispute decided");
    return { jobId, segment, block, verdict, reason };
  }

  /** Sends the resolutions: per job, in batches of at most `batchSize`, each falling back to one by one. */
  async #resolveAll(ready: Ready[]): Promise<DisputeOutcome[]> {
    if (ready.length === 0) return [];
    const size = Math.max(1, this.#init.batchSize ?? 16);
    const slash = ready.some((r) => r.verdict === "refuse") ? await this.#slashAmount() : 0n;
    const byJob = new Map<string, Ready[]>();
    for (const r of ready) {
      const key = r.jobId.toLowerCase();
      byJob.set(key, [...(byJob.get(key) ?? []), r]);
    }
    const out: DisputeOutcome[] = [];
    for (const list of byJob.values()) {
      for (let i = 0; i < list.length; i += size) {
        const batch = list.slice(i, i + size);
        out.push(...(batch.length === 1 ? await this.#resolveOne(batch[0]!, slash) : await this.#resolveBatch(batch, slash)));
      }
    }
    return out;
  }

  /** One `resolveDisputes` transaction for disputes of one job; on any failure, one by one. */
  async #resolveBatch(batch: Ready[], slash: bigint): Promise<DisputeOutcome[]> {
    const { contracts, journal, metrics, logger } = this.#init;
    const jobId = batch[0]!.jobId;
    const args = [
      jobId,
      batch.map((r) => r.segment),
      batch.map((r) => r.verdict === "pay"),
      batch.map((r) => (r.verdict === "refuse" ? slash : 0n)),
    ] as const;
    let hash: string;
    try {
      const gasLimit = withHeadroom(await contracts.escrow.resolveDisputes.estimateGas(...args));
      const receipt = await (await contracts.escrow.resolveDisputes(...args, { gasLimit })).wait();
      if (receipt?.status !== 1) throw new Error(`the batch transaction ${receipt?.hash ?? ""} reverted`);
      hash = receipt.hash;
    } catch (err) {
      metrics.batchFallbacks.inc();
      logger.warn({ jobId, segments: batch.map((r) => r.segment), err }, "batched resolution failed; resolving the disputes one by one");
      const out: DisputeOutcome[] = [];
      for (const r of batch) out.push(...(await this.#resolveOne(r, slash, true)));
      return out;
    }
    metrics.resolutionTxs.inc({ kind: "batch" });
    metrics.resolved.inc(batch.length);
    logger.info({ jobId, segments: batch.map((r) => r.segment), tx: hash }, "disputes resolved on chain in one transaction");
    return batch.map((r) => {
      journal.resolved(r.jobId, r.segment, r.block, hash, batch.length);
      return this.#report({ ...r, tx: hash, batchSize: batch.length });
    });
  }

  /**
   * One `resolveDispute`. After a failed batch (`recheck`), a claim no longer disputed (finalised meanwhile) is marked
   * done without a transaction. A failure is counted and logged, never thrown: the verdict stays in the journal without
   * a transaction, and the next catch-up sends it again.
   */
  async #resolveOne(r: Ready, slash: bigint, recheck = false): Promise<DisputeOutcome[]> {
    const { contracts, journal, metrics, logger } = this.#init;
    try {
      if (recheck && BigInt((await contracts.escrow.getClaim(r.jobId, r.segment)).status) !== CLAIM_DISPUTED) {
        journal.resolved(r.jobId, r.segment, r.block, "none");
        logger.info({ jobId: r.jobId, segment: r.segment }, "dispute no longer open on chain; nothing to resolve");
        return [];
      }
      const args = [r.jobId, r.segment, r.verdict === "pay", r.verdict === "refuse" ? slash : 0n] as const;
      const gasLimit = withHeadroom(await contracts.escrow.resolveDispute.estimateGas(...args));
      const receipt = await (await contracts.escrow.resolveDispute(...args, { gasLimit })).wait();
      if (receipt?.status !== 1) throw new Error(`the transaction ${receipt?.hash ?? ""} reverted`);
      journal.resolved(r.jobId, r.segment, r.block, receipt.hash, 1);
      metrics.resolutionTxs.inc({ kind: "single" });
      metrics.resolved.inc();
      logger.info({ jobId: r.jobId, segment: r.segment, verdict: r.verdict, tx: receipt.hash }, "dispute resolved on chain");
      return [this.#report({ ...r, tx: receipt.hash, batchSize: 1 })];
    } catch (err) {
      metrics.resolveFailures.inc();
      logger.error({ jobId: r.jobId, segment: r.segment, err }, "resolution failed; it is sent again on the next scan");
      return [];
    }
  }

  #report(outcome: DisputeOutcome): DisputeOutcome {
    this.#init.onOutcome?.(outcome);
    return outcome;
  }

  #now(): number {
    return this.#init.now?.() ?? Date.now();
  }

  /** The wait after `attempts` tries that decided nothing: first, doubling, capped. */
  #delay(attempts: number): number {
    const first = this.#init.retry?.firstDelayMs ?? 5_000;
    const max = this.#init.retry?.maxDelayMs ?? 300_000;
    return Math.min(max, first * 2 ** Math.min(attempts, 30));
  }

  /** Whether the arbiter window (ending at `deadlineAt`, chain time) leaves time for one more try only. */
  async #finalTry(deadlineAt: number): Promise<boolean> {
    const margin = this.#init.retry?.finalMarginSeconds ?? 600;
    const head = await this.#init.provider.getBlock("latest");
    return (head?.timestamp ?? Math.floor(this.#now() / 1000)) >= deadlineAt - margin;
  }

  async #decide(jobId: string, segment: number, block: number, final: boolean): Promise<{ verdict: Verdict; reason: string }> {
    const { contracts, specs, verifier, chainId } = this.#init;
    const job = await contracts.escrow.getJob(jobId);
    const spec = trustedSpec(await specs.spec(jobId).catch(() => undefined), String(job.specHash));
    if (!spec)
      return { verdict: "leave", reason: "no spec that matches the job's on-chain spec hash could be had; the timeout pays the provider" };
    const evidence = await readClaimEvidence(contracts.escrow, this.#init.provider, jobId, segment, block);
    if (!evidence)
      return { verdict: "leave", reason: "the claim's signed messages are not in a direct claim call; the timeout pays the provider" };
    if (evidence.delivery.delivery.cid === "") return { verdict: "refuse", reason: "the claim's receipt names bytes that are not a CID" };
    const claimed = { jobId, segment, cid: evidence.delivery.delivery.cid };
    const multiaddrs = (await specs.multiaddrs?.(evidence.provider, claimed).catch(() => [])) ?? [];
    const result = await verifier.verify(
      { jobId: jobId as `0x${string}`, spec, chainId, escrow: await contracts.escrow.getAddress(), coordinator: String(job.coordinator) },
      { jobId: jobId as `0x${string}`, segment, peerId: "", multiaddrs, assignment: evidence.assignment, delivery: evidence.delivery },
    );
    if (result.ok) return { verdict: "pay", reason: "the segment passes the client's verification" };
    const why = `${result.failure.check}: ${result.failure.message}`;
    if (!result.failure.retryable) return { verdict: "refuse", reason: why };
    // Not fetched (or not yet checkable): the provider must not pay for a network failure, maybe the arbiter's own.
    if (!final) return { verdict: "wait", reason: `${why} (tried again later)` };
    const online = (await this.#init.online?.().catch(() => false)) ?? false;
    if (online)
      return { verdict: "refuse", reason: `${why} (not served for the whole arbiter window, while this arbiter's network worked)` };
    return { verdict: "leave", reason: `${why} (and this arbiter's own network check failed: the timeout pays the provider)` };
  }

  async #slashAmount(): Promise<bigint> {
    return this.#init.slashAmount ?? BigInt(await this.#init.contracts.policy.minProviderStake());
  }
}
