import { readFileSync } from "node:fs";
import {
  AnnounceResponse,
  createLogger,
  JobSegmentsResponse,
  loadWallet,
  PROTOCOLS,
  type AnnounceAck,
  type JobSegmentsQuery,
  type Logger,
} from "@rendermesh/shared";
import { loadDeployment, parseDeployment, type Deployment } from "@rendermesh/shared/chain";
import {
  createMeshNode,
  loadOrCreatePeerKey,
  peerIdBytes,
  request,
  type MeshNode,
  type ProtocolRegistration,
} from "@rendermesh/shared/net";
import { createHeliaSegmentStore, createKuboSegmentStore, type HeliaSegmentStoreInit, type SegmentStore } from "@rendermesh/shared/ipfs";
import { encodeSegment, resolveFfmpeg } from "@rendermesh/shared/media";
import { JsonRpcProvider, type Wallet } from "ethers";
import { credentialSegment, loadOrCreateProvenanceIdentity, loadProvenanceEngine } from "@rendermesh/shared/provenance";
import { CoordinatorLinks, type Capabilities } from "./announce/index.js";
import { EthersChain } from "./chain/ethers-chain.js";
import { PaymentLoop, type VerifiedCopies } from "./chain/payments.js";
import { assessStanding, formatMesh, planRegistration, type Standing } from "./chain/standing.js";
import { dataPaths, type ProviderConfig } from "./config.js";
import { AbortedError, StandingError } from "./errors.js";
import { Journal } from "./journal/index.js";
import { ProviderMetrics, serveMetrics, type MetricsServer } from "./metrics.js";
import { loadServedModels, type ServedModel } from "./models.js";
import { serveRender } from "./render/handler.js";
import type { PipelineComponents } from "./render/pipeline.js";
import { RenderService } from "./render/service.js";
import { serveVouchers } from "./voucher/handler.js";
import { VoucherService } from "./voucher/service.js";

export const AGENT = "rendermesh-provider/0.1.0";

/** Typed start-up progress, which the CLI prints as it happens. */
export type StartEvent =
  | { type: "chain"; chainId: number; escrow: string; address: string }
  | { type: "standing"; standing: Standing }
  | { type: "registration-plan"; lines: string[]; spend: bigint }
  | { type: "registered"; txs: string[] }
  | { type: "models"; models: Array<{ id: string; name: string; benchmarkFps: number; device: string }> }
  | { type: "listening"; peerId: string; multiaddrs: string[] }
  | { type: "recovered"; released: number; delivered: number }
  | { type: "metrics"; url: string };

export interface StartProviderOptions {
  config: ProviderConfig;
  /** A 0x private key (tests, dev network); otherwise `config.keystore` or RENDERMESH_PRIVATE_KEY. */
  privateKey?: string | undefined;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Asked before registration spends tokens; default: refuse unless `config.yes`. */
  confirm?: (lines: string[]) => Promise<boolean>;
  onEvent?: (event: StartEvent) => void;
  /**
   * Wraps each model's render pipeline. The daemon never sets it; fault and
   * adversary tests use it to run a real node that answers wrongly.
   */
  pipeline?: (modelId: string, components: PipelineComponents) => PipelineComponents;
  /**
   * Wraps the embedded IPFS node's blockstore (see `createHeliaSegmentStore`). The daemon never sets it; tests use
   * it to make a pin outlive the assignment's deadline.
   */
  wrapBlockstore?: HeliaSegmentStoreInit["wrapBlockstore"];
}

/** A running provider node. */
export interface Provider {
  readonly address: string;
  readonly peerId: string;
  readonly chainId: number;
  readonly escrow: string;
  readonly deployment: Deployment;
  readonly models: readonly ServedModel[];
  readonly node: MeshNode;
  readonly store: SegmentStore;
  readonly journal: Journal;
  readonly chain: EthersChain;
  readonly links: CoordinatorLinks;
  readonly render: RenderService;
  readonly vouchers: VoucherService;
  readonly payments: PaymentLoop;
  readonly metrics: ProviderMetrics;
  readonly metricsUrl: string | undefined;
  multiaddrs(): string[];
  stop(): Promise<void>;
}

/** Opens the wallet, RPC and deployment named by a config (shared by `start`, `status`, `withdraw`, `unstake`). */
export async function connectChain(
  config: ProviderConfig,
  options: { privateKey?: string | undefined; env?: NodeJS.ProcessEnv } = {},
): Promise<{ wallet: Wallet; chain: EthersChain; rpc: JsonRpcProvider }> {
  const rpc = new JsonRpcProvider(config.rpcUrl, undefined, { staticNetwork: true, pollingInterval: 250, cacheTimeout: -1 });
  try {
    const wallet = await loadWallet({ privateKey: options.privateKey, keystore: config.keystore, provider: rpc, env: options.env });
    let chainId: number;
    try {
      chainId = Number((await rpc.getNetwork()).chainId);
    } catch (cause) {
      throw new StandingError(`Cannot reach the chain at ${config.rpcUrl}.`, {
        cause,
        hint: "Check --rpc-url and that the node is running.",
      });
    }
    const deployment = config.deployment
      ? parseDeployment(JSON.parse(readFileSync(config.deployment, "utf8")), config.deployment)
      : loadDeployment(chainId);
    if (deployment.chainId !== chainId) {
      throw new StandingError(`The deployment file is for chain ${deployment.chainId}, but ${config.rpcUrl} is chain ${chainId}.`, {
        hint: "Point --rpc-url and --deployment at the same network.",
      });
    }
    return { wallet, chain: new EthersChain({ deployment, signer: wallet, provider: rpc }), rpc };
  } catch (err) {
    rpc.destroy();
    throw err;
  }
}

/** Reads this provider's on-chain standing. */
export async function readStanding(
  chain: EthersChain,
  address: string,
  peerId: Uint8Array,
  want: { ask: bigint; models: string[]; stake?: bigint | undefined },
): Promise<Standing> {
  const [entry, policy, peerOwner] = await Promise.all([
    chain.getProvider(address),
    chain.readPolicy(),
    chain.contracts.registry.providerOfPeer(peerId),
  ]);
  return assessStanding({
    address,
    peerId,
    entry,
    minStake: policy.minProviderStake,
    peerOwner,
    ask: want.ask,
    models: want.models,
    offeredStake: want.stake,
  });
}

/**
 * Starts a provider: chain standing (registering with `--register`), models
 * and self-benchmark, journal recovery, libp2p node and IPFS store, the
 * render and voucher protocols, coordinator links, the payment loop and
 * metrics. Fails before touching the network when the node could not serve.
 */
export async function startProvider(options: StartProviderOptions): Promise<Provider> {
  const { config } = options;
  const logger = options.logger ?? createLogger({ name: "provider", level: config.logLevel });
  const emit = options.onEvent ?? (() => undefined);
  const closers: Array<() => Promise<void> | void> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        logger.warn({ err }, "shutdown step failed");
      }
    }
    closers.length = 0;
  };

  try {
    const { wallet, chain, rpc } = await connectChain(config, options);
    closers.push(() => rpc.destroy());
    const address = wallet.address;
    emit({ type: "chain", chainId: chain.chainId, escrow: chain.escrowAddress, address });

    const paths = dataPaths(config.dataDir);
    const journal = Journal.open(paths.journal);
    closers.push(() => journal.close());
    journal.bindAddress(address);

    // The node is created (not started) now for its peer id, which the standing check needs.
    const privateKey = await loadOrCreatePeerKey(config.dataDir);
    const node = await createMeshNode({
      privateKey,
      listen: config.listen,
      ...(config.announceAddrs.length ? { announce: config.announceAddrs } : {}),
      userAgent: AGENT,
      start: false,
    });
    closers.push(() => node.stop());
    const peerIdRaw = peerIdBytes(node.peerId);

    // Models first: the standing check and registration list the model ids.
    const policy = await chain.readPolicy();
    const metrics = new ProviderMetrics();
    const models = await loadServedModels({
      sources: config.models,
      device: config.device,
      allowed: policy.allowedModels,
      batchFrames: config.batchFrames,
      threads: config.threads || undefined,
      // A renderer (sessions and inference thread) per segment rendered at once: one would render them in turn.
      renderers: config.concurrency,
      benchmarkFps: config.benchmarkFps,
      logger,
    });
    closers.push(async () => {
      await Promise.allSettled(models.map((m) => m.renderer.close()));
    });
    for (const m of models) metrics.benchmarkFps.set({ model: m.id }, m.benchmarkFps);
    emit({
      type: "models",
      models: models.map((m) => ({ id: m.id, name: m.name, benchmarkFps: m.benchmarkFps, device: m.renderer.device })),
    });
    const modelIds = models.map((m) => m.id);

    let standing = await readStanding(chain, address, peerIdRaw, { ask: config.askPerSecond, models: modelIds, stake: config.stake });
    emit({ type: "standing", standing });
    if (config.register && (standing.problems.length > 0 || standing.notes.length > 0 || (config.stake ?? 0n) > 0n)) {
      const plan = planRegistration(standing, {
        ask: config.askPerSecond,
        models: modelIds,
        stake: config.stake,
        walletBalance: await chain.tokenBalance(address),
      });
      if (plan.blocked) throw new StandingError(plan.blocked);
      if (plan.steps.length > 0) {
        const lines = [...plan.lines, `tokens to stake: ${formatMesh(plan.spend)} (plus gas)`];
        emit({ type: "registration-plan", lines, spend: plan.spend });
        const ok = config.yes || (options.confirm ? await options.confirm(lines) : false);
        if (!ok)
          throw new AbortedError("Registration was not confirmed; nothing was spent.", {
            hint: "Re-run with --yes to confirm without a prompt.",
          });
        const txs: string[] = [];
        for (const step of plan.steps) {
          if (step.kind === "register")
            txs.push(...(await chain.register(peerIdRaw, step.ask, step.models, step.stake)).map((t) => t.hash));
          else if (step.kind === "addStake") txs.push(...(await chain.addStake(step.amount)).map((t) => t.hash));
          else if (step.kind === "setPeerId") txs.push((await chain.setPeerId(peerIdRaw)).hash);
          else txs.push((await chain.updateListing(step.ask, step.models)).hash);
        }
        emit({ type: "registered", txs });
        standing = await readStanding(chain, address, peerIdRaw, { ask: config.askPerSecond, models: modelIds });
        emit({ type: "standing", standing });
      }
    }
    if (standing.problems.length > 0) {
      throw new StandingError(`Provider ${address} cannot serve yet: ${standing.problems.map((p) => p.message).join(" ")}`, {
        details: standing.problems.map((p) => `${p.code}: ${p.fix}`),
        hint: standing.problems[0]!.fix,
      });
    }
    for (const note of standing.notes) logger.warn(note);

    // Crash recovery: work cut off mid-segment is given back; receipts stay for payment.
    const released = journal.releaseInterrupted("restart");
    const deliveredCount = journal.summary().assignments.delivered;
    if (released.length > 0)
      logger.warn({ segments: released.map((r) => `${r.jobId}/${r.segment}`) }, "gave back segments interrupted by the last shutdown");
    emit({ type: "recovered", released: released.length, delivered: deliveredCount });

    await node.start();
    const store: SegmentStore =
      config.ipfs === "embedded"
        ? await createHeliaSegmentStore({
            libp2p: node,
            dataDir: config.dataDir,
            ...(options.wrapBlockstore ? { wrapBlockstore: options.wrapBlockstore } : {}),
          })
        : createKuboSegmentStore({ url: config.ipfs });
    closers.push(() => store.stop());
    const peerId = node.peerId.toString();
    const multiaddrs = () => node.getMultiaddrs().map((a) => a.toString());
    emit({ type: "listening", peerId, multiaddrs: multiaddrs() });

    const ffmpeg = config.ffmpegPath ?? resolveFfmpeg();
    // Every segment carries Content Credentials naming this provider; the key is made once, in the data dir.
    const identity = await loadOrCreateProvenanceIdentity(config.dataDir, wallet);
    await loadProvenanceEngine();
    const pipelines = new Map<string, PipelineComponents>(
      models.map((m) => {
        const components: PipelineComponents = {
          renderer: m.renderer,
          encode: (frames, o) => encodeSegment(frames, { ...o, ffmpeg }),
          store: { put: async (bytes, o) => (await store.add(bytes, { pin: true, signal: o?.signal })).toV1().toString() },
          signDelivery: (d) => chain.signDelivery(d),
          credential: (mp4, work) =>
            credentialSegment({
              mp4,
              identity,
              modelName: m.name,
              segment: {
                chainId: chain.chainId,
                escrow: chain.escrowAddress,
                jobId: work.jobId,
                segment: work.segment,
                firstFrame: work.firstFrame,
                frameCount: work.frameCount,
                model: m.id as `0x${string}`,
              },
            }),
          // Trace blocks are stored unpinned and the root pinned once, recursively, from the bytes in hand.
          traces:
            store.putBlock && store.getBlock
              ? {
                  put: (cid, bytes, o) => store.putBlock!(cid, bytes, { ...o, pin: false }),
                  putMany: store.putBlocks ? (blocks, o) => store.putBlocks!(blocks, o) : undefined,
                  get: (cid, o) => store.getBlock!(cid, o),
                  pin: (root, known, o) => store.pin(root, { known, signal: o?.signal }),
                }
              : undefined,
        };
        return [m.id, options.pipeline ? options.pipeline(m.id, components) : components];
      }),
    );

    const links = new CoordinatorLinks(
      {
        peerId,
        events: node as unknown as ConstructorParameters<typeof CoordinatorLinks>[0]["events"],
        announce: async (target, message, o): Promise<AnnounceAck> => {
          const response = await request(node, target, PROTOCOLS.announce, message, AnnounceResponse, { signal: o.signal });
          if (response.type === "error") {
            const err = new StandingError(response.message);
            Object.assign(err, { code: response.code });
            throw err;
          }
          return response;
        },
        signMessage: (text) => wallet.signMessage(text),
        capabilities: (): Capabilities => ({
          address: address as `0x${string}`,
          models: modelIds as `0x${string}`[],
          askPerSecond: config.askPerSecond,
          capacity: config.concurrency,
          benchmarkFps: Math.max(...models.map((m) => m.benchmarkFps)),
          device: models[0]!.renderer.device,
          active: render.active,
          agent: AGENT,
        }),
        logger: logger.child({ component: "announce" }),
        metrics,
      },
      { coordinators: config.coordinators },
    );

    const render = new RenderService(
      {
        address,
        chain,
        signatures: chain,
        journal,
        metrics,
        logger: logger.child({ component: "render" }),
        pipelines,
        multiaddrs,
        pricing: { askPerSecond: config.askPerSecond, reference: (model) => models.find((m) => m.id === model)?.reference },
      },
      { concurrency: config.concurrency, segmentTimeoutMs: config.segmentTimeoutMs, orphanGraceMs: config.orphanGraceMs },
    );
    closers.push(() => render.stop());
    const registrations: ProtocolRegistration[] = [];
    closers.push(async () => {
      await Promise.allSettled(registrations.map((r) => r.unhandle()));
    });
    registrations.push(
      await serveRender({
        node,
        service: render,
        coordinatorOf: (p) => links.coordinatorOf(p),
        logger: logger.child({ component: "render" }),
      }),
    );

    // The job's coordinator (one of ours, by the address its announce ack proved) says which copies were verified.
    const verifiedCopies: VerifiedCopies = async (jobId, coordinator, o) => {
      const link = links.status().find((l) => l.coordinator?.toLowerCase() === coordinator.toLowerCase());
      if (!link) return undefined; // not one of our coordinators (any more): nobody to ask
      const copies = new Map<number, { provider: string; cid: string }>();
      for (let from: number | undefined = 0; from !== undefined;) {
        const query: JobSegmentsQuery = { type: "segments", jobId: jobId as `0x${string}`, from };
        const page = await request(node, link.multiaddr, PROTOCOLS.job, query, JobSegmentsResponse, { signal: o.signal });
        // A coordinator that never heard of the job (its data dir lost) knows of no verified copy.
        if (page.type === "error" && page.code === "UNKNOWN_JOB") return copies;
        if (page.type === "error") throw new Error(`${page.code}: ${page.message}`);
        for (const item of page.items) if (item.verified) copies.set(item.segment, item.verified);
        from = page.next;
      }
      return copies;
    };
    const payments = new PaymentLoop(
      { address, chain, escrow: chain, journal, metrics, logger: logger.child({ component: "payments" }), verifiedCopies },
      {
        intervalMs: config.paymentIntervalMs,
        redeemBeforeDeadlineSeconds: config.redeemBeforeDeadlineSeconds,
        redeemAfterQuietSeconds: config.redeemAfterQuietSeconds,
        autoWithdrawAbove: config.autoWithdrawAbove,
      },
    );
    const vouchers = new VoucherService({
      address,
      chain,
      signatures: chain,
      journal,
      metrics,
      acknowledger: chain,
      logger: logger.child({ component: "voucher" }),
    });
    registrations.push(await serveVouchers({ node, service: vouchers, logger: logger.child({ component: "voucher" }) }));

    links.start();
    closers.push(() => links.stop());
    payments.start();
    closers.push(() => payments.stop());

    let metricsServer: MetricsServer | undefined;
    if (config.metricsPort >= 0) {
      metricsServer = await serveMetrics(metrics, { host: config.metricsHost, port: config.metricsPort });
      closers.push(() => metricsServer!.close());
      emit({ type: "metrics", url: metricsServer.url });
    }
    logger.info(
      { address, peerId, multiaddrs: multiaddrs(), models: modelIds, coordinators: config.coordinators.length },
      "provider started",
    );

    let stopping: Promise<void> | undefined;
    return {
      address,
      peerId,
      chainId: chain.chainId,
      escrow: chain.escrowAddress,
      deployment: chain.deployment,
      models,
      node,
      store,
      journal,
      chain,
      links,
      render,
      vouchers,
      payments,
      metrics,
      metricsUrl: metricsServer?.url,
      multiaddrs,
      stop: () => {
        stopping ??= closeAll().then(() => logger.info("provider stopped"));
        return stopping;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
