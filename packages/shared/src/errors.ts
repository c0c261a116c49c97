/**
 * One error base for every Rendermesh package, after viem's `BaseError`: a
 * stable `code` that scripts and tests match on, a one-sentence message, an
 * optional hint that tells the user what to do, detail lines, and the `cause`
 * that a low-level failure was wrapped from.
 */
export interface BaseErrorOptions {
  /** What to do about it, shown as "Fix: …". */
  hint?: string | undefined;
  /** Extra lines (values, paths, ids) that help debugging. */
  details?: readonly string[] | undefined;
  cause?: unknown;
}

export class BaseError extends Error {
  override name = "BaseError";
  readonly code: string;
  readonly shortMessage: string;
  readonly hint: string | undefined;
  readonly details: readonly string[];

  constructor(code: string, shortMessage: string, options: BaseErrorOptions = {}) {
    const lines = [shortMessage];
    if (options.details?.length) lines.push("", ...options.details);
    if (options.hint) lines.push("", `Fix: ${options.hint}`);
    super(lines.join("\n"), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.shortMessage = shortMessage;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }

  /** Walks the `cause` chain; returns the first error `fn` accepts. */
  walk(fn: (err: unknown) => boolean): unknown {
    if (fn(this)) return this;
    let err: unknown = this.cause;
    while (err !== undefined && err !== null) {
      if (fn(err)) return err;
      err = (err as { cause?: unknown }).cause;
    }
    return undefined;
  }

  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.shortMessage, hint: this.hint, details: this.details };
  }
}

/** A configuration value, file or flag is wrong; the message names the field. */
export class ConfigError extends BaseError {
  override name = "ConfigError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("CONFIG_INVALID", shortMessage, options);
  }
}

/** Bad usage of a command (unknown flag, missing argument): CLIs exit with 2. */
export class UsageError extends BaseError {
  override name = "UsageError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("USAGE", shortMessage, options);
  }
}

/** Turns anything thrown into a BaseError without losing the original. */
export function toBaseError(err: unknown, code = "INTERNAL"): BaseError {
  if (err instanceof BaseError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new BaseError(code, message, { cause: err });
}
