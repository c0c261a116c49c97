import { join } from "node:path";
import type { Provider, Wallet } from "ethers";
import { createLogger, type Logger } from "@rendermesh/shared";
import { connectContracts, type Deployment, type RendermeshContracts } from "@rendermesh/shared/chain";
import type { MeshNode } from "@rendermesh/shared/net";
import type { SegmentStore } from "@rendermesh/shared/ipfs";
import {
  createSpotRenderer,
  defaultModel,
  defaultPipelinePath,
  loadPipeline,
  PipelineRunner,
  type Model,
  type SpotRenderer,
} from "@rendermesh/shared/model";
import { Journal } from "./journal/journal.js";
import { defaultVerifierComponents } from "./verify/components.js";
import type { Verifier } from "./verify/types.js";
import { SegmentVerifier, type SegmentVerifierInit } from "./verify/verifier.js";

/**
 * `createRendermeshClient` bundles what every action needs: the chain (an
 * ethers provider, the wallet that signs, typed contracts of the
 * deployment), the journal, and — started lazily, only by actions that need
 * them — a libp2p node, the IPFS segment store and the verifier.
 */
export interface RendermeshClientConfig {
  /** Connected to the chain (`wallet.provider` is used for reads). */
  wallet: Wallet;
  deployment: Deployment;
  /** Journal, peer key and IPFS blocks live here. */
  dataDir: string;
  /** Coordinator multiaddrs (with /p2p/…) to quote from and submit to. */
  coordinator?: string[] | undefined;
  /** Use a Kubo node's RPC API instead of the embedded Helia node. */
  ipfsApi?: string | undefined;
  /** libp2p listen addresses (default 127.0.0.1, any port: the client only dials out). */
  listen?: string[] | undefined;
  /** Videos and manifests go to `<outDir>/<jobId>/` (default `out`). */
  outDir?: string | undefined;
  /** Models the client can spot-check (default: the network's default model). */
  models?: Model[] | undefined;
  /** Diffusion pipeline manifests (pipeline.json) the client verifies by committed steps (default: the trained default pipeline). */
  pipelines?: string[] | undefined;
  /** Verifier tuning (threshold, samples); see `SegmentVerifier`. */
  verifier?: SegmentVerifierInit | undefined;
  /** Replace the verifier entirely (tests, alternative checks). */
  createVerifier?: ((client: RendermeshClient) => Promise<Verifier>) | undefined;
  ffmpeg?: string | undefined;
  logger?: Logger | undefined;
}

export interface ClientNet {
  node: MeshNode;
  store: SegmentStore;
}

export interface RendermeshClient {
  readonly wallet: Wallet;
  readonly provider: Provider;
  readonly account: string;
  readonly chainId: number;
  readonly deployment: Deployment;
  readonly contracts: RendermeshContracts;
  readonly journal: Journal;
  readonly dataDir: string;
  readonly outDir: string;
  readonly coordinator: string[] | undefined;
  readonly ffmpeg: string | undefined;
  readonly logger: Logger;
  readonly config: RendermeshClientConfig;
  /** The libp2p node and segment store, started on first use. */
  net(): Promise<ClientNet>;
  /** The segment verifier, created on first use. */
  verifier(): Promise<Verifier>;
  /** Stops the node and store, releases the renderer and closes the journal. */
  close(): Promise<void>;
}

/**
 * @example
 * const wallet = new Wallet(key, new JsonRpcProvider(rpcUrl));
 * const client = await createRendermeshClient({ wallet, deployment: loadDeployment(31337), dataDir, coordinator: [addr] });
 * const result = await generateVideo(client, { prompt: "a calm blue sea", seconds: 3 });
 * await client.close();
 */
export async function createRendermeshClient(config: RendermeshClientConfig): Promise<RendermeshClient> {
  const provider = config.wallet.provider;
  if (!provider) throw new TypeError("createRendermeshClient: the wallet must be connected to a provider");
  const chainId = Number((await provider.getNetwork()).chainId);
  const logger = config.logger ?? createLogger({ name: "client", level: process.env.RENDERMESH_LOG_LEVEL ?? "warn" });
  const journal = Journal.open(config.dataDir);
  let net: Promise<ClientNet> | undefined;
  let verifier: Promise<Verifier> | undefined;
  let spot: SpotRenderer | undefined;
  const runners: PipelineRunner[] = [];

  const client: RendermeshClient = {
    wallet: config.wallet,
    provider,
    account: config.wallet.address,
    chainId,
    deployment: config.deployment,
    contracts: connectContracts(config.wallet, config.deployment),
    journal,
    dataDir: config.dataDir,
    outDir: config.outDir ?? "out",
    coordinator: config.coordinator,
    ffmpeg: config.ffmpeg,
    logger,
    config,
    net() {
      net ??= (async () => {
        // libp2p and Helia load here, on the first command that talks to the network, not when the CLI starts.
        const [{ createMeshNode, loadOrCreatePeerKey }, { createHeliaSegmentStore, createKuboSegmentStore }] = await Promise.all([
          import("@rendermesh/shared/net"),
          import("@rendermesh/shared/ipfs"),
        ]);
        const node = await createMeshNode({
          privateKey: await loadOrCreatePeerKey(config.dataDir),
          listen: config.listen ?? ["/ip4/127.0.0.1/tcp/0"],
          userAgent: "rendermesh-client",
        });
        try {
          const store = config.ipfsApi
            ? createKuboSegmentStore({ url: config.ipfsApi })
            : await createHeliaSegmentStore({ libp2p: node, dataDir: join(config.dataDir, "ipfs") });
          return { node, store };
        } catch (err) {
          await node.stop();
          throw err;
        }
      })();
      net.catch(() => (net = undefined));
      return net;
    },
    verifier() {
      verifier ??= (async () => {
        if (config.createVerifier) return config.createVerifier(client);
        const { store } = await client.net();
        spot = await createSpotRenderer({ models: config.models ?? [defaultModel()] });
        const pipelines = new Map<string, PipelineRunner>();
        for (const path of config.pipelines ?? [defaultPipelinePath()]) {
          // One thread: a check runs a few single denoiser steps, where more threads cost more CPU than they save
          // (measured 109 -> 103 ms per segment), and segments are verified side by side anyway.
          const runner = await PipelineRunner.create({ pipeline: await loadPipeline(path), device: "cpu", threads: 1 });
          pipelines.set(runner.manifest.id.toLowerCase(), runner);
          runners.push(runner);
        }
        return new SegmentVerifier(defaultVerifierComponents({ store, spot, pipelines, ffmpeg: config.ffmpeg }), config.verifier);
      })();
      return verifier;
    },
    async close() {
      const n = net;
      net = undefined;
      if (n) {
        const { node, store } = await n.catch(() => ({ node: undefined, store: undefined }));
        await Promise.resolve(store?.stop()).catch(() => undefined);
        await Promise.resolve(node?.stop()).catch(() => undefined);
      }
      await spot?.close().catch(() => undefined);
      await Promise.allSettled(runners.map((r) => r.close()));
      journal.close();
    },
  };
  return client;
}
