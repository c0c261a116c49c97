// The one deploy path of the tests: the project's own Ignition module through
// `scripts/deploy.ts` (as `pnpm run deploy` and `pnpm dev` deploy), run in a
// child process, with the deployment file and Ignition's journal in a temp
// dir, so no test writes into contracts/ignition/deployments.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDeployment, type Deployment } from "@rendermesh/shared/chain";
import { hardhatKey } from "./accounts.js";
import { repoRoot } from "./hardhat-node.js";

export interface DeployOptions {
  rpcUrl: string;
  /** Directory for `<chainId>.json` and Ignition's journal (`<dir>/ignition`). */
  dir: string;
  /** Deployer key (default Hardhat account 0). */
  privateKey?: string;
  /** `--dev`: short windows and voting periods. Default true. */
  dev?: boolean;
  /** Ignition module parameters (`contracts/ignition/modules/Rendermesh.ts`); bigints allowed. */
  parameters?: Record<string, unknown>;
}

/** Deploys every Rendermesh contract; returns the deployment and the path of its file. */
export async function deployRendermesh(options: DeployOptions): Promise<{ deployment: Deployment; deploymentFile: string }> {
  const params = join(options.dir, "ignition-parameters.json");
  writeFileSync(
    params,
    JSON.stringify(options.parameters ?? {}, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
  );
  const args = [
    join(repoRoot, "scripts", "deploy.ts"),
    ...["--rpc-url", options.rpcUrl, "--private-key", options.privateKey ?? hardhatKey(0)],
    ...["--out", options.dir, "--journal-dir", join(options.dir, "ignition"), "--params", params],
    ...["--fresh", "--confirmations", "1", "--quiet"],
    ...(options.dev === false ? [] : ["--dev"]),
  ];
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0" },
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`scripts/deploy.ts failed (exit ${code}):\n${out}`))));
  });
  const m = /Rendermesh deployed on chain (\d+)/.exec(output);
  if (!m) throw new Error(`scripts/deploy.ts did not say which chain it deployed on:\n${output}`);
  const deploymentFile = join(options.dir, `${m[1]}.json`);
  return { deployment: parseDeployment(JSON.parse(readFileSync(deploymentFile, "utf8")), deploymentFile), deploymentFile };
}
