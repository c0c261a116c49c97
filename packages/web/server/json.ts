import { BaseError } from "@rendermesh/shared";

/** JSON for the page: bigints become decimal strings (the page parses amounts with ethers). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
}

/** What the page shows for a failure: the same code, sentence and fix as the CLI prints. */
export interface ErrorBody {
  code: string;
  name: string;
  message: string;
  hint: string | undefined;
  details: readonly string[];
  /** 2 for bad input, 3 for a refusal by the rules, 1 otherwise (the CLI's exit codes). */
  exitCode: number;
}

export function errorBody(err: unknown): ErrorBody {
  if (err instanceof BaseError) {
    const exitCode = (err as { exitCode?: unknown }).exitCode;
    const usage = ["USAGE", "CONFIG_INVALID", "INVALID_SPEC"].includes(err.code);
    return {
      code: err.code,
      name: err.name,
      message: err.shortMessage,
      hint: err.hint,
      details: err.details,
      exitCode: typeof exitCode === "number" ? exitCode : usage ? 2 : 1,
    };
  }
  const message = err instanceof Error ? (err.message.split("\n")[0] ?? err.message) : String(err);
  return { code: "INTERNAL", name: err instanceof Error ? err.name : "Error", message, hint: undefined, details: [], exitCode: 1 };
}

/** HTTP status for an error body: 400 bad input, 409 refused by the rules, 500 otherwise. */
export function statusOf(body: ErrorBody): number {
  return body.exitCode === 2 ? 400 : body.exitCode === 3 ? 409 : 500;
}
