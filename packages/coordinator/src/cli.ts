#!/usr/bin/env node
/**
 * `rendermesh-coordinator`: start the coordinator, or ask a running one for
 * its status. Every command has --help and --json; errors are reported as
 * by every Rendermesh CLI (the shared reporter): one sentence and a fix on
 * stderr, with --json one error document on stdout; exit 2 for bad usage, 3
 * for a refusal by the rules, 1 otherwise. Logs go to stderr.
 */
import { Command, CommanderError } from "commander";
import { JsonRpcProvider } from "ethers";
import { BaseError, createLogger, loadWallet } from "@rendermesh/shared";
import { commandPathOf, reportError } from "@rendermesh/shared/cli";
import { loadDeployment, parseDeployment } from "@rendermesh/shared/chain";
import { readFileSync } from "node:fs";
import { EthersChain } from "./chain/ethers-chain.js";
import { loadCoordinatorConfig } from "./config.js";
import { Coordinator } from "./coordinator.js";

let json = process.argv.includes("--json");

const program = new Command()
  .name("rendermesh-coordinator")
  .description("Rendermesh coordinator: provider directory, job intake, scheduling and supervision over libp2p")
  .option("--json", "print machine-readable JSON")
  .exitOverride()
  // Commander's own error text is replaced by the shared reporter's sentence.
  .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => undefined });

program
  .command("start")
  .description("run the coordinator until SIGINT/SIGTERM")
  .option("--config <file>", "JSON config file (defaults < file < RENDERMESH_COORDINATOR_* env < flags)")
  .option("--listen <multiaddrs>", "comma-separated libp2p listen multiaddrs (default /ip4/127.0.0.1/tcp/0)")
  .option("--announce <multiaddrs>", "comma-separated multiaddrs to announce instead of the listen ones")
  .option("--rpc-url <url>", "chain JSON-RPC endpoint (default http://127.0.0.1:8545)")
  .option("--deployment <file>", "deployment file (default deployments/<chainId>.json)")
  .option(
    "--keystore <file>",
    "encrypted keystore with the coordinator key (password in RENDERMESH_KEYSTORE_PASSWORD); else RENDERMESH_PRIVATE_KEY",
  )
  .option("--data-dir <dir>", "peer key and database directory (default .rendermesh/coordinator)")
  .option("--db <file>", "SQLite database (default <data-dir>/coordinator.db)")
  .option("--http-port <port>", "read-only HTTP API and /metrics port (default 8750; 0 = any free port)")
  .option("--http-host <host>", "HTTP bind address (default 127.0.0.1)")
  .option("--fee-bps <bps>", "lowest coordinator fee, in basis points, this coordinator takes jobs for (default 0)")
  .option("--heartbeat-interval-ms <ms>", "provider heartbeat interval (default 5000)")
  .option("--max-pending-jobs-per-client <n>", "running jobs one client may have (default 8)")
  .option("--log-level <level>", "fatal|error|warn|info|debug|trace|silent (default info)")
  .action(async (opts: Record<string, string | undefined>) => {
    const { config } = loadCoordinatorConfig({
      file: opts.config,
      flags: {
        listen: opts.listen,
        announce: opts.announce,
        rpcUrl: opts.rpcUrl,
        deployment: opts.deployment,
        keystore: opts.keystore,
        dataDir: opts.dataDir,
        db: opts.db,
        httpPort: opts.httpPort,
        httpHost: opts.httpHost,
        feeBps: opts.feeBps,
        heartbeatIntervalMs: opts.heartbeatIntervalMs,
        maxPendingJobsPerClient: opts.maxPendingJobsPerClient,
        logLevel: opts.logLevel,
      },
    });
    const signer = await loadWallet({ privateKey: config.privateKey, keystore: config.keystore });
    let deployment;
    if (config.deployment) {
      deployment = parseDeployment(JSON.parse(readFileSync(config.deployment, "utf8")), config.deployment);
    } else {
      const probe = new JsonRpcProvider(config.rpcUrl);
      let chainId: number;
      try {
        chainId = Number((await probe.getNetwork()).chainId);
      } catch (cause) {
        throw new BaseError("CHAIN", `Cannot reach the chain at ${config.rpcUrl}.`, {
          cause,
          hint: "Start the node (pnpm dev) or pass --rpc-url.",
        });
      } finally {
        probe.destroy();
      }
      deployment = loadDeployment(chainId);
    }
    const chain = new EthersChain({ rpcUrl: config.rpcUrl, deployment, signer });
    // Logs on stderr: stdout holds only the result (one JSON document with --json).
    const log = createLogger({ name: "coordinator", level: config.logLevel, destination: process.stderr });
    const coordinator = new Coordinator(config, { chain, log });
    await coordinator.start();
    const info = {
      ok: true,
      peerId: coordinator.peerId,
      multiaddrs: coordinator.multiaddrs,
      address: coordinator.address,
      http: coordinator.httpUrl,
      chainId: chain.chainId,
    };
    if (json) process.stdout.write(`${JSON.stringify(info)}\n`);
    else
      process.stdout.write(
        `coordinator ${info.address} running\n  peer ${info.peerId}\n  listen ${info.multiaddrs.join(" ")}\n  http ${info.http}\n`,
      );
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      coordinator.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });

program
  .command("status")
  .description("print a running coordinator's status from its HTTP API")
  .option("--url <url>", "the coordinator's HTTP API", "http://127.0.0.1:8750")
  .action(async (opts: { url: string }) => {
    let body: unknown;
    try {
      const res = await fetch(new URL("/api/status", opts.url), { signal: AbortSignal.timeout(5000) });
      body = await res.json();
    } catch (cause) {
      throw new BaseError("UNREACHABLE", `No coordinator answers at ${opts.url}.`, {
        cause,
        hint: "Start it with `rendermesh-coordinator start` or pass --url.",
      });
    }
    process.stdout.write(json ? `${JSON.stringify(body)}\n` : `${JSON.stringify(body, null, 2)}\n`);
  });

program.hook("preAction", (_program, action) => {
  json = Boolean(action.optsWithGlobals().json);
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // A group called without its command printed its help on stderr: that is bad usage too.
  if (err instanceof CommanderError && err.code === "commander.help") process.exit(2);
  process.exit(reportError(err, { json, commandPath: commandPathOf(program, process.argv.slice(2)) }));
}
