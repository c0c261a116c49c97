import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { HDNodeWallet, JsonRpcProvider, Mnemonic, NonceManager, Wallet } from "ethers";
import { waitForReceipt } from "../../src/chain/tx.js";
import { termHash } from "@rendermesh/shared";
import { connectContracts, parseDeployment, type Deployment, type RendermeshContracts } from "@rendermesh/shared/chain";
import { peerIdBytes } from "@rendermesh/shared/net";
import { defaultModel } from "@rendermesh/shared/model";

export const root = join(dirname(fileURLToPath(import.meta.url)), "../../../..");
const MNEMONIC = "test test test test test test test test test test test junk";
export const MESH = 10n ** 18n;
export const BLOCKED_TERM = "forbidden";
export const COORDINATOR_FEE_BPS = 250;
export const TREASURY_FEE_BPS = 125;

/** Hardhat's well-known account `i` (funded with ETH on a `hardhat node`). */
export function account(i: number): Wallet {
  return new Wallet(HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(MNEMONIC), `m/44'/60'/0'/0/${i}`).privateKey);
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
  chainId: number;
  deployment: Deployment;
  deploymentFile: string;
  provider: JsonRpcProvider;
  deployer: NonceManager;
  contracts: RendermeshContracts;
  model: `0x${string}`;
  /** Moves the chain's clock forward (and mines a block). */
  increaseTime(seconds: number): Promise<void>;
  stop(): Promise<void>;
}

export interface TestNode {
  rpcUrl: string;
  chainId: number;
  provider: JsonRpcProvider;
  stop(): Promise<void>;
}

/** A bare Hardhat node on 127.0.0.1 (a free port; its own chain id unless given). */
export async function startNode(opts: { chainId?: number } = {}): Promise<TestNode> {
  const port = await freePort();
  const chainId = opts.chainId ?? 60_000 + Math.floor(Math.random() * 9_000);
  const hardhat = join(root, "node_modules", "hardhat", "dist", "src", "cli.js");
  const child = spawn(process.execPath, [hardhat, "node", "--hostname", "127.0.0.1", "--port", String(port), "--chain-id", String(chainId)], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true" },
  });
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  child.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const rpcUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForRpc(rpcUrl, child, () => log);
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }
  const provider = new JsonRpcProvider(rpcUrl, chainId, { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
  return {
    rpcUrl,
    chainId,
    provider,
    stop: async () => {
      provider.destroy();
      child.kill("SIGKILL");
    },
  };
}

/**
 * A real Hardhat node on 127.0.0.1 (own port, own chain id, so it never
 * touches the dev network's Ignition journal) with the Rendermesh contracts
 * deployed by `scripts/deploy.ts`: the default model allowed, "forbidden"
 * blocked, fees that do not divide prices evenly.
 */
export async function startChain(): Promise<TestChain> {
  const node = await startNode();
  const { rpcUrl, chainId, provider } = node;
  const out = mkdtempSync(join(tmpdir(), "rm-client-deploy-"));
  const model = defaultModel().manifest.id as `0x${string}`;
  try {
    await run(process.execPath, [
      join(root, "scripts", "deploy.ts"),
      ...["--rpc-url", rpcUrl, "--dev", "--fresh", "--confirmations", "1", "--out", out, "--quiet"],
      ...["--model", model, "--blocked-term", termHash(BLOCKED_TERM), "--min-stake", "100"],
      ...["--coordinator-fee-bps", String(COORDINATOR_FEE_BPS), "--treasury-fee-bps", String(TREASURY_FEE_BPS)],
    ]);
    const deploymentFile = join(out, `${chainId}.json`);
    const deployment = parseDeployment(JSON.parse(readFileSync(deploymentFile, "utf8")));
    const deployer = new NonceManager(account(0).connect(provider));
    return {
      rpcUrl,
      chainId,
      deployment,
      deploymentFile,
      provider,
      deployer,
      contracts: connectContracts(deployer, deployment),
      model,
      async increaseTime(seconds) {
        const latest = (await provider.send("eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
        await provider.send("evm_setNextBlockTimestamp", [Number(latest.timestamp) + seconds]);
        await provider.send("evm_mine", []);
      },
      stop: async () => {
        await node.stop();
        rmSync(out, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await node.stop();
    rmSync(out, { recursive: true, force: true });
    throw err;
  } finally {
    rmSync(join(root, "contracts", "ignition", "deployments", `chain-${chainId}`), { recursive: true, force: true });
  }
}

/** Sends `who` MESH from the deployer (who holds the supply). */
export async function fund(chain: TestChain, who: string, amount: bigint): Promise<void> {
  await mined(chain, chain.contracts.token.transfer(who, amount));
}

/** Waits for a sent transaction by polling its receipt (see `waitForReceipt`). */
export async function mined(chain: TestChain, sent: Promise<{ hash: string }>): Promise<void> {
  const { hash } = await sent;
  const receipt = await waitForReceipt(chain.provider, hash, 60_000);
  if (receipt?.status !== 1) throw new Error(`transaction ${hash} failed`);
}

/** Registers and stakes a provider for `peerId`, asking `askPerSecond`. */
export async function registerProvider(chain: TestChain, wallet: Wallet, peerId: Parameters<typeof peerIdBytes>[0], askPerSecond: bigint): Promise<void> {
  await fund(chain, wallet.address, 1000n * MESH);
  await mined(chain, chain.deployer.sendTransaction({ to: wallet.address, value: 10n ** 18n }));
  const signer = new NonceManager(wallet.connect(chain.provider));
  const c = connectContracts(signer, chain.deployment);
  await mined(chain, c.token.approve(chain.deployment.registry, 500n * MESH));
  await mined(chain, c.registry.register(peerIdBytes(peerId), askPerSecond, [chain.model], 500n * MESH));
}
