import { homedir } from "node:os";
import { join } from "node:path";
import { parseUnits } from "ethers";
import { z } from "zod";
import { loadConfig, type LoadedConfig } from "@rendermesh/shared";

/** Env vars `RENDERMESH_PROVIDER_<FIELD>` override the config file; flags override both. */
export const ENV_PREFIX = "RENDERMESH_PROVIDER_";

/**
 * A token amount as a user writes it: MESH with up to 18 decimals (`1.5`),
 * or base units with a `wei` suffix (`1500000000000000000wei`).
 */
export function parseTokenAmount(text: string): bigint {
  const s = text.trim();
  const wei = /^([0-9]+)\s*wei$/i.exec(s);
  if (wei) return BigInt(wei[1]!);
  const mesh = /^([0-9]+(?:\.[0-9]{1,18})?)\s*(?:mesh)?$/i.exec(s);
  if (!mesh) throw new Error(`"${text}" is not a token amount (write MESH like 1.5, or base units like 1500000000000000000wei)`);
  return parseUnits(mesh[1]!, 18);
}

const TokenAmount = z.union([
  z.bigint().nonnegative(),
  z
    .number()
    .nonnegative()
    .transform((n, ctx) => {
      try {
        return parseTokenAmount(String(n));
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    }),
  z.string().transform((s, ctx) => {
    try {
      return parseTokenAmount(s);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  }),
]);

/** A list from a file (JSON array) or from env/flags (comma-separated). */
const List = z.preprocess(
  (v) =>
    typeof v === "string"
      ? v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : v,
  z.array(z.string().min(1)),
);

const Int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const Bool = z.preprocess((v) => (v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v), z.boolean());

export const DEFAULT_DATA_DIR = join(homedir(), ".rendermesh", "provider");

export const ProviderConfig = z.object({
  /** Encrypted JSON keystore; otherwise the key comes from RENDERMESH_PRIVATE_KEY. */
  keystore: z.string().optional(),
  rpcUrl: z.string().url().default("http://127.0.0.1:8545"),
  /** Deployment file (`deployments/<chainId>.json`); default: found in the repo by chain id. */
  deployment: z.string().optional(),
  /** Coordinator multiaddrs (with /p2p/<peer id>). */
  coordinators: List.default([]),
  /** Ask in token units per generated second at the model's reference size and fps. */
  askPerSecond: TokenAmount.default(10n ** 15n),
  /** `default` (the network's built-in model) and/or paths of ONNX files with a manifest beside them. */
  models: List.default(["default"]),
  device: z.enum(["cpu", "cuda", "auto"]).default("auto"),
  /** `embedded` (Helia on the node's libp2p) or the URL of a Kubo RPC API. */
  ipfs: z.union([z.literal("embedded"), z.string().url()]).default("embedded"),
  dataDir: z.string().min(1).default(DEFAULT_DATA_DIR),
  listen: List.default(["/ip4/0.0.0.0/tcp/7402"]),
  /** Addresses to advertise instead of the listen addresses (public IP, DNS). */
  announceAddrs: List.default([]),
  /**
   * Segments rendered at once, each by a renderer of its own (its sessions
   * on an inference thread of its own; on a GPU, a copy of the model in its
   * memory). On a CPU, `concurrency` n with `threads` cores/n makes more
   * frames than one render on every core (see the README).
   */
  concurrency: Int(1, 64).default(1),
  /** Frames per inference call; larger keeps a GPU busier. 0: pick from the device. */
  batchFrames: Int(0, 256).default(0),
  /**
   * CPU threads per ONNX Runtime session. 0: every core. Fewer leaves cores
   * to other work on the machine (several providers on one machine, as the
   * local dev network runs them: threads that outnumber the cores stall
   * each other at every parallel operator).
   */
  threads: Int(0, 1024).default(0),
  /** Prometheus metrics port on `metricsHost`; 0 picks a free port; -1 turns metrics off. */
  metricsPort: Int(-1, 65535).default(9464),
  metricsHost: z.string().default("127.0.0.1"),
  /** How often the payment loop looks at open jobs, ms. */
  paymentIntervalMs: Int(100, 3_600_000).default(30_000),
  /** Redeem unredeemed voucher seconds this long before a job's deadline. */
  redeemBeforeDeadlineSeconds: Int(0, 30 * 86_400).default(600),
  /** …or once the client has sent no voucher for this long. */
  redeemAfterQuietSeconds: Int(1, 30 * 86_400).default(900),
  /** Withdraw the escrow balance automatically once it reaches this amount; unset: only on `withdraw`. */
  autoWithdrawAbove: TokenAmount.optional(),
  /** Time allowed to render one segment before it is given back, ms. */
  segmentTimeoutMs: Int(1_000, 3_600_000).default(600_000),
  /** A render whose coordinator hung up keeps going this long for the coordinator to ask again (a restart). */
  orphanGraceMs: Int(0, 3_600_000).default(60_000),
  /** Skip the start-up self-benchmark and advertise this many frames per second instead. */
  benchmarkFps: z.coerce.number().positive().optional(),
  ffmpegPath: z.string().optional(),
  logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  /** Register and stake at start if not yet registered (flag `--register`). */
  register: Bool.default(false),
  /** Stake to add at registration (MESH, or base units with `wei`). */
  stake: TokenAmount.optional(),
  /** Do not ask for confirmation before spending tokens. */
  yes: Bool.default(false),
});
export type ProviderConfig = z.output<typeof ProviderConfig>;
export type ProviderConfigInput = z.input<typeof ProviderConfig>;

export interface LoadProviderConfigOptions {
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  flags?: Record<string, unknown>;
}

/** defaults < `--config` file < RENDERMESH_PROVIDER_* env < flags. */
export function loadProviderConfig(options: LoadProviderConfigOptions = {}): LoadedConfig<ProviderConfig> {
  const env = options.env ?? process.env;
  return loadConfig({
    schema: ProviderConfig,
    file: options.file ?? env[`${ENV_PREFIX}CONFIG`],
    env,
    envPrefix: ENV_PREFIX,
    flags: options.flags ?? {},
  });
}

/** Paths inside the data dir. */
export function dataPaths(dataDir: string) {
  return {
    journal: join(dataDir, "journal.sqlite"),
    peerKey: join(dataDir, "peer.key"),
    blocks: join(dataDir, "blocks"),
    datastore: join(dataDir, "datastore"),
    models: join(dataDir, "models"),
  };
}
