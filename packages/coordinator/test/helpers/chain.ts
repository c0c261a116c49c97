import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HDNodeWallet, JsonRpcProvider, Mnemonic, NonceManager, Wallet, type Signer } from "ethers";
import { termHash, type JobSpec, specHash } from "@rendermesh/shared";
import { connectContracts, parseDeployment, type Deployment, type RendermeshContracts } from "@rendermesh/shared/chain";
import { peerIdBytes } from "@rendermesh/shared/net";
import type { PeerId } from "@libp2p/interface";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../../..");
const MNEMONIC = "test test test test test test test test test test test junk";
export const MESH = 10n ** 18n;

export function account(i: number): Wallet {
  const w = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(MNEMONIC), `m/44'/60'/0'/0/${i}`);
  return new Wallet(w.privateKey);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForRpc(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`hardhat node exited: ${log()}`);
    try {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`hardhat node did not start: ${log()}`);
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" } });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${args.join(" ")} failed (${code}): ${out}`))));
  });
}

export interface TestChain {
  rpcUrl: string;
  deployment: Deployment;
  provider: JsonRpcProvider;
  deployer: Signer;
  contracts: RendermeshContracts;
  model: string;
  blockedTerm: string;
  stop(): Promise<void>;
}

/**
 * A real Hardhat node (its own port and chain id) with the Rendermesh
 * contracts deployed by `scripts/deploy.ts`: one allowed model, one blocked term.
 */
export async function startChain(opts: { model: string; blockedTerm: string }): Promise<TestChain> {
  const port = await freePort();
  const chainId = 50_000 + Math.floor(Math.random() * 9_000);
  const hardhat = join(root, "node_modules", "hardhat", "dist", "src", "cli.js");
  const child = spawn(process.execPath, [hardhat, "node", "--port", String(port), "--chain-id", String(chainId)], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" },
  });
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  child.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const rpcUrl = `http://127.0.0.1:${port}`;
  const out = mkdtempSync(join(tmpdir(), "rm-deploy-"));
  try {
    await waitForRpc(rpcUrl, child, () => log);
    await run(process.execPath, [
      join(root, "scripts", "deploy.ts"), "--rpc-url", rpcUrl, "--dev", "--fresh", "--confirmations", "1", "--out", out, "--quiet",
      "--model", opts.model, "--blocked-term", termHash(opts.blockedTerm), "--min-stake", "100",
    ]);
    const deployment = parseDeployment(JSON.parse(readFileSync(join(out, `${chainId}.json`), "utf8")));
    rmSync(join(root, "contracts", "ignition", "deployments", `chain-${chainId}`), { recursive: true, force: true });
    const provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true, pollingInterval: 200, cacheTimeout: -1 });
    const deployer = new NonceManager(account(0).connect(provider));
    return {
      rpcUrl,
      deployment,
      provider,
      deployer,
      contracts: connectContracts(deployer, deployment),
      model: opts.model,
      blockedTerm: opts.blockedTerm,
      stop: async () => {
        provider.destroy();
        child.kill("SIGKILL");
        rmSync(out, { recursive: true, force: true });
      },
    };
  } catch (err) {
    child.kill("SIGKILL");
    rmSync(out, { recursive: true, force: true });
    throw err;
  }
}

/** Funds `who` with MESH from the deployer. */
export async function fund(chain: TestChain, who: string, amount: bigint): Promise<void> {
  await (await chain.contracts.token.transfer(who, amount)).wait();
}

/** Registers and stakes a provider for `peerId`. */
export async function registerProvider(chain: TestChain, wallet: Wallet, peerId: PeerId, askPerSecond: bigint): Promise<void> {
  await fund(chain, wallet.address, 1000n * MESH);
  await (await chain.deployer.sendTransaction({ to: wallet.address, value: 10n ** 18n })).wait();
  const signer = new NonceManager(wallet.connect(chain.provider));
  const c = connectContracts(signer, chain.deployment);
  await (await c.token.approve(chain.deployment.registry, 500n * MESH)).wait();
  await (await c.registry.register(peerIdBytes(peerId), askPerSecond, [chain.model], 500n * MESH)).wait();
}

/** Opens a job on the escrow as `client`; returns its id. */
export async function openJob(chain: TestChain, client: Wallet, spec: JobSpec, coordinator: string, pricePerSecond: bigint, opts: { deadlineSeconds?: number; specHashOverride?: string } = {}): Promise<string> {
  const signer = new NonceManager(client.connect(chain.provider));
  const c = connectContracts(signer, chain.deployment);
  const deposit = pricePerSecond * BigInt(spec.seconds);
  await (await c.token.approve(chain.deployment.escrow, deposit)).wait();
  const block = await chain.provider.getBlock("latest");
  const deadline = BigInt(block!.timestamp + (opts.deadlineSeconds ?? 3600));
  const version = await c.policy.version();
  const tx = await c.escrow.openJob(opts.specHashOverride ?? specHash(spec), coordinator, spec.seconds, pricePerSecond, deadline, version);
  const receipt = await tx.wait();
  for (const log of receipt!.logs) {
    try {
      const parsed = c.escrow.interface.parseLog(log);
      if (parsed?.name === "JobOpened") return String(parsed.args[0]).toLowerCase();
    } catch {
      // another contract's log
    }
  }
  throw new Error("no JobOpened event");
}

export async function fundClient(chain: TestChain, client: Wallet): Promise<void> {
  await fund(chain, client.address, 10_000n * MESH);
  await (await chain.deployer.sendTransaction({ to: client.address, value: 10n ** 18n })).wait();
}
