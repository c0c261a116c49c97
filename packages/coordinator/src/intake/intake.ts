import {
  askFits,
  evaluateSpec,
  scalePrice,
  specHash,
  type Logger,
  type PolicySnapshot,
  type ReferenceWork,
  type SubmitJob,
} from "@rendermesh/shared";
import { JobStatus } from "@rendermesh/shared/chain";
import type { ChainView } from "../chain/types.js";
import type { ProviderDirectory } from "../directory/index.js";
import { RefusalError } from "../errors.js";
import { estimateSeconds, segmentWork } from "../scheduler/index.js";
import type { CoordinatorStore, JobRow } from "../store/index.js";
import { requireJobClient } from "./job-auth.js";

export interface IntakeInit {
  reference?: ReferenceWork;
  /** Running jobs one client (escrow address) may have at once (default 8). */
  maxPendingJobsPerClient?: number;
  /** Running jobs in total (default 256). */
  maxRunningJobs?: number;
  /** Lowest coordinator fee (bps, as snapshotted by the escrow) this coordinator works for (default 0). */
  minFeeBps?: number;
  /** The deadline must leave ETA × this + `deadlineMarginSeconds` (default 1.5). */
  deadlineFactor?: number;
  deadlineMarginSeconds?: number;
  /** Retry hint sent with BUSY (default 30 s). */
  busyRetryMs?: number;
  now?: () => number;
}

export interface IntakeComponents {
  store: CoordinatorStore;
  chain: ChainView;
  directory: ProviderDirectory;
  log: Logger;
}

/**
 * Job intake: every check a submitted job must pass before any provider
 * spends a cycle on it, each failure a RefusalError with the reason code the
 * client turns into one sentence. The policy is the one in force at the
 * block the job was opened, so a job keeps the policy version it was opened
 * under.
 */
export class JobIntake {
  private readonly reference: ReferenceWork;
  private readonly init: Required<Omit<IntakeInit, "reference" | "now">>;
  private readonly now: () => number;
  private readonly policyAt = new Map<number, PolicySnapshot>();

  constructor(
    private readonly components: IntakeComponents,
    init: IntakeInit = {},
  ) {
    this.reference = init.reference ?? { width: 256, height: 256, fps: 24 };
    this.now = init.now ?? Date.now;
    this.init = {
      maxPendingJobsPerClient: init.maxPendingJobsPerClient ?? 8,
      maxRunningJobs: init.maxRunningJobs ?? 256,
      minFeeBps: init.minFeeBps ?? 0,
      deadlineFactor: init.deadlineFactor ?? 1.5,
      deadlineMarginSeconds: init.deadlineMarginSeconds ?? 30,
      busyRetryMs: init.busyRetryMs ?? 30_000,
    };
  }

  /**
   * Checks a submission and records the job; a job already accepted with the
   * same spec is returned as it is (a client resubmitting after a crash).
   * Either way `msg.auth` must be the on-chain client's signature for
   * `clientPeer`: only then does that peer become the one whose verdicts count.
   */
  async submit(msg: SubmitJob, clientPeer: string, options: { signal?: AbortSignal } = {}): Promise<{ job: JobRow; fresh: boolean }> {
    const { store, chain, directory, log } = this.components;
    const jobId = msg.jobId.toLowerCase();
    if (msg.chainId !== chain.chainId || msg.escrow.toLowerCase() !== chain.escrow.toLowerCase()) {
      throw new RefusalError(
        "WRONG_CHAIN",
        `This coordinator serves chain ${chain.chainId}, escrow ${chain.escrow}; the job names chain ${msg.chainId}, escrow ${msg.escrow}.`,
      );
    }
    const hash = specHash(msg.spec).toLowerCase();
    const known = store.getJob(jobId);
    if (known) {
      if (known.specHash !== hash) throw new RefusalError("SPEC_HASH_MISMATCH", `Job ${jobId} was accepted with another spec.`);
      // The spec is public (HTTP API, every provider): knowing it proves nothing.
      await requireJobClient(chain, known, clientPeer, msg.auth, "re-submission", options);
      if (known.clientPeer !== clientPeer) {
        log.info({ jobId, from: known.clientPeer, to: clientPeer }, "job's client moved to another peer");
        store.setClientPeer(jobId, clientPeer);
      }
      return { job: store.getJob(jobId)!, fresh: false };
    }
    const counts = store.countJobs();
    if (counts.running >= this.init.maxRunningJobs) {
      throw new RefusalError("BUSY", `This coordinator is running ${counts.running} jobs, its maximum.`, {
        retryAfterMs: this.init.busyRetryMs,
      });
    }

    const onChain = await chain.getJob(jobId, options);
    if (onChain.status === JobStatus.None) throw new RefusalError("UNKNOWN_JOB", `Job ${jobId} does not exist on escrow ${chain.escrow}.`);
    if (onChain.status !== JobStatus.Open)
      throw new RefusalError("JOB_NOT_OPEN", `Job ${jobId} is ${onChain.status === JobStatus.Settled ? "settled" : "refunded"}.`);
    if (onChain.coordinator.toLowerCase() !== chain.coordinator.toLowerCase()) {
      throw new RefusalError(
        "WRONG_COORDINATOR",
        `Job ${jobId} names coordinator ${onChain.coordinator}; this one is ${chain.coordinator}.`,
      );
    }
    if (onChain.specHash.toLowerCase() !== hash) {
      throw new RefusalError("SPEC_HASH_MISMATCH", `The spec hashes to ${hash}; the escrow holds ${onChain.specHash}.`);
    }
    if (onChain.seconds !== msg.spec.seconds) {
      throw new RefusalError(
        "SPEC_HASH_MISMATCH",
        `The escrow's job is ${onChain.seconds} seconds long; the spec says ${msg.spec.seconds}.`,
      );
    }
    await requireJobClient(chain, { jobId, client: onChain.client }, clientPeer, msg.auth, "submission", options);
    if (store.runningJobsOfClient(onChain.client) >= this.init.maxPendingJobsPerClient) {
      throw new RefusalError("BUSY", `Client ${onChain.client} already has ${this.init.maxPendingJobsPerClient} jobs running here.`, {
        retryAfterMs: this.init.busyRetryMs,
      });
    }
    const deposit = onChain.pricePerSecond * BigInt(onChain.seconds);
    if (onChain.pricePerSecond === 0n || onChain.paidSeconds > 0 || onChain.reservedSeconds > 0) {
      throw new RefusalError("NOT_FUNDED", `Job ${jobId} has no unspent deposit for all ${onChain.seconds} seconds.`);
    }
    const held = await chain.escrowBalance(options);
    if (held < deposit) throw new RefusalError("NOT_FUNDED", `The escrow holds ${held} tokens, less than the job's deposit of ${deposit}.`);
    if (onChain.coordinatorFeeBps < this.init.minFeeBps) {
      throw new RefusalError(
        "PRICE_TOO_LOW",
        `The job pays this coordinator ${onChain.coordinatorFeeBps} bps; it works for at least ${this.init.minFeeBps} bps.`,
      );
    }

    // The policy as of the block the job was opened in.
    const block = await chain.jobOpenedBlock(jobId, options);
    const policy = await this.policy(block, options);
    if (policy.version !== onChain.policyVersion) {
      throw new RefusalError(
        "POLICY_VERSION_MISMATCH",
        `The job was opened under policy version ${onChain.policyVersion}, but version ${policy.version} was in force at its block.`,
      );
    }
    const violations = evaluateSpec(msg.spec, policy);
    if (violations.length > 0) {
      const v = violations[0]!;
      throw new RefusalError(v.code, v.message, v.term === undefined ? {} : { term: v.term });
    }

    // Someone must be able to render it, at this price, in time.
    const model = msg.spec.model.toLowerCase();
    const serving = directory.liveProviders().filter((p) => p.models.has(model));
    if (serving.length === 0)
      throw new RefusalError("NO_PROVIDERS", `No live provider serves model ${model} right now.`, { retryAfterMs: 10_000 });
    const fitting = serving.filter((p) => askFits(p.ask, onChain.pricePerSecond, msg.spec, this.reference));
    if (fitting.length === 0) {
      const cheapest = serving.map((p) => scalePrice(p.ask, msg.spec, this.reference)).reduce((a, b) => (a < b ? a : b));
      throw new RefusalError(
        "PRICE_TOO_LOW",
        `The job pays ${onChain.pricePerSecond} per second; the cheapest live provider asks ${cheapest} for this size and fps.`,
      );
    }
    const eta = estimateSeconds(msg.spec.seconds, segmentWork(msg.spec, this.reference), fitting);
    // The deadline is in chain time; on a busy dev chain that runs ahead of the wall clock.
    const wallS = Math.floor(this.now() / 1000);
    const nowS = Math.max(wallS, (await this.components.chain.chainTime?.().catch(() => wallS)) ?? wallS);
    const needed = Math.ceil(eta * this.init.deadlineFactor + this.init.deadlineMarginSeconds);
    if (onChain.deadline - nowS < needed) {
      throw new RefusalError(
        "DEADLINE_TOO_SOON",
        `The job's deadline is ${onChain.deadline - nowS} s away; rendering it needs about ${needed} s.`,
      );
    }

    const job = store.insertJob({
      jobId,
      chainId: chain.chainId,
      escrow: chain.escrow,
      client: onChain.client,
      clientPeer,
      spec: msg.spec,
      specHash: hash,
      pricePerSecond: onChain.pricePerSecond,
      deadline: onChain.deadline,
      policyVersion: onChain.policyVersion,
      openedBlock: block ?? 0,
    });
    log.info({ jobId, segments: job.segments, client: job.client, etaSeconds: Math.round(eta) }, "job accepted");
    return { job, fresh: true };
  }

  private async policy(block: number | undefined, options: { signal?: AbortSignal }): Promise<PolicySnapshot> {
    if (block === undefined) return this.components.chain.readPolicy(undefined, options);
    const cached = this.policyAt.get(block);
    if (cached) return cached;
    const p = await this.components.chain.readPolicy(block, options);
    if (this.policyAt.size > 256) this.policyAt.clear();
    this.policyAt.set(block, p);
    return p;
  }
}
