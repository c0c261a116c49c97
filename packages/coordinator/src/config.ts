import { z } from "zod";
import { loadConfig, type LoadedConfig } from "@rendermesh/shared";

/** Env vars `RENDERMESH_COORDINATOR_<FIELD>` (e.g. `..._HTTP_PORT`) set any field. */
export const ENV_PREFIX = "RENDERMESH_COORDINATOR_";

const list = z.preprocess(
  (v) =>
    typeof v === "string"
      ? v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : v,
  z.array(z.string().min(1)),
);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Every setting of the coordinator, with its default. */
export const CoordinatorConfig = z.object({
  /** libp2p listen multiaddrs. */
  listen: list.default(["/ip4/127.0.0.1/tcp/0"]),
  /** Multiaddrs to announce instead (behind NAT). */
  announce: list.optional(),
  /** Chain JSON-RPC endpoint. */
  rpcUrl: z.string().url().default("http://127.0.0.1:8545"),
  /** Deployment file (`deployments/<chainId>.json`); default: looked up by the RPC node's chain id. */
  deployment: z.string().optional(),
  /** The coordinator's key as 0x hex (prefer the RENDERMESH_PRIVATE_KEY env var or --keystore). */
  privateKey: z.string().optional(),
  /** Encrypted JSON keystore with the coordinator's key (password in RENDERMESH_KEYSTORE_PASSWORD). */
  keystore: z.string().optional(),
  /** Where the peer key (and by default the database) live. */
  dataDir: z.string().default(".rendermesh/coordinator"),
  /** SQLite database path (default `<dataDir>/coordinator.db`). */
  db: z.string().optional(),
  /** Read-only HTTP JSON API and /metrics; 0 picks a free port. */
  httpPort: int(0, 65535).default(8750),
  httpHost: z.string().default("127.0.0.1"),
  /** Lowest coordinator fee (bps, as the escrow snapshots it) this coordinator accepts jobs for. */
  feeBps: int(0, 10_000).default(0),
  heartbeatIntervalMs: int(500, 600_000).default(5_000),
  maxPendingJobsPerClient: int(1, 10_000).default(8),
  maxRunningJobs: int(1, 100_000).default(256),
  /** Reference size and fps at which asks are quoted (the default model's manifest). */
  referenceWidth: int(2, 8192).default(256),
  referenceHeight: int(2, 8192).default(256),
  referenceFps: int(1, 240).default(24),
  /** Scheduler: smallest share of the mean weight any live provider gets (0..1). */
  minShare: z.coerce.number().min(0).max(1).default(0.2),
  /** Segments queued per provider beyond its capacity. */
  pipelineDepth: int(0, 64).default(1),
  /** Seconds of slack added to each segment's deadline. */
  segmentGraceSeconds: int(1, 3600).default(20),
  /** A delivery with no verdict from the client is announced again after at least this many seconds... */
  verdictWaitSeconds: int(1, 3600).default(15),
  /** ...or this multiple of the time the segment took to render, if longer (the client's check re-runs part of it). */
  verdictRenderFactor: z.coerce.number().min(0).max(100).default(2),
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
export type CoordinatorConfig = z.output<typeof CoordinatorConfig>;
export type CoordinatorConfigInput = z.input<typeof CoordinatorConfig>;

/** Loads the config: defaults < `--config` file < RENDERMESH_COORDINATOR_* env < flags. */
export function loadCoordinatorConfig(
  opts: { file?: string; env?: NodeJS.ProcessEnv; flags?: Record<string, unknown> } = {},
): LoadedConfig<CoordinatorConfig> {
  return loadConfig({ schema: CoordinatorConfig, file: opts.file, env: opts.env, envPrefix: ENV_PREFIX, flags: opts.flags });
}
