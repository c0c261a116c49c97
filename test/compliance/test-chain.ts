// A throwaway local chain for tests: a real `hardhat node` on 127.0.0.1 (any
// free port) with the Rendermesh contracts deployed straight from the Hardhat
// artifacts (run `pnpm build` or `hardhat compile` first). Unlike the
// Ignition deploy, the content policy is owned by the deployer account, so a
// test can change it at once instead of through a DAO vote. Used by the render
// provider compliance suite and the provider's tests; any package may use it.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { specHash, type JobSpec } from "@rendermesh/shared";
import { connectContracts, eip712Domain, signAssignment, signVoucher, type Deployment, type RendermeshContracts, type RendermeshDomain } from "@rendermesh/shared/chain";
import { ContractFactory, HDNodeWallet, JsonRpcProvider, Mnemonic, NonceManager, Wallet, type Signer } from "ethers";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const MESH = 10n ** 18n;
/** Hardhat's well-known development mnemonic: test keys only. */
const MNEMONIC = "test test test test test test test test test test test junk";

export interface TestChainOptions {
  /** Model ids the policy allows. */
  allowedModels: string[];
  /** keccak256 hashes of normalised blocked terms (`termHash`). */
  blockedTerms?: string[];
  minProviderStake?: bigint;
  disputeWindow?: bigint;
  claimWindow?: bigint;
  unstakeCooldown?: bigint;
  coordinatorFeeBps?: number;
  treasuryFeeBps?: number;
}

export interface OpenJobOptions {
  spec: JobSpec;
  pricePerSecond?: bigint;
  /** Seconds from the chain's now (default 3600). */
  deadlineIn?: number;
  coordinator?: string;
  client?: Wallet;
}

export interface TestChain {
  rpcUrl: string;
  chainId: number;
  deployment: Deployment;
  /** A deployment file for `--deployment`. */
  deploymentFile: string;
  provider: JsonRpcProvider;
  /** Connected to the deployer (who owns the policy and holds the tokens). */
  contracts: RendermeshContracts;
  domain: RendermeshDomain;
  deployer: Wallet;
  coordinator: Wallet;
  client: Wallet;
  /** Funded accounts a test may use as providers (index 3.. of the mnemonic). */
  providers: Wallet[];
  /** Sends `amount` MESH base units (and some ETH) to `address`. */
  fund(address: string, amount: bigint): Promise<void>;
  /** Opens and funds a job; returns its id and the block it was opened in. */
  openJob(options: OpenJobOptions): Promise<{ jobId: `0x${string}`; block: number; deadline: number }>;
  /** Closes a job at once (the client settles it paying nobody): it is no longer open. */
  closeJob(jobId: string, client?: Wallet): Promise<void>;
  /** A coordinator's signature over an assignment. */
  signAssignment(assignment: { jobId: string; segment: number; firstFrame: number; frameCount: number; provider: string; deadline: number }, signer?: Signer): Promise<`0x${string}`>;
  signVoucher(voucher: { jobId: string; provider: string; seconds: number }, signer?: Signer): Promise<`0x${string}`>;
  /** Moves chain time forward and mines a block. */
  increaseTime(seconds: number): Promise<void>;
  chainTime(): Promise<number>;
  stop(): Promise<void>;
}

function account(index: number, provider: JsonRpcProvider): Wallet {
  const hd = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(MNEMONIC), `m/44'/60'/0'/0/${index}`);
  return new Wallet(hd.privateKey, provider);
}

function artifact(name: string): { abi: unknown[]; bytecode: string } {
  const path = join(root, "artifacts", "contracts", "src", `${name}.sol`, `${name}.json`);
  try {
    return JSON.parse(readFileSync(path, "utf8")) as { abi: unknown[]; bytecode: string };
  } catch (cause) {
    throw new Error(`Missing contract artifact ${path}: run \`pnpm exec hardhat compile\` first.`, { cause });
  }
}

async function startHardhatNode(): Promise<{ child: ChildProcess; url: string }> {
  const cli = join(root, "node_modules", "hardhat", "dist", "src", "cli.js");
  const child = spawn(process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", "0"], {
    cwd: root,
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`hardhat node did not start within 120 s:\n${output.slice(-2000)}`)), 120_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /Started HTTP and WebSocket JSON-RPC server at (http:\/\/[0-9.]+:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`hardhat node exited with ${code}:\n${output.slice(-2000)}`));
    });
  });
  // Keep draining its output so the pipe never fills up.
  child.stdout!.resume();
  child.stderr!.resume();
  return { child, url };
}

/** Starts a hardhat node, deploys the contracts and funds the test accounts. */
export async function startTestChain(options: TestChainOptions): Promise<TestChain> {
  const { child, url } = await startHardhatNode();
  const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
  const dir = mkdtempSync(join(tmpdir(), "rm-chain-"));
  const stop = async () => {
    provider.destroy();
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const chainId = Number((await provider.getNetwork()).chainId);
    const deployer = account(0, provider);
    const coordinator = account(1, provider);
    const client = account(2, provider);
    const providers = [3, 4, 5, 6].map((i) => account(i, provider));
    const sender = new NonceManager(deployer);
    const startBlock = (await provider.getBlockNumber()) + 1;

    const deployContract = async (name: string, args: unknown[]) => {
      const a = artifact(name);
      const c = await new ContractFactory(a.abi as never, a.bytecode, sender).deploy(...args);
      await c.waitForDeployment();
      return c.getAddress();
    };
    const token = await deployContract("MeshToken", [deployer.address, 1_000_000_000n * MESH]);
    const policy = await deployContract("ContentPolicy", [
      deployer.address,
      {
        allowedModels: options.allowedModels,
        blockedTerms: options.blockedTerms ?? [],
        maxSeconds: 600,
        maxWidth: 1920,
        maxHeight: 1080,
        maxFps: 60,
        minProviderStake: options.minProviderStake ?? 100n * MESH,
        coordinatorFeeBps: options.coordinatorFeeBps ?? 500,
        treasuryFeeBps: options.treasuryFeeBps ?? 100,
        disputeWindow: options.disputeWindow ?? 60n,
        claimWindow: options.claimWindow ?? 600n,
        arbiter: deployer.address,
        treasury: deployer.address,
      },
    ]);
    const escrow = await deployContract("JobEscrow", [token, policy, options.unstakeCooldown ?? 60n]);
    const connectedEscrow = connectContracts(provider, { token, policy, registry: escrow, escrow, governor: deployer.address, timelock: deployer.address }).escrow;
    const registry = await connectedEscrow.registry();
    const deployment: Deployment = { chainId, token, registry, escrow, policy, governor: deployer.address, timelock: deployer.address, startBlock };
    const deploymentFile = join(dir, `${chainId}.json`);
    writeFileSync(deploymentFile, `${JSON.stringify(deployment, null, 2)}\n`);
    const contracts = connectContracts(sender, deployment);
    const domain = eip712Domain(chainId, escrow);

    const fund = async (address: string, amount: bigint) => {
      await (await contracts.token.transfer(address, amount)).wait();
      if ((await provider.getBalance(address)) < 10n ** 18n) await (await sender.sendTransaction({ to: address, value: 10n ** 19n })).wait();
    };
    await fund(client.address, 1_000_000n * MESH);
    for (const p of providers) await fund(p.address, 10_000n * MESH);

    const chainTime = async () => (await provider.getBlock("latest"))!.timestamp;

    return {
      rpcUrl: url,
      chainId,
      deployment,
      deploymentFile,
      provider,
      contracts,
      domain,
      deployer,
      coordinator,
      client,
      providers,
      fund,
      async openJob(o) {
        const who = o.client ?? client;
        const c = connectContracts(who, deployment);
        const price = o.pricePerSecond ?? MESH;
        const deposit = price * BigInt(o.spec.seconds);
        await (await c.token.approve(escrow, deposit)).wait();
        const version = await c.policy.version();
        const deadline = (await chainTime()) + (o.deadlineIn ?? 3600);
        const receipt = (await (await c.escrow.openJob(specHash(o.spec), o.coordinator ?? coordinator.address, o.spec.seconds, price, deadline, version)).wait())!;
        const log = receipt.logs.map((l) => c.escrow.interface.parseLog(l)).find((l) => l?.name === "JobOpened");
        if (!log) throw new Error("openJob emitted no JobOpened event");
        return { jobId: log.args.jobId as `0x${string}`, block: receipt.blockNumber, deadline };
      },
      async closeJob(jobId, who = client) {
        const c = connectContracts(who, deployment);
        await (await c.escrow.settle(jobId, [], [])).wait();
      },
      signAssignment: (a, signer = coordinator) => signAssignment(signer, domain, a),
      signVoucher: (v, signer = client) => signVoucher(signer, domain, v),
      async increaseTime(seconds) {
        await provider.send("evm_increaseTime", [seconds]);
        await provider.send("evm_mine", []);
      },
      chainTime,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
