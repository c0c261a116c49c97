import { createInterface } from "node:readline/promises";
import { Command, CommanderError, Option } from "commander";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { createLogger, UsageError, type Logger } from "@rendermesh/shared";
import { commandPathOf, reportError } from "@rendermesh/shared/cli";
import { JobStatus } from "@rendermesh/shared/chain";
import { peerIdBytes, loadOrCreatePeerKey } from "@rendermesh/shared/net";
import { existsSync } from "node:fs";
import { formatMesh } from "./chain/standing.js";
import { dataPaths, ENV_PREFIX, loadProviderConfig, parseTokenAmount, type ProviderConfig } from "./config.js";
import { AbortedError } from "./errors.js";
import { Journal } from "./journal/index.js";
import { loadServedModels } from "./models.js";
import { connectChain, readStanding, startProvider, type StartEvent, type StartProviderOptions } from "./provider.js";

/**
 * `rendermesh-provider`: the GPU owner's command line. Every command takes
 * --help and --json; errors go through the shared CLI reporter like those of
 * every Rendermesh CLI: exit 2 for bad usage, 3 for a refusal by the rules,
 * 1 otherwise, one sentence and its fix on stderr.
 */

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  stdinIsTTY: boolean;
  /** Waits for SIGINT/SIGTERM (tests resolve it themselves). */
  waitForSignal: () => Promise<string>;
  /** Passed to `startProvider` (fault tests wrap the render pipeline). */
  pipeline?: StartProviderOptions["pipeline"];
}

const collect = (value: string, previous: string[] | undefined) => [
  ...(previous ?? []),
  ...value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean),
];

function commonOptions(cmd: Command): Command {
  return cmd
    .option("--config <file>", `JSON config file (fields as in --help; env ${ENV_PREFIX}CONFIG)`)
    .option("--rpc-url <url>", "EVM JSON-RPC endpoint (default http://127.0.0.1:8545)")
    .option("--deployment <file>", "deployment file (default: deployments/<chainId>.json of this repo)")
    .option("--keystore <file>", "encrypted JSON keystore (password in RENDERMESH_KEYSTORE_PASSWORD); default key: RENDERMESH_PRIVATE_KEY")
    .option("--data-dir <dir>", "journal, peer key and IPFS blocks (default ~/.rendermesh/provider)")
    .addOption(new Option("--log-level <level>", "log level").choices(["trace", "debug", "info", "warn", "error", "fatal", "silent"]))
    .option("--json", "print the result as JSON");
}

/** Flags (camelCase, as commander gives them) → config keys. */
function flagsOf(opts: Record<string, unknown>): Record<string, unknown> {
  const map: Record<string, string> = { coordinator: "coordinators", model: "models", announce: "announceAddrs", ffmpeg: "ffmpegPath" };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(opts)) {
    if (k === "json" || k === "config" || k === "frames") continue;
    out[map[k] ?? k] = v;
  }
  return out;
}

function loadFor(opts: Record<string, unknown>, io: Io): ProviderConfig {
  return loadProviderConfig({ file: opts.config as string | undefined, env: io.env, flags: flagsOf(opts) }).config;
}

function cliLogger(config: Pick<ProviderConfig, "logLevel">, json: boolean): Logger {
  // Logs go to stderr so stdout carries only the command's output.
  return createLogger({
    name: "provider",
    level: json && config.logLevel === "info" ? "warn" : config.logLevel,
    destination: process.stderr,
  });
}

function print(io: Io, json: boolean, value: unknown, human: () => string[]): void {
  if (json) io.out(JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));
  else for (const line of human()) io.out(line);
}

async function confirmOnTty(io: Io): Promise<boolean> {
  if (!io.stdinIsTTY) {
    throw new AbortedError("Registration spends tokens and stdin is not a terminal to confirm it; nothing was spent.", {
      hint: "Re-run with --yes.",
    });
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question("Proceed? [y/N] ");
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

function describeStartEvent(e: StartEvent): string[] {
  switch (e.type) {
    case "chain":
      return [`chain ${e.chainId}, escrow ${e.escrow}, provider ${e.address}`];
    case "standing": {
      const s = e.standing;
      return [
        `registered: ${s.registered ? "yes" : "no"}; stake ${formatMesh(s.stake)} (minimum ${formatMesh(s.minStake)}); peer id bound: ${s.peerIdBound ? "yes" : "no"}`,
        ...s.problems.map((p) => `  missing: ${p.message} Fix: ${p.fix}`),
      ];
    }
    case "registration-plan":
      return [];
    case "registered":
      return [`registration sent: ${e.txs.join(", ")}`];
    case "models":
      return e.models.map((m) => `model ${m.name} ${m.id} on ${m.device}: ${m.benchmarkFps.toFixed(2)} frames/s at its reference size`);
    case "recovered":
      return e.released || e.delivered
        ? [`journal: ${e.delivered} delivered segment(s) kept, ${e.released} interrupted segment(s) given back`]
        : [];
    case "listening":
      return [`peer id ${e.peerId}`, ...e.multiaddrs.map((a) => `listening on ${a}`)];
    case "metrics":
      return [`metrics at ${e.url}`];
  }
}

export function buildCli(io: Io): Command {
  const program = new Command("rendermesh-provider")
    .description("Rendermesh provider node: sell AI video generation from your GPU, paid per verified second.")
    .showHelpAfterError(false)
    // Commander's own error text is replaced by the shared reporter's sentence.
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()), outputError: () => undefined })
    .exitOverride();

  commonOptions(
    program
      .command("start")
      .description("check standing on-chain (register with --register --stake N), load models, benchmark, serve coordinators until stopped")
      .option("--coordinator <multiaddr>", "coordinator multiaddr with /p2p/<id> (repeat or comma-separate)", collect)
      .option(
        "--ask-per-second <amount>",
        "ask per generated second at the model's reference size: MESH (0.01) or base units (10000000000000000wei)",
      )
      .option("--model <path>", "`default` or an ONNX file with <file>.manifest.json (repeat)", collect)
      .addOption(
        new Option("--device <device>", "where to render: cuda fails loudly if CUDA does not load; auto falls back to cpu").choices([
          "cuda",
          "cpu",
          "auto",
        ]),
      )
      .option("--ipfs <mode>", "`embedded` (Helia on this node's libp2p) or a Kubo RPC URL, e.g. http://127.0.0.1:5001")
      .option("--listen <multiaddr>", "libp2p listen address (repeat; default /ip4/0.0.0.0/tcp/7402)", collect)
      .option("--announce <multiaddr>", "address to advertise instead of the listen addresses (repeat)", collect)
      .option("--concurrency <n>", "segments rendered at once, each on a renderer of its own (default 1)")
      .option("--batch-frames <n>", "frames per inference run (default: chosen by the renderer)")
      .option("--threads <n>", "CPU threads per ONNX Runtime session (default 0: every core)")
      .option("--metrics-port <port>", "Prometheus /metrics port (default 9464; 0 = any free port; -1 = off)")
      .option("--metrics-host <host>", "metrics bind address (default 127.0.0.1)")
      .option("--benchmark-fps <fps>", "skip the self-benchmark and advertise this speed")
      .option("--auto-withdraw-above <amount>", "withdraw earnings automatically once the escrow balance reaches this")
      .option("--ffmpeg <path>", "ffmpeg binary (default: the bundled one, or RENDERMESH_FFMPEG)")
      .option("--register", "register, stake and bind the peer id if needed (prints what it will spend first)")
      .option("--stake <amount>", "stake to add when registering: MESH (100) or base units (…wei)")
      .option("--yes", "do not ask before spending tokens (needed when stdin is not a terminal)"),
  ).action(async (opts: Record<string, unknown>) => {
    const config = loadFor(opts, io);
    const json = Boolean(opts.json);
    const logger = cliLogger(config, json);
    const provider = await startProvider({
      config,
      env: io.env,
      logger,
      confirm: () => confirmOnTty(io),
      pipeline: io.pipeline,
      onEvent: (e) => {
        // What registration will spend is always shown first, on stderr (stdout may be --json).
        if (e.type === "registration-plan") {
          io.err("This will:");
          for (const line of e.lines) io.err(`  - ${line}`);
        } else if (!json) for (const line of describeStartEvent(e)) io.out(line);
      },
    });
    print(
      io,
      json,
      {
        started: true,
        address: provider.address,
        peerId: provider.peerId,
        multiaddrs: provider.multiaddrs(),
        metricsUrl: provider.metricsUrl,
        models: provider.models.map((m) => ({ id: m.id, benchmarkFps: m.benchmarkFps, device: m.renderer.device })),
      },
      () => [`serving ${provider.models.length} model(s) to ${config.coordinators.length} coordinator(s); Ctrl-C stops`],
    );
    const signal = await io.waitForSignal();
    io.err(`${signal}: stopping (work in progress is given back)`);
    await provider.stop();
  });

  commonOptions(program.command("status").description("show registration, stake, earnings, pending vouchers and claims")).action(
    async (opts: Record<string, unknown>) => {
      const config = loadFor(opts, io);
      const json = Boolean(opts.json);
      const { wallet, chain, rpc } = await connectChain(config, { env: io.env });
      try {
        const address = wallet.address;
        const paths = dataPaths(config.dataDir);
        const peerKnown = existsSync(paths.peerKey);
        const peerId = peerKnown ? peerIdBytes(peerIdFromPrivateKey(await loadOrCreatePeerKey(config.dataDir))) : new Uint8Array();
        const [standing, balance, wallBalance] = await Promise.all([
          readStanding(chain, address, peerId, { ask: config.askPerSecond, models: [] }),
          chain.escrowBalance(address),
          chain.tokenBalance(address),
        ]);
        let journal: ReturnType<Journal["summary"]> | undefined;
        let vouchers: Array<{ jobId: string; seconds: number; redeemedSeconds: number }> = [];
        let claims: Array<{ jobId: string; segment: number; payState: string | null; disputableUntil: number | null }> = [];
        let liveJobs: string[] = [];
        if (existsSync(paths.journal)) {
          const j = Journal.open(paths.journal);
          try {
            journal = j.summary();
            liveJobs = j.listLiveJobs().map((x) => x.jobId);
            vouchers = j
              .listVouchers()
              .filter((v) => v.seconds > v.redeemedSeconds)
              .map((v) => ({ jobId: v.jobId, seconds: v.seconds, redeemedSeconds: v.redeemedSeconds }));
            claims = j
              .listAssignments({ state: "delivered" })
              .filter((a) => a.payState === "unpaid" || a.payState === "claimed" || a.payState === "disputed")
              .map((a) => ({ jobId: a.jobId, segment: a.segment, payState: a.payState, disputableUntil: a.disputableUntil }));
          } finally {
            j.close();
          }
        }
        // Each job still earning: until when this provider may redeem and claim (the challenge window of a job the
        // client settled without it, or the deadline plus the claim window), read from the escrow.
        const windows: Array<{ jobId: string; status: "open" | "closing"; claimsOpenAt: number; windowEndsAt: number }> = [];
        for (const jobId of liveJobs) {
          const job = await chain.getJob(jobId).catch(() => undefined);
          if (!job || (job.status !== JobStatus.Open && job.status !== JobStatus.Closing)) continue;
          const closing = job.status === JobStatus.Closing;
          windows.push({
            jobId,
            status: closing ? "closing" : "open",
            claimsOpenAt: closing ? 0 : job.deadline,
            windowEndsAt: closing ? job.closesAt : job.deadline + job.claimWindow,
          });
        }
        const value = {
          address,
          chainId: chain.chainId,
          registered: standing.registered,
          stake: standing.stake,
          minStake: standing.minStake,
          peerIdBound: peerKnown ? standing.peerIdBound : undefined,
          unstake: standing.unstakeAmount > 0n ? { amount: standing.unstakeAmount, availableAt: standing.unstakeAvailableAt } : undefined,
          escrowBalance: balance,
          walletBalance: wallBalance,
          earned: journal?.earned ?? 0n,
          withdrawn: journal?.withdrawn ?? 0n,
          pendingVoucherSeconds: journal?.pendingVoucherSeconds ?? 0,
          pendingVouchers: vouchers,
          claims,
          jobs: windows,
          segments: journal ? { ...journal.assignments, payments: journal.payments } : undefined,
          problems: standing.problems,
        };
        print(io, json, value, () => [
          `provider ${address} on chain ${chain.chainId}`,
          `registered: ${standing.registered ? "yes" : "no"}; stake ${formatMesh(standing.stake)} (minimum ${formatMesh(standing.minStake)})${peerKnown ? `; peer id bound: ${standing.peerIdBound ? "yes" : "no"}` : ""}`,
          ...(value.unstake
            ? [
                `unstake requested: ${formatMesh(value.unstake.amount)}, available ${new Date(value.unstake.availableAt * 1000).toISOString()}`,
              ]
            : []),
          `earned: ${formatMesh(value.earned)}; in escrow, ready to withdraw: ${formatMesh(balance)}; wallet: ${formatMesh(wallBalance)}`,
          `pending vouchers: ${value.pendingVoucherSeconds} second(s) over ${vouchers.length} job(s)`,
          `claims: ${claims.filter((c) => c.payState === "claimed").length} pending, ${claims.filter((c) => c.payState === "disputed").length} disputed; ${claims.filter((c) => c.payState === "unpaid").length} delivered segment(s) not yet paid`,
          ...windows.map((w) =>
            w.status === "closing"
              ? `  job ${w.jobId}: closing (settled without this provider's acknowledgement): redeem and claim until ${new Date(w.windowEndsAt * 1000).toISOString()}`
              : `  job ${w.jobId}: open; claims open after ${new Date(w.claimsOpenAt * 1000).toISOString()}, until ${new Date(w.windowEndsAt * 1000).toISOString()}`,
          ),
          // When each open claim pays: after its dispute window (pending), or at the latest when the arbiter's window ends (disputed).
          ...claims
            .filter((c) => (c.payState === "claimed" || c.payState === "disputed") && c.disputableUntil !== null)
            .map((c) =>
              c.payState === "claimed"
                ? `  claim ${c.jobId} segment ${c.segment}: pending; finalised and paid after ${new Date(c.disputableUntil! * 1000).toISOString()}`
                : `  claim ${c.jobId} segment ${c.segment}: disputed; the arbiter decides until ${new Date(c.disputableUntil! * 1000).toISOString()}, after that it is paid`,
            ),
          ...(journal
            ? [
                `segments: ${journal.assignments.delivered} delivered, ${journal.assignments.accepted} in progress, ${journal.assignments.released} given back`,
              ]
            : ["no journal yet in this data dir"]),
          ...standing.problems.map((p) => `missing: ${p.message} Fix: ${p.fix}`),
        ]);
      } finally {
        rpc.destroy();
      }
    },
  );

  commonOptions(program.command("withdraw").description("send your earnings held by the escrow to your wallet")).action(
    async (opts: Record<string, unknown>) => {
      const config = loadFor(opts, io);
      const { wallet, chain, rpc } = await connectChain(config, { env: io.env });
      try {
        const balance = await chain.escrowBalance(wallet.address);
        if (balance === 0n) {
          print(io, Boolean(opts.json), { withdrawn: 0n, tx: null }, () => [
            "nothing to withdraw: the escrow holds no balance for this provider",
          ]);
          return;
        }
        const tx = await chain.withdraw();
        const paths = dataPaths(config.dataDir);
        if (existsSync(paths.journal)) {
          const j = Journal.open(paths.journal);
          try {
            j.recordPayment({ kind: "withdraw", amount: tx.amount, tx: tx.hash });
          } finally {
            j.close();
          }
        }
        print(io, Boolean(opts.json), { withdrawn: tx.amount, tx: tx.hash }, () => [`withdrew ${formatMesh(tx.amount)} (tx ${tx.hash})`]);
      } finally {
        rpc.destroy();
      }
    },
  );

  commonOptions(
    program
      .command("unstake")
      .description("start unstaking (--request AMOUNT, then a cooldown) or take back unstaked tokens (--withdraw)")
      .option("--request <amount>", "stake to unstake: MESH (10) or base units (…wei), or `all`")
      .option("--withdraw", "withdraw stake whose cooldown has passed"),
  ).action(async (opts: Record<string, unknown>) => {
    if (Boolean(opts.request) === Boolean(opts.withdraw)) throw new UsageError("Pass exactly one of --request AMOUNT or --withdraw.");
    const config = loadFor({ ...opts, request: undefined, withdraw: undefined }, io);
    const json = Boolean(opts.json);
    const { wallet, chain, rpc } = await connectChain(config, { env: io.env });
    try {
      if (opts.request) {
        const entry = await chain.getProvider(wallet.address);
        let amount: bigint;
        try {
          amount = String(opts.request) === "all" ? entry.stake : parseTokenAmount(String(opts.request));
        } catch (err) {
          throw new UsageError(`--request: ${(err as Error).message}.`);
        }
        const tx = await chain.requestUnstake(amount);
        print(io, json, { requested: amount, availableAt: tx.availableAt, tx: tx.hash }, () => [
          `unstake of ${formatMesh(amount)} requested (tx ${tx.hash}); withdraw it with \`rendermesh-provider unstake --withdraw\` after ${new Date(tx.availableAt * 1000).toISOString()}`,
        ]);
      } else {
        const tx = await chain.withdrawStake();
        print(io, json, { withdrawn: tx.amount, tx: tx.hash }, () => [`withdrew ${formatMesh(tx.amount)} of stake (tx ${tx.hash})`]);
      }
    } finally {
      rpc.destroy();
    }
  });

  commonOptions(
    program
      .command("benchmark")
      .description("measure frames per second of each model at its reference size (no chain needed)")
      .option("--model <path>", "`default` or an ONNX file with <file>.manifest.json (repeat)", collect)
      .addOption(new Option("--device <device>", "cuda, cpu or auto").choices(["cuda", "cpu", "auto"]))
      .option("--batch-frames <n>", "frames per inference run")
      .option("--threads <n>", "CPU threads per ONNX Runtime session (default 0: every core)")
      .option("--concurrency <n>", "renders at once, each on a renderer of its own, as `start --concurrency` (default 1)")
      .option("--frames <n>", "timed frames (default 8)"),
  ).action(async (opts: Record<string, unknown>) => {
    const config = loadFor(opts, io);
    const json = Boolean(opts.json);
    const frames = opts.frames === undefined ? 8 : Number(opts.frames);
    if (!Number.isInteger(frames) || frames < 1) throw new UsageError("--frames must be a positive integer.");
    const logger = cliLogger(config, json);
    const models = await loadServedModels({
      sources: config.models,
      device: config.device,
      allowed: { has: () => true } as unknown as ReadonlySet<string>,
      batchFrames: config.batchFrames,
      threads: config.threads || undefined,
      renderers: config.concurrency,
      benchmarkFrames: frames,
      logger,
    });
    try {
      const renderers = config.concurrency;
      const rows = models.map((m) => ({
        id: m.id,
        name: m.name,
        device: m.renderer.device,
        fps: m.benchmarkFps,
        renderers,
        totalFps: m.benchmarkFps * renderers,
        reference: m.reference,
      }));
      print(io, json, { models: rows }, () =>
        rows.map(
          (r) =>
            `${r.name} ${r.id} on ${r.device}: ${r.fps.toFixed(2)} frames/s at ${r.reference.width}x${r.reference.height}` +
            (renderers > 1 ? ` per render, ${renderers} at once: ${r.totalFps.toFixed(2)} frames/s in all` : ""),
        ),
      );
    } finally {
      await Promise.allSettled(models.map((m) => m.renderer.close()));
    }
  });

  return program;
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 failure, 2 bad usage, 3 refused by the rules), errors reported by the shared reporter. */
export async function runCli(argv: string[], partial: Partial<Io> = {}): Promise<number> {
  const io: Io = {
    out: partial.out ?? ((t) => process.stdout.write(`${t}\n`)),
    err: partial.err ?? ((t) => process.stderr.write(`${t}\n`)),
    env: partial.env ?? process.env,
    stdinIsTTY: partial.stdinIsTTY ?? Boolean(process.stdin.isTTY),
    waitForSignal:
      partial.waitForSignal ??
      (() =>
        new Promise<string>((resolve) => {
          process.once("SIGINT", () => resolve("SIGINT"));
          process.once("SIGTERM", () => resolve("SIGTERM"));
        })),
    pipeline: partial.pipeline,
  };
  const program = buildCli(io);
  const json = argv.includes("--json");
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError && err.code === "commander.executeSubCommandAsync") return err.exitCode;
    // A group called without its command printed its help on stderr: that is bad usage too.
    if (err instanceof CommanderError && err.code === "commander.help") return 2;
    const path = commandPathOf(program, argv);
    const lines = (write: (t: string) => void) => ({ write: (t: string) => write(t.replace(/\n$/, "")) });
    return reportError(err, { json, commandPath: path, stdout: lines(io.out), stderr: lines(io.err) });
  }
}
