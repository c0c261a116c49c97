import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Command } from "commander";
import { formatUnits, getAddress, JsonRpcProvider, parseUnits, type Wallet } from "ethers";
import { rpcRequest } from "../chain/rpc.js";
import { z } from "zod";
import { devNetworkPath, findRepoRoot, loadConfig, loadWallet, readDevNetwork, UsageError, type DevNetwork } from "@rendermesh/shared";
import { reportError as reportCliError } from "@rendermesh/shared/cli";
import { ClientError } from "../errors.js";
import { toJson } from "../json.js";
import { readDeployment, type Deployment } from "../chain/deployment.js";

/**
 * What every `rendermesh` command shares: the global flags, resolving the
 * chain, deployment, wallet and data dir from flags, environment, a config
 * file and `.rendermesh/dev.json`; output in human or `--json` form; and the
 * mapping from any error to one sentence on stderr and an exit code
 * (2 = bad usage, 3 = refused, 1 = other failure).
 *
 * Used by the job, wallet and token commands and by the DAO and policy
 * commands alike.
 */

/** Environment variables the CLI reads (besides RENDERMESH_PRIVATE_KEY / RENDERMESH_KEYSTORE_PASSWORD, read by the wallet loader). */
const ENV = {
  rpcUrl: "RENDERMESH_RPC_URL",
  deployment: "RENDERMESH_DEPLOYMENT",
  keystore: "RENDERMESH_KEYSTORE",
  dataDir: "RENDERMESH_DATA_DIR",
  coordinator: "RENDERMESH_COORDINATOR",
  ipfsApi: "RENDERMESH_IPFS_API",
  devFile: "RENDERMESH_DEV_FILE",
} as const;

/** Global flags, on the root program; every subcommand accepts them (before or after its name). */
export interface GlobalFlags {
  rpcUrl?: string;
  deployment?: string;
  keystore?: string;
  dataDir?: string;
  coordinator?: string;
  ipfsApi?: string;
  config?: string;
  json?: boolean;
}

export function addGlobalOptions(program: Command): Command {
  return program
    .option("--rpc-url <url>", `JSON-RPC endpoint of the chain (env ${ENV.rpcUrl}; default: the dev network's)`)
    .option(
      "--deployment <file>",
      `deployment JSON with the contract addresses (env ${ENV.deployment}; default: deployments/<chainId>.json)`,
    )
    .option("--keystore <file>", `encrypted keystore of the wallet (env ${ENV.keystore}; password in RENDERMESH_KEYSTORE_PASSWORD)`)
    .option("--data-dir <dir>", `client data dir: journal, keystore, IPFS blocks (env ${ENV.dataDir}; default ~/.rendermesh/client)`)
    .option("--coordinator <multiaddr>", `coordinator to use, /ip4/…/tcp/…/p2p/… (env ${ENV.coordinator}; default: the dev network's)`)
    .option("--ipfs-api <url>", `use a Kubo node's RPC API instead of the embedded Helia node (env ${ENV.ipfsApi})`)
    .option("--config <file>", "JSON config file with any of the settings above (camelCase keys)")
    .option("--json", "print one JSON object as the result instead of text");
}

const Settings = z.object({
  rpcUrl: z.url({ protocol: /^(https?|wss?)$/ }).optional(),
  deployment: z.string().min(1).optional(),
  keystore: z.string().min(1).optional(),
  dataDir: z.string().min(1).optional(),
  coordinator: z.string().startsWith("/", "must be a multiaddr starting with /").optional(),
  ipfsApi: z.url({ protocol: /^https?$/ }).optional(),
});
export type Settings = z.output<typeof Settings>;

/** Flags layered over a config file and RENDERMESH_* environment variables. */
function resolveSettings(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): Settings {
  return loadConfig({
    schema: Settings,
    file: flags.config,
    env,
    envPrefix: "RENDERMESH_",
    flags: {
      rpcUrl: flags.rpcUrl,
      deployment: flags.deployment,
      keystore: flags.keystore,
      dataDir: flags.dataDir,
      coordinator: flags.coordinator,
      ipfsApi: flags.ipfsApi,
    },
  }).config;
}

/** The dev network, when `.rendermesh/dev.json` (or RENDERMESH_DEV_FILE) exists. */
export function devNetwork(env: NodeJS.ProcessEnv = process.env): DevNetwork | undefined {
  const path = env[ENV.devFile] ?? (findRepoRoot() ? join(findRepoRoot()!, ".rendermesh", "dev.json") : undefined);
  return readDevNetwork(path);
}

/** Client data dir: flag/env/config, else `<repo>/.rendermesh/client` on the dev network, else `~/.rendermesh/client`. */
function resolveDataDir(settings: Settings, dev: DevNetwork | undefined): string {
  if (settings.dataDir) return resolve(settings.dataDir);
  if (dev) {
    // Beside dev.json, so each fresh dev network (whose job ids repeat) starts with an empty journal.
    const devFile = devNetworkPath();
    if (devFile) return join(dirname(devFile), "client");
    const root = findRepoRoot();
    if (root) return join(root, ".rendermesh", "client");
  }
  return join(homedir(), ".rendermesh", "client");
}

export interface ChainContext {
  settings: Settings;
  dev: DevNetwork | undefined;
  provider: JsonRpcProvider;
  chainId: number;
  deployment: Deployment;
  dataDir: string;
}

/**
 * The chain a command talks to: RPC URL and deployment from flags, env or
 * config, falling back to the dev network. Checks that the RPC answers and
 * that its chain id matches the deployment.
 */
export async function resolveChain(flags: GlobalFlags, env: NodeJS.ProcessEnv = process.env): Promise<ChainContext> {
  const settings = resolveSettings(flags, env);
  const dev = devNetwork(env);
  const rpcUrl = settings.rpcUrl ?? dev?.rpcUrl;
  if (!rpcUrl) {
    throw new UsageError("No chain is configured.", {
      hint: `Pass --rpc-url URL (or set ${ENV.rpcUrl}), or start the local network with \`pnpm dev\`.`,
    });
  }
  // No 250 ms call cache: a nonce or balance read right after a transaction must be fresh.
  // Requests cut off by a node that was stalled are sent again (see rpcRequest).
  const provider = new JsonRpcProvider(rpcRequest(rpcUrl), undefined, { cacheTimeout: -1, pollingInterval: 250 });
  let chainId: number;
  try {
    chainId = Number((await provider.getNetwork()).chainId);
  } catch (cause) {
    provider.destroy();
    throw new ClientError("RPC_UNREACHABLE", `The chain at ${rpcUrl} does not answer.`, {
      cause,
      hint: dev && !settings.rpcUrl ? "Is `pnpm dev` still running? Restart it." : "Check --rpc-url and that the node is running.",
    });
  }
  const deploymentFile = settings.deployment ?? (dev && dev.chainId === chainId ? dev.deploymentFile : undefined);
  const deployment = readDeployment(chainId, deploymentFile);
  return { settings, dev, provider, chainId, deployment, dataDir: resolveDataDir(settings, dev) };
}

/** Default keystore path inside a data dir. */
export const keystorePath = (dataDir: string) => join(dataDir, "keystore.json");

/**
 * The wallet a command signs with, first that is set: RENDERMESH_PRIVATE_KEY,
 * --keystore (or RENDERMESH_KEYSTORE, or `<data-dir>/keystore.json` if it
 * exists), else the dev network's funded client account.
 */
export async function resolveWallet(
  ctx: {
    settings: Settings;
    dev: DevNetwork | undefined;
    dataDir: string;
    provider?: JsonRpcProvider | undefined;
    chainId?: number | undefined;
  },
  env: NodeJS.ProcessEnv = process.env,
): Promise<Wallet> {
  if (env.RENDERMESH_PRIVATE_KEY) return loadWallet({ provider: ctx.provider, env });
  const keystore = ctx.settings.keystore ?? (existsSync(keystorePath(ctx.dataDir)) ? keystorePath(ctx.dataDir) : undefined);
  if (keystore) return loadWallet({ keystore, provider: ctx.provider, env });
  if (ctx.dev && (ctx.chainId === undefined || ctx.dev.chainId === ctx.chainId)) {
    return loadWallet({ privateKey: ctx.dev.accounts.client.privateKey, provider: ctx.provider, env: {} });
  }
  return loadWallet({ provider: ctx.provider, env });
}

/** Settings, dev network and data dir without touching the chain (for wallet commands). */
export function resolveLocal(
  flags: GlobalFlags,
  env: NodeJS.ProcessEnv = process.env,
): { settings: Settings; dev: DevNetwork | undefined; dataDir: string } {
  const settings = resolveSettings(flags, env);
  const dev = devNetwork(env);
  return { settings, dev, dataDir: resolveDataDir(settings, dev) };
}

// ---- flag parsers (each throws a UsageError naming the flag) --------------------

export function parseIntFlag(flag: string, value: string, min: number, max: number): number {
  if (!/^[0-9]+$/.test(value.trim())) throw new UsageError(`${flag} must be a whole number, got "${value}".`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`${flag} must be between ${min} and ${max}, got ${n}.`);
  return n;
}

export function parseSize(flag: string, value: string): { width: number; height: number } {
  const m = /^([0-9]+)x([0-9]+)$/i.exec(value.trim());
  if (!m) throw new UsageError(`${flag} must be WIDTHxHEIGHT, e.g. 192x192, got "${value}".`);
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width < 16 || height < 16 || width > 8192 || height > 8192)
    throw new UsageError(`${flag} must be between 16x16 and 8192x8192, got ${value}.`);
  if (width % 2 || height % 2) throw new UsageError(`${flag} must have even width and height (H.264 needs them), got ${value}.`);
  return { width, height };
}

/** A MESH amount in whole tokens with up to 18 decimals ("1.5") → base units. */
export function parseTokenAmount(flag: string, value: string): bigint {
  if (!/^[0-9]+(\.[0-9]{1,18})?$/.test(value.trim()))
    throw new UsageError(`${flag} must be an amount of MESH such as 2 or 0.25, got "${value}".`);
  return parseUnits(value.trim(), 18);
}

export function parseAddress(flag: string, value: string): string {
  try {
    return getAddress(value.trim());
  } catch {
    throw new UsageError(`${flag} must be an Ethereum address (0x and 40 hex digits), got "${value}".`);
  }
}

export function parseBytes32(what: string, value: string): `0x${string}` {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value.trim())) throw new UsageError(`${what} must be 0x followed by 64 hex digits, got "${value}".`);
  return value.trim().toLowerCase() as `0x${string}`;
}

export function parseMultiaddrFlag(flag: string, value: string): string {
  const v = value.trim();
  if (!/^\/(ip4|ip6|dns|dns4|dns6)\/[^/]+\/tcp\/[0-9]+\/p2p\/[1-9A-HJ-NP-Za-km-z]+$/.test(v)) {
    throw new UsageError(`${flag} must be a multiaddr like /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…, got "${value}".`);
  }
  return v;
}

// ---- output ---------------------------------------------------------------------

/** "12.5": a token amount in whole tokens (18 decimals), without a trailing ".0". */
export function formatAmount(amount: bigint): string {
  const s = formatUnits(amount, 18);
  return s.endsWith(".0") ? s.slice(0, -2) : s;
}

/** "12.5 MESH". */
export function formatToken(amount: bigint, symbol = "MESH"): string {
  return `${formatAmount(amount)} ${symbol}`;
}

export interface Output {
  readonly json: boolean;
  readonly isTTY: boolean;
  /** A line of human output (suppressed with --json). */
  line(text?: string): void;
  /** An aligned table (suppressed with --json). */
  table(headers: string[], rows: string[][], align?: Array<"left" | "right">): void;
  /** The command's result: printed as JSON with --json, else `human(value)` is called. */
  result<T>(value: T, human?: (value: T) => void): void;
}

/**
 * Where the CLI writes: the process's streams, or those `main` was given
 * (tests run the CLI in-process and capture them).
 */
export const cliIo: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream } = { stdout: process.stdout, stderr: process.stderr };

export function createOutput(flags: Pick<GlobalFlags, "json">, stdout: NodeJS.WriteStream = cliIo.stdout): Output {
  const json = flags.json === true;
  const write = (s: string) => void stdout.write(`${s}\n`);
  return {
    json,
    isTTY: stdout.isTTY === true && !json,
    line: (text = "") => {
      if (!json) write(text);
    },
    table: (headers, rows, align = []) => {
      if (json) return;
      const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
      const fmt = (cells: string[]) =>
        cells
          .map((c, i) => (align[i] === "right" ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
          .join("  ")
          .trimEnd();
      write(fmt(headers));
      write(widths.map((w) => "-".repeat(w)).join("  "));
      for (const r of rows) write(fmt(r));
    },
    result: (value, human) => {
      if (json) write(toJson(value, 2));
      else human?.(value);
    },
  };
}

// ---- errors → one sentence + exit code --------------------------------------------

export interface ErrorReporter {
  stderr?: NodeJS.WritableStream;
  stdout?: NodeJS.WritableStream;
  json?: boolean;
  commandPath?: string;
}

/** Prints an error the way every command (of all three CLIs) does and returns its exit code. */
export function reportError(err: unknown, opts: ErrorReporter = {}): number {
  return reportCliError(err, {
    commandPath: opts.commandPath ?? "rendermesh",
    json: opts.json,
    stdout: opts.stdout ?? cliIo.stdout,
    stderr: opts.stderr ?? cliIo.stderr,
  });
}

/** The space-separated path of a command, e.g. "rendermesh job submit". */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** The global flags as seen from a (sub)command's action. */
export function globalFlags(cmd: Command): GlobalFlags {
  return cmd.optsWithGlobals<GlobalFlags>();
}
