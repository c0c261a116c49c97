import { Command, CommanderError } from "commander";
import { commandPathOf } from "@rendermesh/shared/cli";
import { addGlobalOptions, cliIo, commandPath, reportError, type GlobalFlags } from "./common.js";
import { registerDaoCommands } from "./dao.js";
import { registerEscrowCommands } from "./escrow.js";
import { registerJobCommands } from "./job.js";
import { registerPolicyCommands } from "./policy.js";
import { registerTokenCommands } from "./token.js";
import { registerVerifyCommand } from "./verify.js";
import { registerWalletCommands } from "./wallet.js";

/**
 * The `rendermesh` CLI: jobs (quote, submit, resume, status, refund,
 * verify), `verify` of a video's Content Credentials, the wallet, the escrow deposit account (deposit, withdraw), the dev faucet, and the DAO and policy commands.
 */
export const CLI_VERSION = "0.1.0";

export interface CliIo {
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

export function buildProgram(io: CliIo = {}): Command {
  const stdout = io.stdout ?? process.stdout;
  const program = new Command("rendermesh")
    .description("Rendermesh: AI video generation paid per verified second.")
    .version(CLI_VERSION, "-V, --version")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void stdout.write(s),
      // Help shown for a missing subcommand goes to stderr; commander's own
      // error text is replaced by one sentence from reportError.
      writeErr: (s) => void cliIo.stderr.write(s),
      outputError: () => undefined,
    });
  addGlobalOptions(program);
  registerJobCommands(program);
  registerVerifyCommand(program);
  registerWalletCommands(program);
  registerEscrowCommands(program);
  registerTokenCommands(program);
  registerDaoCommands(program);
  registerPolicyCommands(program);
  // Help goes through writeOut; keep writeErr silent for every subcommand too.
  const silence = (cmd: Command) => {
    cmd.exitOverride().configureOutput({
      writeOut: (s) => void stdout.write(s),
      writeErr: (s) => void cliIo.stderr.write(s),
      outputError: () => undefined,
    });
    cmd.commands.forEach(silence);
  };
  silence(program);
  return program;
}

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function main(argv: string[], io: CliIo = {}): Promise<number> {
  cliIo.stdout = io.stdout ?? process.stdout;
  cliIo.stderr = io.stderr ?? process.stderr;
  const program = buildProgram(io);
  let active: Command = program;
  program.hook("preAction", (_this, action) => {
    active = action;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError && (err.code === "commander.helpDisplayed" || err.code === "commander.version")) return 0;
    // A command with subcommands called without one: its help went to stderr; that is bad usage.
    if (err instanceof CommanderError && err.code === "commander.help") return 2;
    const path = err instanceof CommanderError ? commandPathOf(program, argv) : commandPath(active);
    const json = (active.optsWithGlobals() as GlobalFlags).json ?? argv.includes("--json");
    return reportError(err, { json, commandPath: path });
  }
}
