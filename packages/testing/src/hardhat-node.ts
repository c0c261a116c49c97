// The one way tests start a local chain: a real `hardhat node` on 127.0.0.1
// with `--port 0`, so the OS picks the port at bind time (no probe-then-bind
// race), and the port read back from the node's banner.
import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { JsonRpcProvider, Network } from "ethers";

/** The repository root (this file is packages/testing/src/hardhat-node.ts). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

export interface HardhatNodeOptions {
  /** Chain id of the node (default Hardhat's 31337). */
  chainId?: number;
  /** Mines a block every this many ms besides the automined ones. */
  intervalMiningMs?: number;
}

export interface HardhatNode {
  rpcUrl: string;
  chainId: number;
  /** JSON-RPC provider with no cache (nonces and blocks read fresh each time). */
  provider: JsonRpcProvider;
  child: ChildProcess;
  /** The node's output so far (the last 8 kB), for error messages. */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited once the exit is awaited for long. */
  stop(): Promise<void>;
}

const BANNER = /Started HTTP and WebSocket JSON-RPC server at (http:\/\/[0-9.]+:\d+)/;

/** Starts `hardhat node --hostname 127.0.0.1 --port 0` and resolves once its banner names the port. */
export async function startHardhatNode(options: HardhatNodeOptions = {}): Promise<HardhatNode> {
  const cli = join(repoRoot, "node_modules", "hardhat", "dist", "src", "cli.js");
  const chainId = options.chainId ?? 31337;
  const args = [
    cli,
    "node",
    "--hostname",
    "127.0.0.1",
    "--port",
    "0",
    ...(options.chainId === undefined ? [] : ["--chain-id", String(chainId)]),
  ];
  const child = spawn(process.execPath, args, {
    cwd: repoRoot,
    env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: "0", NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const rpcUrl = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8_000);
      const m = BANNER.exec(output);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    // Starting is waited on as an event: the banner or the exit, whichever comes.
    void exited.then(() =>
      reject(new Error(`hardhat node exited with ${child.exitCode ?? child.signalCode} before it listened:\n${output}`)),
    );
  });
  const provider = new JsonRpcProvider(rpcUrl, Network.from(chainId), { staticNetwork: true, pollingInterval: 100, cacheTimeout: -1 });
  const stop = async () => {
    provider.destroy();
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    // A node that ignores SIGTERM is killed; this is cleanup, not a test's pass/fail.
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    if (options.intervalMiningMs) await provider.send("evm_setIntervalMining", [options.intervalMiningMs]);
  } catch (err) {
    await stop();
    throw err;
  }
  return { rpcUrl, chainId, provider, child, output: () => output, stop };
}
