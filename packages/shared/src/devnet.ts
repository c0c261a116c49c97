import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { z } from "zod";
import { ConfigError } from "./errors.js";

/**
 * `.rendermesh/dev.json`, written by `pnpm dev`: everything a CLI needs to
 * reach the local network, so every command works there with no flags.
 * Holds Hardhat's well-known test keys only.
 */
const Account = z.object({ address: z.string(), privateKey: z.string() });
export const DevNetwork = z.object({
  rpcUrl: z.string(),
  chainId: z.number().int(),
  deploymentFile: z.string(),
  coordinator: z.object({
    address: z.string(),
    peerId: z.string(),
    multiaddrs: z.array(z.string()),
    httpUrl: z.string(),
    pid: z.number().int().optional(),
    dataDir: z.string(),
  }),
  providers: z.array(
    z.object({
      address: z.string(),
      peerId: z.string(),
      multiaddrs: z.array(z.string()),
      metricsUrl: z.string().optional(),
      pid: z.number().int().optional(),
      dataDir: z.string(),
    }),
  ),
  accounts: z.object({
    deployer: Account,
    client: Account,
    coordinator: Account,
    providers: z.array(Account),
    dao: z.array(Account),
    arbiter: Account.optional(),
  }),
  /** The arbiter daemon (`rendermesh-arbiter`) whose account the dev deploy made `ContentPolicy.arbiter`. */
  arbiter: z
    .object({ address: z.string(), metricsUrl: z.string().optional(), pid: z.number().int().optional(), dataDir: z.string() })
    .optional(),
  hardhatPid: z.number().int().optional(),
  /** The web app `pnpm dev` serves (packages/web). */
  web: z.object({ url: z.string() }).optional(),
  startedAt: z.string(),
});
export type DevNetwork = z.output<typeof DevNetwork>;

/** The nearest directory at or above `from` that holds `pnpm-workspace.yaml`, or undefined. */
export function findRepoRoot(from = process.cwd()): string | undefined {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return dir;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** Path of the dev network file: RENDERMESH_DEV_FILE, else `<repo>/.rendermesh/dev.json`. */
export function devNetworkPath(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.RENDERMESH_DEV_FILE) return env.RENDERMESH_DEV_FILE;
  const root = findRepoRoot();
  return root ? join(root, ".rendermesh", "dev.json") : undefined;
}

/** The running dev network's description, or undefined when there is none. */
export function readDevNetwork(path = devNetworkPath()): DevNetwork | undefined {
  if (!path || !existsSync(path)) return undefined;
  const parsed = DevNetwork.safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) {
    throw new ConfigError(`${path} is not a valid dev network file.`, { hint: "Restart `pnpm dev` to rewrite it.", cause: parsed.error });
  }
  return parsed.data;
}
