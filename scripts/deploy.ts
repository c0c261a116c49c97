// Deploys the Rendermesh contracts with Hardhat Ignition to any JSON-RPC
// endpoint and writes deployments/<chainId>.json, which every package reads.
//
//   pnpm run deploy                              # to http://127.0.0.1:8545 (a `hardhat node`)
//   pnpm run deploy --dev --model 0x<sha256>     # short windows and voting periods for the dev network
//   pnpm run deploy --rpc-url https://… --private-key 0x… --params policy.json
//
// (`pnpm deploy` without `run` is pnpm's own command.)
//
// Every policy and governance value has a flag (`--help` lists them); a
// --params JSON file may set the same keys as the Ignition module
// (contracts/ignition/modules/Rendermesh.ts). Flags win over the file, the
// file over --dev, --dev over the module's production defaults.
//
// Also usable from other scripts: `import { deploy } from "./deploy.ts"`.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const MESH = 10n ** 18n;

/** Short windows and periods so a local network can run a whole job, dispute and vote in minutes. */
export const DEV_PARAMETERS: Record<string, bigint> = {
  timelockDelay: 60n,
  votingDelay: 1n,
  votingPeriod: 20n,
  disputeWindow: 60n,
  claimWindow: 120n,
  unstakeCooldown: 60n,
  minProviderStake: 100n * MESH,
};

export interface DeployOptions {
  /** JSON-RPC endpoint; default $RENDERMESH_RPC_URL or http://127.0.0.1:8545. */
  rpcUrl?: string;
  /** Deployer key; default the node's first unlocked account (as `hardhat node` has). */
  privateKey?: string;
  /** Ignition module parameters (see the module); bigints may be given as decimal strings. */
  parameters?: Record<string, unknown>;
  /** Start from the `--dev` preset. */
  dev?: boolean;
  /** Directory of the deployment files; default <repo>/deployments. */
  outDir?: string;
  /** Forget an earlier Ignition journal for this chain and deploy anew. */
  fresh?: boolean;
  /** Ignition deployment id (journal folder under `<journalDir>/deployments`); default `chain-<chainId>`. */
  deploymentId?: string;
  /**
   * Ignition's working dir: the journal goes to `<journalDir>/deployments/<id>`
   * (default contracts/ignition). Tests and throwaway networks give a temp dir
   * so nothing is left in the repo.
   */
  journalDir?: string;
  /** Blocks to wait for each transaction; default 1 on dev chains (31337, 1337), else 5. */
  confirmations?: number;
  /** Show Ignition's progress output. */
  verbose?: boolean;
  /** On a non-dev chain, allow an arbiter without code (an EOA: one key that can pay or slash any dispute). */
  allowEoaArbiter?: boolean;
  /** On a non-dev chain, allow the deployer to receive the whole MESH supply. */
  allowDeployerSupply?: boolean;
}

/** What `checkProductionRoles` needs to know about a deployment before it is sent. */
export interface RolesToCheck {
  chainId: number;
  deployer: string;
  arbiter: string;
  /** The arbiter's code on the chain ("0x" for an EOA). */
  arbiterCode: string;
  tokenHolder: string;
  /** A `--dev` deployment (a local or test network by the caller's word): not checked. */
  dev?: boolean | undefined;
  allowEoaArbiter?: boolean | undefined;
  allowDeployerSupply?: boolean | undefined;
}

/**
 * On a chain other than a dev chain (31337, 1337, or any chain deployed with `--dev`), refuses to make an EOA the arbiter (the arbiter pays or slashes every disputed
 * claim: it should be a contract the DAO controls, such as a multisig running rendermesh-arbiter's decisions) or to
 * give the deployer the whole supply, unless told so explicitly. Returns the reasons refused (empty: fine).
 */
export function checkProductionRoles(r: RolesToCheck): string[] {
  if (r.dev || DEV_CHAINS.has(r.chainId)) return [];
  const problems: string[] = [];
  if ((r.arbiterCode === "0x" || r.arbiterCode === "") && !r.allowEoaArbiter) {
    problems.push(
      `the arbiter ${r.arbiter} has no code (an EOA${r.arbiter.toLowerCase() === r.deployer.toLowerCase() ? ", the deployer" : ""}): pass --arbiter <contract> (e.g. a multisig), or --allow-eoa-arbiter`,
    );
  }
  if (r.tokenHolder.toLowerCase() === r.deployer.toLowerCase() && !r.allowDeployerSupply) {
    problems.push(
      `the deployer ${r.deployer} would receive the whole MESH supply: pass --holder <address> (e.g. a vesting or treasury contract), or --allow-deployer-supply`,
    );
  }
  return problems;
}

export interface DeploymentRecord {
  chainId: number;
  token: string;
  registry: string;
  escrow: string;
  policy: string;
  governor: string;
  timelock: string;
  startBlock: number;
}

const DEV_CHAINS = new Set([31337, 1337]);
const NUMERIC = /^[0-9]+$/;

function normaliseParameters(input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    out[key] = typeof value === "string" && NUMERIC.test(value) ? BigInt(value) : typeof value === "number" ? BigInt(value) : value;
  }
  return out;
}

/** Deploys (or resumes a deployment) and writes `<outDir>/<chainId>.json`; returns what it wrote. */
export async function deploy(options: DeployOptions = {}): Promise<DeploymentRecord> {
  const rpcUrl = options.rpcUrl ?? process.env.RENDERMESH_RPC_URL ?? "http://127.0.0.1:8545";
  // Hardhat resolves its config (and so `paths.ignition`) from the working directory.
  process.chdir(root);
  const { default: RendermeshModule } = await import("../contracts/ignition/modules/Rendermesh.ts");
  const network = await hardhatNetwork(options.journalDir);
  const connection = await network.create({
    network: "localhost",
    override: { url: rpcUrl, ...(options.privateKey ? { accounts: [options.privateKey] } : {}) },
  });
  try {
    const { ethers, ignition } = connection;
    const chainId = Number((await ethers.provider.getNetwork()).chainId);
    const deploymentId = options.deploymentId ?? `chain-${chainId}`;
    const journalDir = join(options.journalDir ?? join(root, "contracts/ignition"), "deployments", deploymentId);
    await dropStaleJournal(journalDir, chainId, options.fresh ?? false, ethers.provider);
    const resumed = existsSync(journalDir);
    const blockBefore = await ethers.provider.getBlockNumber();

    const parameters = normaliseParameters({ ...(options.dev ? DEV_PARAMETERS : {}), ...options.parameters });
    const deployer = (await ethers.getSigners())[0]!.address;
    const arbiter = typeof parameters.arbiter === "string" ? parameters.arbiter : deployer;
    const problems = checkProductionRoles({
      chainId,
      deployer,
      arbiter,
      arbiterCode: await ethers.provider.getCode(arbiter),
      tokenHolder: typeof parameters.tokenHolder === "string" ? parameters.tokenHolder : deployer,
      dev: options.dev,
      allowEoaArbiter: options.allowEoaArbiter,
      allowDeployerSupply: options.allowDeployerSupply,
    });
    if (problems.length > 0) throw new Error(`refusing to deploy to chain ${chainId}: ${problems.join("; ")}`);
    const result = await ignition.deploy(RendermeshModule, {
      parameters: { Rendermesh: parameters as never },
      deploymentId,
      displayUi: options.verbose ?? false,
      config: { requiredConfirmations: options.confirmations ?? (DEV_CHAINS.has(chainId) ? 1 : 5) },
    });
    const address = (c: { getAddress(): Promise<string> }) => c.getAddress();
    const record: DeploymentRecord = {
      chainId,
      token: await address(result.token),
      registry: await address(result.registry),
      escrow: await address(result.escrow),
      policy: await address(result.policy),
      governor: await address(result.governor),
      timelock: await address(result.timelock),
      startBlock: blockBefore + 1,
    };
    if (resumed) record.startBlock = await firstCodeBlock(ethers.provider, [record.token, record.timelock], blockBefore);

    const outDir = options.outDir ?? join(root, "deployments");
    mkdirSync(outDir, { recursive: true });
    writeFileSync(join(outDir, `${chainId}.json`), `${JSON.stringify(record, null, 2)}\n`);
    return record;
  } finally {
    await connection.close();
  }
}

/**
 * Hardhat's network manager; with `journalDir`, one of a runtime whose
 * Ignition path is `journalDir` (Ignition writes journals to
 * `<paths.ignition>/deployments/<id>`).
 */
async function hardhatNetwork(journalDir: string | undefined) {
  if (journalDir === undefined) return (await import("hardhat")).network;
  const [{ createHardhatRuntimeEnvironment }, { default: config }] = await Promise.all([
    import("hardhat/hre"),
    import("../hardhat.config.ts"),
  ]);
  const hre = await createHardhatRuntimeEnvironment({ ...config, paths: { ...config.paths, ignition: journalDir } }, {}, root);
  return hre.network;
}

interface CodeReader {
  getCode(address: string, blockTag?: number): Promise<string>;
}

/**
 * A journal from an earlier chain (a restarted `hardhat node` keeps chain id
 * 31337) would make Ignition "resume" into contracts that do not exist: drop it
 * on dev chains, refuse elsewhere.
 */
async function dropStaleJournal(dir: string, chainId: number, fresh: boolean, provider: CodeReader): Promise<void> {
  if (!existsSync(dir)) return;
  let stale = fresh;
  const addressesFile = join(dir, "deployed_addresses.json");
  if (!stale && existsSync(addressesFile)) {
    const addresses = Object.values(JSON.parse(readFileSync(addressesFile, "utf8")) as Record<string, string>);
    for (const a of addresses) {
      if ((await provider.getCode(a)) === "0x") {
        stale = true;
        break;
      }
    }
  }
  if (!stale) return;
  if (!fresh && !DEV_CHAINS.has(chainId)) {
    throw new Error(
      `The Ignition journal ${dir} names contracts that chain ${chainId} does not have. Move it away, or pass --fresh to deploy anew.`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
}

/** The first block at which any of `addresses` has code (binary search; 0 if the node cannot tell). */
async function firstCodeBlock(provider: CodeReader, addresses: string[], latest: number): Promise<number> {
  let first = latest;
  for (const a of addresses) {
    try {
      let lo = 0;
      let hi = latest;
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2);
        if ((await provider.getCode(a, mid)) === "0x") lo = mid + 1;
        else hi = mid;
      }
      first = Math.min(first, lo);
    } catch {
      return 0;
    }
  }
  return first;
}

// ------------------------------------------------------------------ CLI

const FLAGS = {
  "rpc-url": { type: "string", help: "JSON-RPC URL (default $RENDERMESH_RPC_URL or http://127.0.0.1:8545)" },
  "private-key": { type: "string", help: "deployer key (default $RENDERMESH_DEPLOYER_KEY, else the node's first account)" },
  params: { type: "string", help: "JSON file of Ignition module parameters" },
  dev: { type: "boolean", help: "short windows and voting periods for a local network" },
  out: { type: "string", help: "directory for <chainId>.json (default <repo>/deployments)" },
  fresh: { type: "boolean", help: "forget an earlier Ignition journal for this chain" },
  "journal-dir": { type: "string", help: "Ignition dir; journals go to <dir>/deployments (default contracts/ignition)" },
  confirmations: { type: "string", help: "blocks to wait per transaction" },
  quiet: { type: "boolean", help: "no progress output" },
  model: { type: "string", multiple: true, help: "allowed model hash (sha256 of the ONNX bytes, 0x…); repeatable" },
  "blocked-term": { type: "string", multiple: true, help: "blocked term hash (keccak256 of the normalised term, 0x…); repeatable" },
  holder: { type: "string", help: "who receives the whole MESH supply (default the deployer)" },
  supply: { type: "string", help: "MESH supply, whole tokens (default 1000000000)" },
  arbiter: { type: "string", help: "dispute arbiter (default the deployer; on a non-dev chain it must be a contract)" },
  "allow-eoa-arbiter": { type: "boolean", help: "on a non-dev chain, allow an arbiter without code (an EOA)" },
  "allow-deployer-supply": { type: "boolean", help: "on a non-dev chain, allow the deployer to receive the whole supply" },
  "max-seconds": { type: "string", help: "longest job in seconds" },
  "max-width": { type: "string", help: "widest frame in pixels" },
  "max-height": { type: "string", help: "tallest frame in pixels" },
  "max-fps": { type: "string", help: "highest frame rate" },
  "min-stake": { type: "string", help: "minimum provider stake, whole MESH (decimals allowed)" },
  "coordinator-fee-bps": { type: "string", help: "coordinator fee in basis points" },
  "treasury-fee-bps": { type: "string", help: "treasury fee in basis points" },
  "dispute-window": { type: "string", help: "seconds a client has to dispute a claim" },
  "claim-window": { type: "string", help: "seconds after a job's deadline during which providers may claim" },
  "unstake-cooldown": { type: "string", help: "seconds between requestUnstake and withdrawStake" },
  "voting-delay": { type: "string", help: "blocks between a proposal and its vote" },
  "voting-period": { type: "string", help: "blocks a vote lasts" },
  "timelock-delay": { type: "string", help: "seconds between queue and execute" },
  "quorum-percent": { type: "string", help: "quorum, percent of the supply" },
  "proposal-threshold": { type: "string", help: "votes needed to propose, whole MESH" },
  help: { type: "boolean", help: "show this help" },
} as const;

/** Flag → module parameter, and how its value is read. */
const PARAMETER_FLAGS: Record<string, [string, (v: string) => unknown]> = {
  holder: ["tokenHolder", String],
  supply: ["tokenSupply", (v) => parseMesh(v)],
  arbiter: ["arbiter", String],
  "max-seconds": ["maxSeconds", BigInt],
  "max-width": ["maxWidth", BigInt],
  "max-height": ["maxHeight", BigInt],
  "max-fps": ["maxFps", BigInt],
  "min-stake": ["minProviderStake", (v) => parseMesh(v)],
  "coordinator-fee-bps": ["coordinatorFeeBps", BigInt],
  "treasury-fee-bps": ["treasuryFeeBps", BigInt],
  "dispute-window": ["disputeWindow", BigInt],
  "claim-window": ["claimWindow", BigInt],
  "unstake-cooldown": ["unstakeCooldown", BigInt],
  "voting-delay": ["votingDelay", BigInt],
  "voting-period": ["votingPeriod", BigInt],
  "timelock-delay": ["timelockDelay", BigInt],
  "quorum-percent": ["quorumPercent", BigInt],
  "proposal-threshold": ["proposalThreshold", (v) => parseMesh(v)],
};

/** "1.5" MESH → 1500000000000000000n. */
export function parseMesh(value: string): bigint {
  const match = /^([0-9]+)(?:\.([0-9]{1,18}))?$/.exec(value);
  if (!match) throw new Error(`"${value}" is not an amount of MESH (e.g. 100 or 0.5)`);
  return BigInt(match[1]!) * MESH + BigInt((match[2] ?? "").padEnd(18, "0") || "0");
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: FLAGS as never, strict: true, allowPositionals: false });
  const flags = values as Record<string, string | string[] | boolean | undefined>;
  if (flags.help) {
    console.log("usage: node scripts/deploy.ts [flags]\n");
    for (const [name, spec] of Object.entries(FLAGS)) console.log(`  --${name.padEnd(22)} ${spec.help}`);
    return;
  }
  const parameters: Record<string, unknown> = flags.params
    ? (JSON.parse(readFileSync(String(flags.params), "utf8")) as Record<string, unknown>)
    : {};
  for (const [flag, [name, read]] of Object.entries(PARAMETER_FLAGS)) {
    if (flags[flag] !== undefined) parameters[name] = read(String(flags[flag]));
  }
  if (flags.model) parameters.allowedModels = flags.model;
  if (flags["blocked-term"]) parameters.blockedTerms = flags["blocked-term"];

  const record = await deploy({
    rpcUrl: flags["rpc-url"] as string | undefined,
    privateKey: (flags["private-key"] as string | undefined) ?? process.env.RENDERMESH_DEPLOYER_KEY,
    parameters,
    dev: Boolean(flags.dev),
    outDir: flags.out as string | undefined,
    fresh: Boolean(flags.fresh),
    journalDir: flags["journal-dir"] as string | undefined,
    confirmations: flags.confirmations === undefined ? undefined : Number(flags.confirmations),
    verbose: !flags.quiet,
    allowEoaArbiter: Boolean(flags["allow-eoa-arbiter"]),
    allowDeployerSupply: Boolean(flags["allow-deployer-supply"]),
  });
  const outDir = (flags.out as string | undefined) ?? join(root, "deployments");
  console.log(`\nRendermesh deployed on chain ${record.chainId} (from block ${record.startBlock}):`);
  for (const key of ["token", "policy", "registry", "escrow", "governor", "timelock"] as const) {
    console.log(`  ${key.padEnd(9)} ${record[key]}`);
  }
  console.log(`wrote ${join(outDir, `${record.chainId}.json`)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err: unknown) => {
    console.error(`deploy failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
