// Helpers for the end-to-end tests: run the real `rendermesh` CLI against a
// network started by scripts/lib/devnet.ts, and read what it left behind.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { removeTempDirs, tempDir as makeTempDir, untilChain } from "@rendermesh/testing";
import { join } from "node:path";
import { Contract, JsonRpcProvider, Network } from "ethers";
import type { DevNetwork } from "@rendermesh/shared";
import { jobEscrowAbi, meshTokenAbi, contentPolicyAbi } from "@rendermesh/shared/chain";
import { repoRoot } from "../../scripts/lib/devnet.ts";

export const CLI = join(repoRoot, "packages", "client", "bin", "rendermesh.js");

/** A fresh temp dir (the toolkit's), removed by `removeTempDirs()` when the file's tests end, or at exit. */
export function tempDir(prefix: string): string {
  return makeTempDir(`rm-e2e-${prefix}-`).dir;
}

export { removeTempDirs };

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `rendermesh …` as a user would, against the dev network in `devFile`. */
export function runCli(
  args: string[],
  devFile: string,
  opts: { onStdout?: (chunk: string) => void; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: repoRoot,
      env: { ...process.env, RENDERMESH_DEV_FILE: devFile, NO_COLOR: "1", ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      opts.onStdout?.(d.toString());
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export interface ManifestLite {
  jobId: string;
  status: string;
  spec: { seconds: number; fps: number; width: number; height: number };
  segments: Array<{ segment: number; provider: string; cid: string }>;
  rejections: Array<{ segment: number; provider: string; check: string }>;
  payments: {
    providers: Array<{ provider: string; seconds: number; amount: string }>;
    coordinatorFee: string;
    treasuryFee: string;
    refund: string;
    deposit: string;
  };
  video: { file: string; frames: number } | null;
}

/** The one job directory under `out` (the CLI writes `<out>/<jobId>/`). */
export function readManifest(out: string): { dir: string; manifest: ManifestLite } {
  const dirs = readdirSync(out).filter((d) => existsSync(join(out, d, "manifest.json")));
  if (dirs.length !== 1) throw new Error(`expected one job under ${out}, found ${dirs.length}`);
  const dir = join(out, dirs[0]!);
  return { dir, manifest: JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as ManifestLite };
}

export function chain(dev: DevNetwork) {
  const provider = new JsonRpcProvider(dev.rpcUrl, Network.from(dev.chainId), { staticNetwork: true, cacheTimeout: -1 });
  const deployment = JSON.parse(readFileSync(dev.deploymentFile, "utf8")) as { escrow: string; token: string; policy: string };
  return {
    provider,
    escrow: new Contract(deployment.escrow, jobEscrowAbi, provider),
    token: new Contract(deployment.token, meshTokenAbi, provider),
    policy: new Contract(deployment.policy, contentPolicyAbi, provider),
    deployment,
  };
}

/**
 * Asks `fn` at once and again at each new block (the dev network mines one a second, and pushes each over its
 * WebSocket subscription) until it returns a value: for state the chain moves (claims, refunds) or that a service
 * updates as blocks come (an HTTP API). No timer and no deadline of its own: only the test's timeout ends it.
 * `what` says what is awaited, for the reader.
 */
export function askEachBlock<T>(dev: DevNetwork, _what: string, fn: () => Promise<T | undefined>): Promise<T> {
  return untilChain(dev.rpcUrl, "block", fn);
}
