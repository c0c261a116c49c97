import { BaseError, ConfigError, UsageError } from "../errors.js";
import { RefusalError } from "../protocol/refusal.js";
import { InvalidJobSpecError } from "../spec/index.js";

/**
 * The one error reporter of the three Rendermesh CLIs (`rendermesh`,
 * `rendermesh-provider`, `rendermesh-coordinator`): the same exit codes, the
 * same human lines on stderr and the same `--json` error document on stdout.
 * It depends on the light core only, so a CLI can import it before it knows
 * which command runs.
 */

/** Exit codes every Rendermesh CLI uses. */
export const EXIT = {
  ok: 0,
  /** A failure at run time: chain, network, verification, storage. */
  failure: 1,
  /** Bad usage: unknown flag or command, missing or malformed argument, bad config. */
  usage: 2,
  /** Refused by the rules: the content policy, a peer's typed refusal, the chain's rules. */
  refused: 3,
} as const;

/** What `--json` prints on stdout when a command fails (one document, nothing else on stdout). */
export interface CliErrorDocument {
  ok: false;
  error: {
    /** Stable code scripts match on: the error's `code`, `USAGE` for bad usage, `INTERNAL` for an unexpected failure. */
    code: string;
    /** One sentence: what went wrong. */
    message: string;
    /** What to do about it, when known. */
    hint?: string | undefined;
    /** The exit code the process ends with. */
    exitCode: number;
  };
}

/** Commander's error, recognised by shape so each CLI may bring its own copy of commander. */
interface CommanderLikeError {
  code: string;
  exitCode: number;
  message: string;
}

export function isCommanderError(err: unknown): err is CommanderLikeError {
  if (!(err instanceof Error)) return false;
  const e = err as Error & Partial<CommanderLikeError>;
  return typeof e.code === "string" && e.code.startsWith("commander.") && typeof e.exitCode === "number";
}

/** The exit code for an error: 2 for bad usage or config, 3 for a refusal by the rules, else 1. */
export function exitCodeOf(err: unknown): number {
  if (isCommanderError(err)) {
    if (err.code === "commander.helpDisplayed" || err.code === "commander.version") return EXIT.ok;
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof InvalidJobSpecError) return EXIT.usage;
  if (err instanceof RefusalError) return EXIT.refused;
  // A part's own error may carry its exit code (the client's ClientError does).
  const own = (err as { exitCode?: unknown } | null)?.exitCode;
  if (err instanceof BaseError && typeof own === "number" && Number.isInteger(own) && own >= 1 && own <= 3) return own;
  // No wallet key configured is a missing setting, not a failure of the command.
  if (err instanceof BaseError && err.code === "WALLET" && /No key configured/.test(err.shortMessage)) return EXIT.usage;
  return EXIT.failure;
}

/** Commander's "error: unknown option '--x'" as a sentence that says what to run. */
function commanderSentence(err: CommanderLikeError, commandPath: string): { message: string; hint: string } {
  const text = err.message.replace(/^error:\s*/i, "").split("\n")[0] ?? err.message;
  const sentence = `${text.charAt(0).toUpperCase()}${text.slice(1)}${/[.?!]$/.test(text) ? "" : "."}`;
  const suggestion = /\(Did you mean (.*)\?\)/.exec(err.message)?.[1];
  return {
    message: suggestion ? `${sentence} Did you mean ${suggestion}?` : sentence,
    hint: `Run \`${commandPath} --help\` for the usage.`,
  };
}

/** One sentence, a fix and a stable code for any error, as every CLI prints it. */
export function describeError(err: unknown, commandPath: string): { code: string; message: string; hint: string | undefined } {
  if (isCommanderError(err)) return { code: "USAGE", ...commanderSentence(err, commandPath) };
  if (err instanceof BaseError) return { code: err.code, message: err.shortMessage, hint: err.hint };
  const message = err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err);
  return { code: "INTERNAL", message, hint: undefined };
}

/** The `--json` error document for an error. */
export function errorDocument(err: unknown, commandPath: string): CliErrorDocument {
  const d = describeError(err, commandPath);
  return {
    ok: false,
    error: { code: d.code, message: d.message, ...(d.hint === undefined ? {} : { hint: d.hint }), exitCode: exitCodeOf(err) },
  };
}

export interface ReportErrorOptions {
  /** The command that failed, e.g. "rendermesh job submit": named in the usage hint. */
  commandPath: string;
  /** With --json the error document goes to stdout too. */
  json?: boolean | undefined;
  stdout?: { write(text: string): unknown } | undefined;
  stderr?: { write(text: string): unknown } | undefined;
  /** Print the stack too (RENDERMESH_DEBUG=1). */
  debug?: boolean | undefined;
  /** The command already printed its one JSON document (with ok: false): print no second one. */
  resultPrinted?: boolean | undefined;
}

/**
 * Prints an error the way every command of every CLI does and returns the
 * exit code: `Error: <sentence>` and `Fix: <hint>` on stderr, and with
 * `--json` the error document on stdout.
 */
export function reportError(err: unknown, opts: ReportErrorOptions): number {
  const code = exitCodeOf(err);
  if (code === EXIT.ok) return code;
  const doc = errorDocument(err, opts.commandPath);
  const stderr = opts.stderr ?? process.stderr;
  stderr.write(`Error: ${doc.error.message}\n`);
  if (doc.error.hint) stderr.write(`Fix: ${doc.error.hint}\n`);
  if ((opts.debug ?? Boolean(process.env.RENDERMESH_DEBUG)) && err instanceof Error) stderr.write(`${err.stack ?? ""}\n`);
  const printed = opts.resultPrinted ?? (err as { resultPrinted?: boolean } | null)?.resultPrinted === true;
  if (opts.json && !printed) (opts.stdout ?? process.stdout).write(`${JSON.stringify(doc, null, 2)}\n`);
  return code;
}

/** The part of a commander `Command` that `commandPathOf` reads (so shared needs no commander). */
export interface CommandLike {
  name(): string;
  aliases(): string[];
  readonly commands: readonly CommandLike[];
}

/**
 * The space-separated path of the deepest command the leading words of argv
 * name, e.g. "rendermesh job submit": what a usage error's hint tells the user
 * to run `--help` on (commander has not picked the command yet when it fails).
 */
export function commandPathOf(program: CommandLike, argv: readonly string[]): string {
  const names = [program.name()];
  let cmd = program;
  for (const word of argv) {
    if (word.startsWith("-")) continue;
    const next = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) break;
    names.push(next.name());
    cmd = next;
  }
  return names.join(" ");
}
