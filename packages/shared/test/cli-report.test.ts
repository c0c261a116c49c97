import { describe, expect, test } from "vitest";
import { BaseError, ConfigError, RefusalError, UsageError } from "../src/index.js";
import { commandPathOf, errorDocument, exitCodeOf, reportError } from "../src/cli/index.js";

const sink = () => {
  let text = "";
  return {
    write: (s: string) => void (text += s),
    get text() {
      return text;
    },
  };
};

describe("the CLI error reporter", () => {
  test("behavior: exit 2 for bad usage and config, 3 for a refusal by the rules, 1 otherwise", () => {
    expect(exitCodeOf(new UsageError("bad"))).toBe(2);
    expect(exitCodeOf(new ConfigError("bad"))).toBe(2);
    expect(exitCodeOf(Object.assign(new Error("error: unknown option '--x'"), { code: "commander.unknownOption", exitCode: 1 }))).toBe(2);
    expect(exitCodeOf(new RefusalError("POLICY_BLOCKED_TERM", "The prompt is blocked."))).toBe(3);
    expect(exitCodeOf(new BaseError("CHAIN", "down"))).toBe(1);
    expect(exitCodeOf(new Error("boom"))).toBe(1);
  });

  test("default: one human line and its fix on stderr; with --json exactly one document on stdout", () => {
    const out = sink();
    const err = sink();
    const code = reportError(new RefusalError("POLICY_BLOCKED_TERM", "The prompt is blocked.", { hint: "Change the prompt." }), {
      commandPath: "x",
      json: true,
      stdout: out,
      stderr: err,
    });
    expect(code).toBe(3);
    expect(err.text).toBe("Error: The prompt is blocked.\nFix: Change the prompt.\n");
    expect(JSON.parse(out.text)).toEqual({
      ok: false,
      error: { code: "POLICY_BLOCKED_TERM", message: "The prompt is blocked.", hint: "Change the prompt.", exitCode: 3 },
    });
  });

  test("behavior: a commander error names the command to ask --help of", () => {
    const program = { name: () => "tool", aliases: () => [], commands: [{ name: () => "start", aliases: () => [], commands: [] }] };
    expect(commandPathOf(program, ["start", "--gpu", "9"])).toBe("tool start");
    const doc = errorDocument(
      Object.assign(new Error("error: unknown option '--gpu'"), { code: "commander.unknownOption", exitCode: 1 }),
      "tool start",
    );
    expect(doc).toEqual({
      ok: false,
      error: { code: "USAGE", message: "Unknown option '--gpu'.", hint: "Run `tool start --help` for the usage.", exitCode: 2 },
    });
  });
});
