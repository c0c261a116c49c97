import { join } from "node:path";
import type { PrivateKey } from "@libp2p/interface";
import {
  createLogger,
  type Logger,
  type PolicySnapshot,
  type QuoteRequest,
  type ReferenceWork,
  type SegmentVerdict,
} from "@rendermesh/shared";
import { createMeshNode, loadOrCreatePeerKey, type MeshNode } from "@rendermesh/shared/net";
import type { ChainView } from "./chain/types.js";
import type { CoordinatorConfig } from "./config.js";
import { ProviderDirectory } from "./directory/index.js";
import { RefusalError } from "./errors.js";
import { createHttpApi, createMetrics } from "./http/index.js";
import { isJobClientAuth, JobIntake } from "./intake/index.js";
import { AnnounceService } from "./protocols/announce/index.js";
import { JobService } from "./protocols/job/index.js";
import { QuoteService } from "./protocols/quote/index.js";
import { RenderClient } from "./protocols/render/index.js";
import { ReportService } from "./protocols/report/index.js";
import { computeQuote } from "./quote/index.js";
import { CoordinatorStore } from "./store/index.js";
import { Supervisor, type SupervisorInit } from "./supervisor/index.js";

export interface CoordinatorComponents {
  chain: ChainView;
  /** libp2p identity; default: `<dataDir>/peer.key`, created on first start. */
  privateKey?: PrivateKey;
  log?: Logger;
  /** Fine-tuning of supervision (tests shorten deadlines). */
  supervisor?: SupervisorInit;
  /** How long a provider may stay silent before it loses its segments (default 3 heartbeats). */
  livenessMs?: number;
}

/**
 * The Rendermesh coordinator: a libp2p node that keeps the provider
 * directory, quotes, takes jobs, shards and schedules them, supervises the
 * renders and streams job events to clients, with every state change in
 * SQLite and a read-only HTTP API.
 */
export class Coordinator {
  readonly config: CoordinatorConfig;
  readonly log: Logger;
  private readonly components: CoordinatorComponents;
  private node: MeshNode | undefined;
  private store: CoordinatorStore | undefined;
  private supervisor: Supervisor | undefined;
  private directory: ProviderDirectory | undefined;
  private services: Array<{ stop(): Promise<void> }> = [];
  private http: ReturnType<typeof createHttpApi> | undefined;
  private timers: Array<() => void> = [];
  private policy: PolicySnapshot | undefined;
  private startedAt = 0;
  httpUrl: string | undefined;

  constructor(config: CoordinatorConfig, components: CoordinatorComponents) {
    this.config = config;
    this.components = components;
    this.log = components.log ?? createLogger({ name: "coordinator", level: config.logLevel });
  }

  get peerId(): string {
    return this.requireNode().peerId.toString();
  }

  /** Providers' allocations the supervisor holds for `jobId` (all jobs without one); an ended job holds none. */
  allocationsHeld(jobId?: string): number {
    return this.supervisor?.allocationsHeld(jobId) ?? 0;
  }

  get multiaddrs(): string[] {
    return this.requireNode().getMultiaddrs().map(String);
  }

  get address(): string {
    return this.components.chain.coordinator;
  }

  /** The database (for tests and tools). */
  get db(): CoordinatorStore {
    if (!this.store) throw new Error("not started");
    return this.store;
  }

  get libp2p(): MeshNode {
    return this.requireNode();
  }

  async start(): Promise<void> {
    const { config, log } = this;
    const { chain } = this.components;
    this.startedAt = Date.now();
    const reference: ReferenceWork = { width: config.referenceWidth, height: config.referenceHeight, fps: config.referenceFps };
    const store = (this.store = CoordinatorStore.open(config.db ?? join(config.dataDir, "coordinator.db")));
    try {
      this.policy = await chain.readPolicy();
    } catch (err) {
      log.warn({ err: (err as Error).message }, "cannot read the content policy yet; will retry");
    }
    const refreshPolicy = setInterval(() => {
      chain
        .readPolicy()
        .then((p) => (this.policy = p))
        .catch((err: unknown) => log.warn({ err: (err as Error).message }, "policy refresh failed"));
    }, 15_000);
    refreshPolicy.unref();
    this.timers.push(() => clearInterval(refreshPolicy));

    const privateKey = this.components.privateKey ?? (await loadOrCreatePeerKey(config.dataDir));
    const node = (this.node = await createMeshNode({
      privateKey,
      listen: config.listen,
      ...(config.announce ? { announce: config.announce } : {}),
      userAgent: "rendermesh-coordinator",
    }));

    const directory = (this.directory = new ProviderDirectory(
      { store, chain, log: log.child({ component: "directory" }) },
      { livenessMs: this.components.livenessMs ?? config.heartbeatIntervalMs * 3 },
    ));
    const supervisor = (this.supervisor = new Supervisor(
      { store, directory, chain, dispatcher: new RenderClient({ node, log }), log: log.child({ component: "supervisor" }) },
      {
        reference,
        minShare: config.minShare,
        pipelineDepth: config.pipelineDepth,
        graceMs: config.segmentGraceSeconds * 1000,
        resumeGraceMs: config.heartbeatIntervalMs * 4,
        verdictWaitMs: config.verdictWaitSeconds * 1000,
        verdictRenderFactor: config.verdictRenderFactor,
        ...this.components.supervisor,
      },
    ));
    const intake = new JobIntake(
      { store, chain, directory, log: log.child({ component: "intake" }) },
      {
        reference,
        maxPendingJobsPerClient: config.maxPendingJobsPerClient,
        maxRunningJobs: config.maxRunningJobs,
        minFeeBps: config.feeBps,
      },
    );
    this.timers.push(chain.watchRegistry((address) => directory.invalidate(address), Math.max(1000, config.heartbeatIntervalMs)));

    // A provider whose last connection closed loses its segments at once.
    const onDisconnect = (evt: CustomEvent<{ toString(): string }>) => {
      const address = directory.addressOfPeer(evt.detail.toString());
      if (address) supervisor.providerLost(address, "disconnected");
    };
    node.addEventListener("peer:disconnect", onDisconnect);
    this.timers.push(() => node.removeEventListener("peer:disconnect", onDisconnect));

    const announce = new AnnounceService(
      {
        node,
        directory,
        chain,
        policyVersion: () => this.policy?.version ?? 0n,
        onAdmitted: (a) => supervisor.providerSeen(a),
        log: log.child({ component: "announce" }),
      },
      { heartbeatIntervalMs: config.heartbeatIntervalMs },
    );
    const quote = new QuoteService({ node, quote: (spec, o) => this.quote(spec, reference, o), log: log.child({ component: "quote" }) });
    const jobs = new JobService({
      node,
      store,
      submit: (m, p, o) => intake.submit(m, p, o),
      authorized: (job, peer, auth, o) => isJobClientAuth(chain, job, peer, auth, o),
      cancel: (jobId) => {
        supervisor.applyEffects(store.failJob(jobId, "CANCELLED", "The job's client cancelled it."), jobId);
      },
      onAccepted: () => supervisor.kick(),
      log: log.child({ component: "job" }),
    });
    const report = new ReportService({ node, verdict: (v, p, o) => this.verdict(v, p, o), log: log.child({ component: "report" }) });
    for (const s of [announce, quote, jobs, report]) {
      await s.start();
      this.services.push(s);
    }
    supervisor.start();

    const metrics = createMetrics({ store, directory, supervisor, followers: () => jobs.activeFollowers });
    this.timers.push(metrics.stop);
    this.http = createHttpApi({
      store,
      directory,
      registry: metrics.registry,
      policy: () => this.policy,
      status: () => ({
        peerId: node.peerId.toString(),
        multiaddrs: node.getMultiaddrs().map(String),
        address: chain.coordinator,
        chainId: chain.chainId,
        escrow: chain.escrow,
        policyVersion: this.policy?.version,
        jobs: store.countJobs(),
        providersLive: directory.size,
        uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      }),
      log,
    });
    this.httpUrl = await this.http.listen(config.httpPort, config.httpHost);
    log.info(
      {
        peerId: this.peerId,
        multiaddrs: this.multiaddrs,
        http: this.httpUrl,
        address: chain.coordinator,
        resumed: store.countJobs().running,
      },
      "coordinator started",
    );
  }

  async stop(): Promise<void> {
    for (const stop of this.timers.splice(0)) stop();
    await this.supervisor?.stop();
    for (const s of this.services.splice(0).reverse()) await s.stop().catch(() => undefined);
    await this.http?.close();
    await this.node?.stop();
    await this.components.chain.close();
    this.store?.close();
    this.node = undefined;
  }

  /** Waits for the supervision loop to go idle (tests). */
  async settled(): Promise<void> {
    await this.supervisor?.settled();
  }

  private async quote(spec: QuoteRequest["spec"], reference: ReferenceWork, options: { signal: AbortSignal }) {
    const policy = this.policy ?? (this.policy = await this.components.chain.readPolicy(undefined, options));
    const { chain } = this.components;
    return computeQuote(spec, {
      coordinator: chain.coordinator,
      chainId: chain.chainId,
      escrow: chain.escrow,
      policy,
      reference,
      providers: this.directory!.liveProviders(),
    });
  }

  /**
   * A verdict counts only from the job's client: the peer that submitted (or
   * re-submitted) it with the client's auth, or any peer whose verdict
   * carries that auth itself.
   */
  private async verdict(v: SegmentVerdict, peer: string, options: { signal: AbortSignal }): Promise<void> {
    const store = this.store!;
    const job = store.getJob(v.jobId);
    if (!job) throw new RefusalError("UNKNOWN_JOB", `This coordinator has no job ${v.jobId}.`);
    if (job.clientPeer !== peer && !(await isJobClientAuth(this.components.chain, job, peer, v.auth, options))) {
      throw new RefusalError(
        "NOT_JOB_CLIENT",
        `Only job ${job.jobId}'s client ${job.client} may report on its segments, and this verdict carries no valid auth for peer ${peer}.`,
        {
          hint: "Send the verdict with auth, or re-submit the job from this peer first.",
        },
      );
    }
    const seg = store.segment(job.jobId, v.segment);
    if (!seg) throw new RefusalError("BAD_MESSAGE", `Job ${job.jobId} has no segment ${v.segment}.`);
    const r = store.verdict({
      jobId: job.jobId,
      segment: v.segment,
      provider: v.provider,
      cid: v.cid,
      ok: v.ok,
      ...(v.message ? { message: v.message } : {}),
    });
    this.supervisor!.applyEffects(r, job.jobId, { segment: v.segment, lastVerdict: v.ok ? "ok" : "rejected" });
    if (r.outcome === "not-current") {
      const counted = seg.verifiedAttempt === null ? undefined : store.attempt(seg.verifiedAttempt);
      throw new RefusalError(
        "BAD_MESSAGE",
        counted
          ? `Segment ${v.segment} is already counted with ${counted.provider}'s delivery ${counted.delivery?.delivery.cid}; this verdict changes nothing and that copy is the one to pay.`
          : `Delivery ${v.cid} by ${v.provider} is not the copy of segment ${v.segment} awaiting a verdict.`,
      );
    }
  }

  private requireNode(): MeshNode {
    if (!this.node) throw new Error("The coordinator is not started.");
    return this.node;
  }
}
