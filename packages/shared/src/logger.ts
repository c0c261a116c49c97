import { pino, type Logger, type LoggerOptions, type DestinationStream } from "pino";

export type { Logger } from "pino";

/**
 * Keys that may hold secrets anywhere in a log object. Private keys,
 * keystore passwords and signatures-in-progress never reach a log line.
 * A job's `seed` is deliberately not here: it is part of the public job spec,
 * and hiding it would hide every spec's seed from the logs.
 */
export const REDACTED_KEYS = [
  "privateKey",
  "key",
  "secret",
  "password",
  "passphrase",
  "mnemonic",
  "authorization",
  "apiKey",
  "keystorePassword",
] as const;

const redactPaths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export interface CreateLoggerOptions {
  /** Component name; becomes the `component` field, like js-libp2p's `libp2p:identify` scopes. */
  name: string;
  level?: string;
  destination?: DestinationStream;
}

/**
 * A pino logger with secrets redacted. Level from `opts.level`, else
 * RENDERMESH_LOG_LEVEL, else info. Logs go to stderr (synchronously, so a
 * process killed at any moment has logged all it did): stdout belongs to a
 * command's result, and `--json` prints exactly one JSON document there.
 */
export function createLogger(opts: CreateLoggerOptions): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? process.env.RENDERMESH_LOG_LEVEL ?? "info",
    base: { component: opts.name },
    redact: { paths: redactPaths, censor: "[redacted]" },
    serializers: { err: pino.stdSerializers.err },
  };
  return pino(options, opts.destination ?? pino.destination({ dest: 2, sync: true }));
}
