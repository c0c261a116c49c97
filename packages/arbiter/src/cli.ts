import { mkdirSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { JsonRpcProvider, NonceManager } from "ethers";
import { ConfigError, createLogger, loadWallet, UsageError } from "@rendermesh/shared";
import { connectContracts, parseDeployment } from "@rendermesh/shared/chain";
import { reportError } from "@rendermesh/shared/cli";
import { Arbiter } from "./arbiter.js";
import { coordinatorSpecSource } from "./evidence.js";
import { ArbiterJournal } from "./journal.js";
import { ArbiterMetrics, serveMetrics } from "./metrics.js";
import { createDefaultVerifier } from "./verifier.js";

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

const defaultIo: Io = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };

interface CommonOptions {
  rpcUrl?: string;
  deployment?: string;
  keystore?: string;
  dataDir?: string;
  coordinatorUrl?: string;
  json?: boolean;
}

interface RunOptions extends CommonOptions {
  once?: boolean;
  fromBlock?: string;
  slash?: string;
  batchSize?: string;
  metricsPort?: string;
  metricsHost?: string;
  ffmpeg?: string;
  listen?: string[];
}

const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(",").filter(Boolean)];

function intOption(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min)
    throw new UsageError(`--${name} must be an integer of at least ${min}, not ${JSON.stringify(value)}.`);
  return Number(value);
}

function print(io: Io, json: boolean, value: unknown, human: () => string[]): void {
  if (json) io.out(JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
  else for (const line of human()) io.out(line);
}

function common(cmd: Command): Command {
  return cmd
    .option("--rpc-url <url>", "EVM JSON-RPC endpoint (default http://127.0.0.1:8545)")
    .requiredOption("--deployment <file>", "deployment file (deployments/<chainId>.json)")
    .option("--keystore <file>", "encrypted JSON keystore (password in RENDERMESH_KEYSTORE_PASSWORD); default key: RENDERMESH_PRIVATE_KEY")
    .option("--data-dir <dir>", "journal and IPFS blocks (default ~/.rendermesh/arbiter)")
    .option("--coordinator-url <url>", "coordinator HTTP API that serves job specs (/api/jobs/<id>), e.g. http://127.0.0.1:7400")
    .option("--json", "print the result as JSON (one document on stdout; logs on stderr)");
}

function dataDirOf(o: CommonOptions): string {
  const dir = o.dataDir ?? join(homedir(), ".rendermesh", "arbiter");
  mkdirSync(dir, { recursive: true });
  return dir;
}

export function buildCli(io: Io, onStarted?: (stop: () => Promise<void>) => void): Command {
  const program = new Command("rendermesh-arbiter")
    .description(
      "Rendermesh arbiter: resolves disputed segment claims by running the client's verification, then pays or refuses and slashes on chain.",
    )
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()), outputError: () => undefined })
    .exitOverride();

  common(
    program
      .command("run")
      .description("Catch up on disputes since the journal's last block, then watch for new ones (--once: catch up and exit)"),
  )
    .option("--once", "resolve the disputes raised so far and exit")
    .option("--from-block <n>", "first block to scan on a fresh journal (default 0)")
    .option("--slash <amount>", "stake in base units to slash on a refused claim (default: the policy's minimum provider stake)")
    .option("--batch-size <n>", "most disputes of one job resolved in one resolveDisputes transaction (default 16; 1 = one by one)")
    .option("--listen <multiaddr>", "libp2p listen address for fetching segments (repeat; default /ip4/127.0.0.1/tcp/0)", collect)
    .option("--metrics-port <port>", "Prometheus /metrics port (default 9466; 0 = any free port; -1 = off)")
    .option("--metrics-host <host>", "metrics bind address (default 127.0.0.1)")
    .option("--ffmpeg <path>", "ffmpeg binary (default: the bundled one, or RENDERMESH_FFMPEG)")
    .exitOverride()
    .action(async (o: RunOptions) => {
      const json = o.json === true;
      const fromBlock = intOption(o.fromBlock, "from-block", 0);
      const metricsPort = intOption(o.metricsPort, "metrics-port", -1) ?? 9466;
      const batchSize = intOption(o.batchSize, "batch-size", 1);
      if (o.slash !== undefined && !/^\d+$/.test(o.slash))
        throw new UsageError(`--slash must be an amount in base units, not ${JSON.stringify(o.slash)}.`);
      const logger = createLogger({ name: "arbiter", level: json ? "warn" : "info", destination: process.stderr });
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(o.deployment!, "utf8"));
      } catch (cause) {
        throw new ConfigError(`Cannot read the deployment file ${o.deployment}.`, {
          cause,
          hint: "Pass --deployment deployments/<chainId>.json (written by `pnpm deploy` or `pnpm dev`).",
        });
      }
      const deployment = parseDeployment(raw, o.deployment);
      const provider = new JsonRpcProvider(o.rpcUrl ?? "http://127.0.0.1:8545", undefined, { polling: true, pollingInterval: 1000 });
      const wallet = await loadWallet({ keystore: o.keystore, provider });
      const contracts = connectContracts(new NonceManager(wallet), deployment);
      const arbiterAddress = String(await contracts.policy.arbiter());
      if (arbiterAddress.toLowerCase() !== wallet.address.toLowerCase()) {
        logger.warn(
          { arbiter: arbiterAddress, wallet: wallet.address },
          "this wallet is not the policy's arbiter: resolutions will revert until the DAO appoints it (set-arbiter)",
        );
      }
      const dir = dataDirOf(o);
      const journal = new ArbiterJournal(join(dir, "arbiter.db"));
      const metrics = new ArbiterMetrics();
      const verifier = await createDefaultVerifier({ dataDir: dir, listen: o.listen, ffmpeg: o.ffmpeg });
      const coordinatorUrl = o.coordinatorUrl ?? "http://127.0.0.1:7400";
      const server = metricsPort >= 0 ? await serveMetrics(metrics, o.metricsHost ?? "127.0.0.1", metricsPort) : undefined;
      const arbiter = new Arbiter({
        contracts,
        provider,
        chainId: Number((await provider.getNetwork()).chainId),
        journal,
        metrics,
        verifier: verifier.verifier,
        specs: coordinatorSpecSource(coordinatorUrl),
        // Its own network works when the coordinator answers: only then may a segment unfetched all window be refused.
        online: () =>
          fetch(`${coordinatorUrl.replace(/\/+$/, "")}/api/status`, { signal: AbortSignal.timeout(15_000) }).then(
            (r) => r.ok,
            () => false,
          ),
        logger,
        slashAmount: o.slash === undefined ? undefined : BigInt(o.slash),
        batchSize,
        fromBlock,
      });
      const stop = async () => {
        await arbiter.stop();
        await server?.close();
        await verifier.close();
        journal.close();
        provider.destroy();
      };
      try {
        const outcomes = await arbiter.catchUp();
        if (o.once) {
          print(io, json, { ok: true, arbiter: wallet.address, outcomes }, () =>
            outcomes.length === 0
              ? ["no disputes to resolve"]
              : outcomes.map(
                  (x) =>
                    `${x.jobId} segment ${x.segment}: ${x.verdict} (${x.reason})${x.tx ? ` tx ${x.tx}` : ""}${(x.batchSize ?? 1) > 1 ? ` (one transaction for ${x.batchSize} disputes)` : ""}`,
                ),
          );
          await stop();
          return;
        }
        arbiter.watch();
        print(io, json, { ok: true, arbiter: wallet.address, watching: true, metrics: server?.url, caughtUp: outcomes }, () => [
          `arbiter ${wallet.address} watching escrow ${deployment.escrow}${server ? `; metrics at ${server.url}` : ""}`,
        ]);
        await new Promise<void>((resolve) => {
          const done = () => void stop().then(resolve, resolve);
          onStarted?.(async () => done());
          process.once("SIGINT", done);
          process.once("SIGTERM", done);
        });
      } catch (err) {
        await stop().catch(() => undefined);
        throw err;
      }
    });

  program
    .command("disputes")
    .description("List the disputes in the journal with their verdicts and transactions")
    .option("--data-dir <dir>", "journal directory (default ~/.rendermesh/arbiter)")
    .option("--json", "print the result as JSON")
    .exitOverride()
    .action((o: CommonOptions) => {
      const journal = new ArbiterJournal(join(dataDirOf(o), "arbiter.db"));
      try {
        const rows = journal.all();
        print(io, o.json === true, { ok: true, disputes: rows, lastBlock: journal.lastBlock() ?? null }, () =>
          rows.length === 0
            ? ["no disputes seen"]
            : rows.map(
                (r) =>
                  `${r.jobId} segment ${r.segment} (block ${r.block}): ${r.verdict ?? "undecided"}${r.tx ? ` tx ${r.tx}` : ""}${(r.batchSize ?? 1) > 1 ? ` (batch of ${r.batchSize})` : ""}${r.reason ? ` — ${r.reason}` : ""}`,
              ),
        );
      } finally {
        journal.close();
      }
    });
  return program;
}

/** Runs the CLI; returns the exit code (0, 1, 2 for bad usage, 3 for a refusal by the rules). */
export async function runCli(argv: string[], io: Io = defaultIo): Promise<number> {
  const json = argv.includes("--json");
  const program = buildCli(io);
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    return reportError(err, {
      commandPath: "rendermesh-arbiter",
      json,
      stdout: { write: (t: string) => io.out(t.trimEnd()) },
      stderr: { write: (t: string) => io.err(t.trimEnd()) },
      debug: process.env.RENDERMESH_DEBUG === "1",
    });
  }
}
