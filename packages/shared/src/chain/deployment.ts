import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { getAddress } from "ethers";
import { z } from "zod";
import { findRepoRoot } from "../devnet.js";
import { DeploymentError } from "./errors.js";

const AddressSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "must be a 0x address")
  .transform((a) => getAddress(a));

/** `deployments/<chainId>.json`, as `scripts/deploy.ts` writes it from the Ignition result. */
export const DeploymentSchema = z.object({
  chainId: z.number().int().positive(),
  token: AddressSchema,
  registry: AddressSchema,
  escrow: AddressSchema,
  policy: AddressSchema,
  governor: AddressSchema,
  timelock: AddressSchema,
  /** The block of the first deployment transaction: where log scans start. */
  startBlock: z.number().int().nonnegative(),
});
export type Deployment = z.output<typeof DeploymentSchema>;

/** Env var naming the directory of deployment files (default `<repo>/deployments`). */
export const DEPLOYMENTS_DIR_ENV = "RENDERMESH_DEPLOYMENTS_DIR";

/**
 * Where deployment files live: `$RENDERMESH_DEPLOYMENTS_DIR`, else
 * `<repo>/deployments` for the repo this module is in, else for the repo
 * around the working directory.
 */
export function defaultDeploymentsDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env[DEPLOYMENTS_DIR_ENV]) return resolve(env[DEPLOYMENTS_DIR_ENV]);
  // src/chain/deployment.ts and dist/chain/deployment.js both sit four levels below the repo root.
  const fromModule = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
  if (existsSync(join(fromModule, "pnpm-workspace.yaml"))) return join(fromModule, "deployments");
  return join(findRepoRoot() ?? process.cwd(), "deployments");
}

/** The path of the deployment file of `chainId`. */
export function deploymentPath(chainId: number | bigint, dir: string = defaultDeploymentsDir()): string {
  return join(dir, `${String(chainId)}.json`);
}

/** Validates a parsed deployment file; `source` names it in errors. */
export function parseDeployment(json: unknown, source = "deployment"): Deployment {
  const parsed = DeploymentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DeploymentError(`${source} is not a valid deployment: ${issue.path.join(".") || "(root)"}: ${issue.message}.`, {
      cause: parsed.error,
      hint: "Redeploy with `pnpm run deploy` to rewrite it.",
    });
  }
  return parsed.data;
}

/**
 * Reads the addresses of the Rendermesh contracts on `chainId` from
 * `<dir>/<chainId>.json`. Throws `DeploymentError` when the file is missing,
 * is not JSON, is malformed, or is for another chain.
 *
 * @example
 * const deployment = loadDeployment(31337);
 * const { escrow } = connectContracts(wallet, deployment);
 */
export function loadDeployment(chainId: number | bigint, dir: string = defaultDeploymentsDir()): Deployment {
  const path = deploymentPath(chainId, dir);
  if (!existsSync(path)) {
    throw new DeploymentError(`No Rendermesh deployment for chain ${String(chainId)}: ${path} does not exist.`, {
      hint: `Deploy first (\`pnpm run deploy --rpc-url URL\`, or \`pnpm dev\` for a local network), or point ${DEPLOYMENTS_DIR_ENV} at the directory that holds ${String(chainId)}.json.`,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (cause) {
    throw new DeploymentError(`The deployment file ${path} is not valid JSON.`, { cause, hint: "Redeploy to rewrite it." });
  }
  const deployment = parseDeployment(json, path);
  if (BigInt(deployment.chainId) !== BigInt(chainId)) {
    throw new DeploymentError(`The deployment file ${path} is for chain ${deployment.chainId}, not ${String(chainId)}.`, {
      hint: "Redeploy to rewrite it.",
    });
  }
  return deployment;
}
