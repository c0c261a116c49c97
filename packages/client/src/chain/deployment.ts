import { existsSync, readFileSync } from "node:fs";
import { ConfigError } from "@rendermesh/shared";
import { loadDeployment, parseDeployment, type Deployment } from "@rendermesh/shared/chain";

export type { Deployment };

/**
 * The deployment for `chainId`: from `file` when given (a flag, env var or
 * the dev network's `deploymentFile`), else `deployments/<chainId>.json`
 * through the shared `loadDeployment`. The file's chain id must match.
 */
export function readDeployment(chainId: number, file?: string): Deployment {
  if (!file) return loadDeployment(chainId);
  if (!existsSync(file)) {
    throw new ConfigError(`The deployment file ${file} does not exist.`, {
      hint: "Check --deployment (or RENDERMESH_DEPLOYMENT), or restart `pnpm dev`.",
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new ConfigError(`The deployment file ${file} is not valid JSON.`, { cause });
  }
  const deployment = parseDeployment(json, file);
  if (deployment.chainId !== chainId) {
    throw new ConfigError(`The deployment file ${file} is for chain ${deployment.chainId}, but the RPC is chain ${chainId}.`, {
      hint: "Point --rpc-url and --deployment at the same network.",
    });
  }
  return deployment;
}
