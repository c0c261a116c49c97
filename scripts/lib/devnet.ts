// The local Rendermesh network as a library: a Hardhat node, the deployed
// contracts, funded accounts, one coordinator, N providers and one arbiter, each with its
// own data dir, key and embedded IPFS node. `pnpm dev`, `pnpm demo`, the
// end-to-end tests and the benchmarks all start it through here.
import { availableParallelism } from "node:os";
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { Contract, JsonRpcProvider, Network, NonceManager, Wallet } from "ethers";
// `hardhat node`'s well-known accounts (no value anywhere), defined once in the test toolkit.
import { hardhatAccount as testAccount } from "@rendermesh/testing";
import type { DevNetwork } from "@rendermesh/shared";
import { meshTokenAbi } from "@rendermesh/shared/chain";
import { loadOrCreatePeerKey } from "@rendermesh/shared/net";
import { defaultModel, defaultPipelinePath, loadPipeline } from "@rendermesh/shared/model";
import { deploy, type DeploymentRecord } from "../deploy.ts";

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

const MESH = 10n ** 18n;

interface DevAccount {
  address: string;
  privateKey: string;
}

/** Hardhat node account `i`. */
function hardhatAccount(i: number): DevAccount {
  const w = testAccount(i);
  return { address: w.address, privateKey: w.privateKey };
}

/** Which Hardhat account plays which role. */
const ROLES = {
  deployer: 0,
  client: 1,
  coordinator: 2,
  arbiter: 3,
  dao: [4, 5, 6],
  providers: [7, 8, 9, 10, 11, 12, 13, 14],
} as const;

export interface StartDevNetworkOptions {
  /** State directory (wiped first): data dirs, logs, deployment, dev.json. */
  dir?: string;
  providers?: number;
  /** JSON-RPC port of the Hardhat node; 0 or unset lets the OS pick one at bind time. */
  rpcPort?: number;
  /** Where progress lines go (default: stdout). */
  log?: (line: string) => void;
  /** Extra environment per provider index (e.g. a slower benchmark, a fault). */
  providerEnv?: (index: number) => Record<string, string>;
  /** Script run instead of `rendermesh-provider` for a provider index (fault tests). */
  providerScript?: (index: number) => string | undefined;
  /** Ask per second (MESH) of each provider at the model's reference size. */
  askPerSecond?: (index: number) => string;
}

export interface DevProcess {
  name: string;
  child: ChildProcess;
  logFile: string;
  /** How it was started, so it can be started again the same way (same data dir, ports and key). */
  args: string[];
  env: Record<string, string>;
}

export interface RunningDevNetwork {
  dev: DevNetwork;
  /** Path of the dev.json written. */
  file: string;
  dir: string;
  deployment: DeploymentRecord;
  processes: DevProcess[];
  /** Stops one provider (SIGKILL by default) without stopping the rest. */
  killProvider(index: number, signal?: NodeJS.Signals): Promise<void>;
  /** Sends a process a signal (SIGKILL by default) and waits for it to exit (for SIGKILL/SIGTERM). */
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  /**
   * Starts a process again as it was first started (killing it first if it
   * still runs): same data dir, ports, key and log file (appended). Resolves
   * when it serves again: the coordinator answers its status API.
   */
  restart(name: string): Promise<DevProcess>;
  /** Stops every process: SIGTERM, then SIGKILL after a grace period. */
  stop(): Promise<void>;
}

/**
 * The first stdout line of `p` matching `pattern`. Every port here is bound
 * with 0 (the OS picks it at bind time, so two networks never race for one)
 * and read back from what the process prints once it listens.
 */
function lineOf(p: DevProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = "";
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      for (const line of text.split("\n")) {
        const m = pattern.exec(line);
        if (m) {
          p.child.stdout!.off("data", onData);
          resolve(m);
          return;
        }
      }
    };
    p.child.stdout!.on("data", onData);
    p.child.once("exit", (code) =>
      reject(new Error(`${what}: the process exited with code ${code} before it printed ${pattern}; see ${p.logFile}`)),
    );
  });
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  opts: { timeoutMs: number; child?: ChildProcess; logFile?: string },
): Promise<T> {
  const until = Date.now() + opts.timeoutMs;
  let lastErr: unknown;
  while (Date.now() < until) {
    if (opts.child && opts.child.exitCode !== null) {
      throw new Error(`${what}: the process exited with code ${opts.child.exitCode}; see ${opts.logFile}`);
    }
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `${what}: not ready after ${opts.timeoutMs / 1000} s${opts.logFile ? `; see ${opts.logFile}` : ""}${lastErr ? ` (${String(lastErr)})` : ""}`,
  );
}

function startProcess(name: string, args: string[], env: Record<string, string>, logDir: string): DevProcess {
  const logFile = join(logDir, `${name}.log`);
  const out = createWriteStream(logFile, { flags: "a" });
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  return { name, child, logFile, args, env };
}

async function stopProcess(p: DevProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 8_000): Promise<void> {
  const { child } = p;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

async function httpJson(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

/** Starts the whole local network and writes `<dir>/dev.json`. */
export async function startDevNetwork(opts: StartDevNetworkOptions = {}): Promise<RunningDevNetwork> {
  const dir = opts.dir ?? join(repoRoot, ".rendermesh");
  const log = opts.log ?? ((line: string) => console.log(line));
  const nProviders = opts.providers ?? 3;
  if (nProviders > ROLES.providers.length) throw new Error(`At most ${ROLES.providers.length} providers.`);
  rmSync(dir, { recursive: true, force: true });
  const logDir = join(dir, "logs");
  mkdirSync(logDir, { recursive: true });

  const processes: DevProcess[] = [];
  const stopAll = async () => {
    for (const p of [...processes].reverse()) await stopProcess(p);
  };

  try {
    // 1. Chain.
    log("starting Hardhat node");
    // Hardhat's own CLI, not the scripts/hardhat.ts wrapper: the pid recorded (and signalled) is the node that serves.
    // Its stdout is a pipe, so it runs non-interactive; telemetry is off as in scripts/hardhat.ts.
    const hardhatBin = join(repoRoot, "node_modules", "hardhat", "dist", "src", "cli.js");
    const hardhat = startProcess(
      "hardhat-node",
      [hardhatBin, "node", "--hostname", "127.0.0.1", "--port", String(opts.rpcPort ?? 0)],
      { HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0" },
      logDir,
    );
    processes.push(hardhat);
    const [, rpcUrl] = (await lineOf(
      hardhat,
      /Started HTTP and WebSocket JSON-RPC server at (http:\/\/[0-9.]+:\d+)/,
      "Hardhat node",
    )) as unknown as [string, string];
    log(`Hardhat node on ${rpcUrl}`);
    // The banner is printed once the server listens: one request answers.
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    });
    const chainId = Number(((await res.json()) as { result: string }).result);
    const provider = new JsonRpcProvider(rpcUrl, Network.from(chainId), { staticNetwork: true, pollingInterval: 200, cacheTimeout: -1 });

    // 2. Contracts, with both default models allowed (the trained diffusion pipeline and the field model) and short windows.
    const model = defaultModel();
    const pipeline = await loadPipeline(defaultPipelinePath());
    const deployer = hardhatAccount(ROLES.deployer);
    const arbiter = hardhatAccount(ROLES.arbiter);
    log(`deploying contracts (default model ${model.manifest.id.slice(0, 10)}…)`);
    const deploymentDir = join(dir, "deployments");
    const deployment = await deploy({
      rpcUrl,
      privateKey: deployer.privateKey,
      dev: true,
      fresh: true,
      outDir: deploymentDir,
      // Ignition's journal lives and dies with this network, never in contracts/ignition.
      journalDir: join(dir, "ignition"),
      // A small supply so the three DAO members hold enough votes for quorum (4%).
      parameters: { allowedModels: [pipeline.manifest.id, model.manifest.id], arbiter: arbiter.address, tokenSupply: 10_000_000n * MESH },
    });
    const deploymentFile = join(deploymentDir, `${chainId}.json`);

    // 3. Accounts: MESH for the client, providers and DAO members; members delegate to themselves.
    const client = hardhatAccount(ROLES.client);
    const coordinator = hardhatAccount(ROLES.coordinator);
    const dao = ROLES.dao.map(hardhatAccount);
    const providers = ROLES.providers.slice(0, nProviders).map(hardhatAccount);
    const signer = new NonceManager(new Wallet(deployer.privateKey, provider));
    const token = new Contract(deployment.token, meshTokenAbi, signer);
    const grants: Array<[string, bigint]> = [
      [client.address, 1_000_000n * MESH],
      ...providers.map((p): [string, bigint] => [p.address, 10_000n * MESH]),
      ...dao.map((d): [string, bigint] => [d.address, 1_000_000n * MESH]),
    ];
    log(`funding ${grants.length} accounts`);
    for (const [to, amount] of grants) await (await token.getFunction("transfer")(to, amount)).wait();
    for (const member of dao) {
      const t = new Contract(deployment.token, meshTokenAbi, new Wallet(member.privateKey, provider));
      await (await t.getFunction("delegate")(member.address)).wait();
    }
    // A block every second besides the automined ones, so voting delays and
    // periods (counted in blocks) pass on an idle network too.
    await provider.send("evm_setIntervalMining", [1000]);
    provider.destroy();

    // 4. Coordinator: its peer key is made here so its multiaddr is known before it starts.
    const coordDir = join(dir, "coordinator");
    mkdirSync(coordDir, { recursive: true });
    const coordPeerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(coordDir)).toString();
    log(`starting coordinator ${coordPeerId}`);
    const coord = startProcess(
      "coordinator",
      [join(repoRoot, "packages", "coordinator", "bin", "rendermesh-coordinator.js"), "start"],
      {
        RENDERMESH_PRIVATE_KEY: coordinator.privateKey,
        RENDERMESH_COORDINATOR_RPC_URL: rpcUrl,
        RENDERMESH_COORDINATOR_DEPLOYMENT: deploymentFile,
        RENDERMESH_COORDINATOR_DATA_DIR: coordDir,
        RENDERMESH_COORDINATOR_LISTEN: "/ip4/127.0.0.1/tcp/0",
        RENDERMESH_COORDINATOR_HTTP_PORT: "0",
      },
      logDir,
    );
    processes.push(coord);
    const listening = lineOf(coord, /^\s*listen (\S+)/, "coordinator");
    listening.catch(() => undefined); // awaited below; this only keeps an early exit from being "unhandled"
    const [, httpUrl] = (await lineOf(coord, /^\s*http (http:\/\/\S+)/, "coordinator")) as unknown as [string, string];
    const listened = (await listening)[1]!;
    const coordMultiaddr = listened.includes("/p2p/") ? listened : `${listened}/p2p/${coordPeerId}`;
    await httpJson(`${httpUrl}/api/status`); // printed once it serves: answers at once

    // 5. Providers: register and stake on first start, then announce to the coordinator.
    const providerInfos: DevNetwork["providers"] = [];
    for (let i = 0; i < nProviders; i++) {
      const acct = providers[i]!;
      const pdir = join(dir, `provider-${i + 1}`);
      mkdirSync(pdir, { recursive: true });
      const peerId = peerIdFromPrivateKey(await loadOrCreatePeerKey(pdir)).toString();
      log(`starting provider ${i + 1} ${acct.address}`);
      const p = startProcess(
        `provider-${i + 1}`,
        [
          opts.providerScript?.(i) ?? join(repoRoot, "packages", "provider-node", "bin", "rendermesh-provider.js"),
          "start",
          "--register",
          "--stake",
          "1000",
          "--yes",
        ],
        {
          RENDERMESH_PRIVATE_KEY: acct.privateKey,
          RENDERMESH_PROVIDER_RPC_URL: rpcUrl,
          RENDERMESH_PROVIDER_DEPLOYMENT: deploymentFile,
          RENDERMESH_PROVIDER_COORDINATORS: coordMultiaddr,
          RENDERMESH_PROVIDER_DATA_DIR: pdir,
          RENDERMESH_PROVIDER_LISTEN: "/ip4/127.0.0.1/tcp/0",
          RENDERMESH_PROVIDER_METRICS_PORT: "0",
          RENDERMESH_PROVIDER_DEVICE: "cpu",
          RENDERMESH_PROVIDER_MODELS: "diffusion-default,default",
          RENDERMESH_PROVIDER_ASK_PER_SECOND: opts.askPerSecond?.(i) ?? "1",
          RENDERMESH_PROVIDER_PAYMENT_INTERVAL_MS: "2000",
          // All providers share this machine's cores: each gets its share, so their ONNX Runtime threads do not
          // outnumber the cores (oversubscribed, every parallel operator waits for its slowest thread).
          RENDERMESH_PROVIDER_THREADS: String(Math.max(1, Math.floor(availableParallelism() / nProviders))),
          ...(opts.providerEnv?.(i) ?? {}),
        },
        logDir,
      );
      processes.push(p);
      const listened = lineOf(p, /listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\S*)/, `provider ${i + 1}`);
      const metrics = lineOf(p, /metrics at (http:\/\/\S+)/, `provider ${i + 1}`);
      metrics.catch(() => undefined); // awaited below
      const addr = (await listened)[1]!;
      providerInfos.push({
        address: acct.address,
        peerId,
        multiaddrs: [addr.includes("/p2p/") ? addr : `${addr}/p2p/${peerId}`],
        metricsUrl: (await metrics)[1]!,
        pid: p.child.pid,
        dataDir: pdir,
      });
    }
    for (let i = 0; i < nProviders; i++) {
      const p = processes[i + 2]!;
      const addr = providers[i]!.address.toLowerCase();
      await waitFor(
        `provider ${i + 1} announced to the coordinator`,
        async () => {
          const { providers: list } = (await httpJson(`${httpUrl}/api/providers`)) as {
            providers: Array<{ address: string; live: boolean }>;
          };
          return list.some((x) => x.address.toLowerCase() === addr && x.live) ? true : undefined;
        },
        { timeoutMs: 180_000, child: p.child, logFile: p.logFile },
      );
    }

    // 6. The arbiter: the dev deploy made its account `ContentPolicy.arbiter`; it resolves disputed claims.
    const arbDir = join(dir, "arbiter");
    mkdirSync(arbDir, { recursive: true });
    log(`starting arbiter ${arbiter.address}`);
    const arb = startProcess(
      "arbiter",
      [
        join(repoRoot, "packages", "arbiter", "bin", "rendermesh-arbiter.js"),
        "run",
        "--rpc-url",
        rpcUrl,
        "--deployment",
        deploymentFile,
        "--coordinator-url",
        httpUrl,
        "--data-dir",
        arbDir,
        "--metrics-port",
        "0",
      ],
      { RENDERMESH_PRIVATE_KEY: arbiter.privateKey },
      logDir,
    );
    processes.push(arb);
    const [, arbMetrics] = (await lineOf(arb, /^arbiter \S+ watching escrow \S+; metrics at (http:\/\/\S+)/, "arbiter")) as unknown as [
      string,
      string,
    ];

    const dev: DevNetwork = {
      rpcUrl,
      chainId,
      deploymentFile,
      coordinator: {
        address: coordinator.address,
        peerId: coordPeerId,
        multiaddrs: [coordMultiaddr],
        httpUrl,
        pid: coord.child.pid,
        dataDir: coordDir,
      },
      providers: providerInfos,
      accounts: { deployer, client, coordinator, providers, dao, arbiter },
      arbiter: { address: arbiter.address, metricsUrl: arbMetrics, pid: arb.child.pid, dataDir: arbDir },
      hardhatPid: hardhat.child.pid,
      startedAt: new Date().toISOString(),
    };
    const file = join(dir, "dev.json");
    writeFileSync(file, JSON.stringify(dev, null, 2) + "\n");
    log(`network ready: ${file}`);

    return {
      dev,
      file,
      dir,
      deployment,
      processes,
      async killProvider(index, signal = "SIGKILL") {
        const p = processes.find((x) => x.name === `provider-${index + 1}`);
        if (p) await stopProcess(p, signal, 1_000);
      },
      async kill(name, signal = "SIGKILL") {
        const p = processes.find((x) => x.name === name);
        if (!p) throw new Error(`No dev process named ${name}.`);
        if (signal === "SIGKILL" || signal === "SIGTERM") await stopProcess(p, signal, 1_000);
        else p.child.kill(signal);
      },
      async restart(name) {
        const i = processes.findIndex((x) => x.name === name);
        if (i < 0) throw new Error(`No dev process named ${name}.`);
        const old = processes[i]!;
        await stopProcess(old, "SIGKILL", 1_000);
        // A coordinator comes back where its peers know it: the same libp2p and HTTP ports it had.
        const env =
          name === "coordinator"
            ? {
                ...old.env,
                RENDERMESH_COORDINATOR_LISTEN: `/ip4/127.0.0.1/tcp/${/\/tcp\/(\d+)/.exec(coordMultiaddr)![1]}`,
                RENDERMESH_COORDINATOR_HTTP_PORT: new URL(httpUrl).port,
              }
            : old.env;
        const p = startProcess(old.name, old.args, env, logDir);
        processes[i] = p;
        if (name === "coordinator") {
          await lineOf(p, /^\s*http (http:\/\/\S+)/, "coordinator");
          await httpJson(`${httpUrl}/api/status`);
          dev.coordinator.pid = p.child.pid;
        } else if (name === "arbiter") {
          if (dev.arbiter) dev.arbiter.pid = p.child.pid;
        } else {
          const info = dev.providers.find((_x, k) => `provider-${k + 1}` === name);
          if (info) info.pid = p.child.pid;
        }
        writeFileSync(file, JSON.stringify(dev, null, 2) + "\n");
        return p;
      },
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
