import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deployRendermesh, hardhatKey, startHardhatNode as startNode, tempDir, type HardhatNode } from "@rendermesh/testing";
import { Contract, NonceManager, Wallet } from "ethers";

/**
 * A real Hardhat node on 127.0.0.1 for the DAO tests (the toolkit's, on port
 * 0), plus the Rendermesh contracts deployed on it by the one deploy path.
 */

/** Hardhat's well-known test keys (accounts #0–#5). */
export const KEYS = [0, 1, 2, 3, 4, 5].map((i) => hardhatKey(i)) as [
  `0x${string}`,
  `0x${string}`,
  `0x${string}`,
  `0x${string}`,
  `0x${string}`,
  `0x${string}`,
];

export type LocalChain = Pick<HardhatNode, "rpcUrl" | "chainId" | "provider" | "stop">;

/** Starts `hardhat node` (its own chain id, so the dev-network rules are not assumed). */
export async function startHardhatNode(chainId = 100_337): Promise<LocalChain> {
  return startNode({ chainId });
}

export interface TestDeployment {
  deployment: {
    chainId: number;
    token: string;
    registry: string;
    escrow: string;
    policy: string;
    governor: string;
    timelock: string;
    startBlock: number;
  };
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
const OUTSIDER_BALANCE = 5_000_000n * MESH;
const PROPOSAL_THRESHOLD = 1000n * MESH;
export const MODEL_ID = `0x${"ab".repeat(32)}`;

/**
 * Deploys the Rendermesh contracts with `scripts/deploy.ts --dev` (short
 * voting delay, period and timelock delay), a proposal threshold of 1000
 * MESH, and hands MESH to three DAO members and an outsider. Writes the
 * deployment file and a dev network file into a temp dir.
 */
export async function deployDao(chain: LocalChain): Promise<TestDeployment> {
  const temp = tempDir("rendermesh-dao-");
  try {
    return await deployInto(chain, temp.dir, () => temp.cleanup());
  } catch (err) {
    temp.cleanup();
    throw err;
  }
}

async function deployInto(chain: LocalChain, dir: string, cleanup: () => void): Promise<TestDeployment> {
  const deployer = new Wallet(KEYS[0]!, chain.provider);
  mkdirSync(dir, { recursive: true });
  const { deploymentFile } = await deployRendermesh({
    rpcUrl: chain.rpcUrl,
    dir,
    privateKey: KEYS[0]!,
    parameters: { allowedModels: [MODEL_ID], proposalThreshold: PROPOSAL_THRESHOLD },
  });
  const deployment = JSON.parse(readFileSync(deploymentFile, "utf8")) as TestDeployment["deployment"];

  const members = [KEYS[1]!, KEYS[2]!, KEYS[3]!].map((k) => new Wallet(k, chain.provider));
  const outsider = new Wallet(KEYS[4]!, chain.provider);
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
      accounts: {
        deployer: account(deployer),
        client: account(new Wallet(KEYS[5]!)),
        coordinator: account(deployer),
        providers: [],
        dao: members.map(account),
      },
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

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (for --json runs). */
  json<T = Record<string, unknown>>(): T;
}

const CLI_ENV = [
  "RENDERMESH_DEV_FILE",
  "RENDERMESH_DATA_DIR",
  "RENDERMESH_PRIVATE_KEY",
  "RENDERMESH_RPC_URL",
  "RENDERMESH_DEPLOYMENT",
  "RENDERMESH_KEYSTORE",
  "RENDERMESH_CONFIG",
];

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
    ({
      write: (chunk: string | Uint8Array) => (append(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString()), true),
      isTTY: false,
    }) as unknown as NodeJS.WriteStream;
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
