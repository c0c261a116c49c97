import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Contract, JsonRpcProvider, Network, NonceManager, Wallet } from "ethers";

/**
 * A real Hardhat node on 127.0.0.1 for the DAO tests, started as a child
 * process on a free port, plus the Rendermesh contracts deployed on it.
 */

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Hardhat's well-known test keys (accounts #0–#5). */
export const KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
] as const;

export interface LocalChain {
  rpcUrl: string;
  chainId: number;
  provider: JsonRpcProvider;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => ok(port));
    });
  });
}

async function rpcAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }) });
    return res.ok;
  } catch {
    return false;
  }
}

/**
 * Starts `hardhat node` on a free port and waits until it answers JSON-RPC.
 * Each node gets its own chain id, so the Ignition journals that
 * `scripts/deploy.ts` keeps per chain id never collide between test files.
 */
export async function startHardhatNode(chainId = 100_000 + Math.floor(Math.random() * 900_000)): Promise<LocalChain> {
  const port = await freePort();
  const rpcUrl = `http://127.0.0.1:${port}`;
  const cli = join(REPO_ROOT, "node_modules", "hardhat", "dist", "src", "cli.js");
  const child: ChildProcess = spawn(process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId)], {
    cwd: REPO_ROOT,
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  const started = Date.now();
  while (!(await rpcAnswers(rpcUrl))) {
    if (child.exitCode !== null) throw new Error(`hardhat node exited with ${child.exitCode}:\n${output}`);
    if (Date.now() - started > 60_000) {
      child.kill("SIGKILL");
      throw new Error(`hardhat node did not answer on ${rpcUrl} within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const provider = new JsonRpcProvider(rpcUrl, Network.from(chainId), { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  return {
    rpcUrl,
    chainId,
    provider,
    stop: async () => {
      provider.destroy();
      if (child.exitCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

export interface TestDeployment {
  deployment: { chainId: number; token: string; registry: string; escrow: string; policy: string; governor: string; timelock: string; startBlock: number };
  deploymentFile: string;
  /** Temp dir with the deployment file, a dev network file (`dev.json`) and room for client data dirs. */
  dir: string;
  /** #1–#3: DAO members with MEMBER_BALANCE each (not yet delegated). */
  members: Wallet[];
  /** #4: holds OUTSIDER_BALANCE, never delegates. */
  outsider: Wallet;
  deployer: Wallet;
  modelId: string;
  cleanup(): void;
}

const MESH = 10n ** 18n;
/** Supply 1e9 MESH, quorum 4 % = 40M: one member (20M) misses quorum, three (60M) pass. */
export const MEMBER_BALANCE = 20_000_000n * MESH;
export const OUTSIDER_BALANCE = 5_000_000n * MESH;
export const PROPOSAL_THRESHOLD = 1000n * MESH;
export const MODEL_ID = `0x${"ab".repeat(32)}`;

/**
 * Deploys the Rendermesh contracts with `scripts/deploy.ts --dev` (short
 * voting delay, period and timelock delay), a proposal threshold of 1000
 * MESH, and hands MESH to three DAO members and an outsider. Writes the
 * deployment file and a dev network file into a temp dir.
 */
export async function deployDao(chain: LocalChain): Promise<TestDeployment> {
  const dir = mkdtempSync(join(tmpdir(), "rendermesh-dao-"));
  const cleanup = () => {
    rmSync(dir, { recursive: true, force: true });
    // deploy.ts keeps an Ignition journal per chain id; this test's chain id is its own.
    rmSync(join(REPO_ROOT, "contracts", "ignition", "deployments", `chain-${chain.chainId}`), { recursive: true, force: true });
  };
  try {
    return await deployInto(chain, dir, cleanup);
  } catch (err) {
    cleanup();
    throw err;
  }
}

async function deployInto(chain: LocalChain, dir: string, cleanup: () => void): Promise<TestDeployment> {
  const deployer = new Wallet(KEYS[0], chain.provider);
  await runDeployScript([
    "--rpc-url", chain.rpcUrl,
    "--private-key", KEYS[0],
    "--dev",
    "--out", dir,
    "--quiet",
    "--confirmations", "1",
    "--model", MODEL_ID,
    "--proposal-threshold", "1000",
  ]);
  const deploymentFile = join(dir, `${chain.chainId}.json`);
  const deployment = JSON.parse(readFileSync(deploymentFile, "utf8")) as TestDeployment["deployment"];

  const members = [KEYS[1], KEYS[2], KEYS[3]].map((k) => new Wallet(k, chain.provider));
  const outsider = new Wallet(KEYS[4], chain.provider);
  const mesh = new Contract(deployment.token, ["function transfer(address,uint256) returns (bool)"], new NonceManager(deployer));
  for (const m of members) await (await mesh.getFunction("transfer")(m.address, MEMBER_BALANCE)).wait();
  await (await mesh.getFunction("transfer")(outsider.address, OUTSIDER_BALANCE)).wait();

  const account = (w: Wallet) => ({ address: w.address, privateKey: w.privateKey });
  writeFileSync(
    join(dir, "dev.json"),
    JSON.stringify({
      rpcUrl: chain.rpcUrl,
      chainId: chain.chainId,
      deploymentFile,
      coordinator: { address: deployer.address, peerId: "12D3KooWtest", multiaddrs: [], httpUrl: "http://127.0.0.1:1", dataDir: dir },
      providers: [],
      accounts: { deployer: account(deployer), client: account(new Wallet(KEYS[5])), coordinator: account(deployer), providers: [], dao: members.map(account) },
      startedAt: new Date().toISOString(),
    }),
  );
  return {
    deployment,
    deploymentFile,
    dir,
    members,
    outsider,
    deployer,
    modelId: MODEL_ID,
    cleanup,
  };
}

async function runDeployScript(args: string[]): Promise<void> {
  const child = spawn(process.execPath, [join(REPO_ROOT, "scripts", "deploy.ts"), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((ok) => child.once("exit", (c) => ok(c)));
  if (code !== 0) throw new Error(`scripts/deploy.ts failed (exit ${code}):\n${output}`);
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T;
}

const CLI_ENV = ["RENDERMESH_DEV_FILE", "RENDERMESH_DATA_DIR", "RENDERMESH_PRIVATE_KEY", "RENDERMESH_RPC_URL", "RENDERMESH_DEPLOYMENT", "RENDERMESH_KEYSTORE", "RENDERMESH_CONFIG"];

/**
 * Runs `rendermesh …` in-process, as the CLI entry does, with the given
 * RENDERMESH_* environment (every other RENDERMESH_* chain/wallet variable
 * unset), capturing stdout, stderr and the exit code.
 */
export async function runCli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  const { main } = await import("../src/cli/index.js");
  const saved = new Map(CLI_ENV.map((k) => [k, process.env[k]]));
  for (const k of CLI_ENV) delete process.env[k];
  // No dev network unless the test gives one.
  process.env.RENDERMESH_DEV_FILE = join(tmpdir(), "rendermesh-no-dev-network.json");
  for (const [k, v] of Object.entries(env)) if (v !== undefined) process.env[k] = v;
  let stdout = "";
  let stderr = "";
  const sink = (append: (s: string) => void) =>
    ({ write: (chunk: string | Uint8Array) => (append(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString()), true), isTTY: false }) as unknown as NodeJS.WriteStream;
  const out = sink((s) => (stdout += s));
  const err = sink((s) => (stderr += s));
  const realWrite = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => out.write(chunk)) as typeof process.stdout.write;
  let code: number;
  try {
    code = await main(args, { stdout: out, stderr: err });
  } finally {
    process.stdout.write = realWrite;
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
}
