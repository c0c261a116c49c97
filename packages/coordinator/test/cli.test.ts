import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { tsNodeArgs } from "@rendermesh/testing";
import { describe, expect, test } from "vitest";

// The coordinator CLI as a user runs it: a child process (the CLI ends with
// process.exit), from source. Its errors go through the shared reporter, so
// the lines and the --json document are those of the other two CLIs.

const root = fileURLToPath(new URL("../../..", import.meta.url));

function coordinatorCli(argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...tsNodeArgs(), "packages/coordinator/src/cli.ts", ...argv], {
    cwd: root,
    env: { ...process.env, RENDERMESH_PRIVATE_KEY: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
}

describe("rendermesh-coordinator CLI errors", () => {
  test("error: an unknown flag exits 2 with the shared sentence and fix", async () => {
    const r = await coordinatorCli(["start", "--gpu", "9"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("Error: Unknown option '--gpu'.\nFix: Run `rendermesh-coordinator start --help` for the usage.\n");
    expect(r.stdout).toBe("");
  }, 60_000);

  test("error: with --json a bad flag is one JSON error document on stdout, the same shape as every CLI's", async () => {
    const r = await coordinatorCli(["status", "--json", "--gpu", "9"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      error: {
        code: "USAGE",
        message: "Unknown option '--gpu'.",
        hint: "Run `rendermesh-coordinator status --help` for the usage.",
        exitCode: 2,
      },
    });
  }, 60_000);

  test("error: a bad config value exits 2 naming the field", async () => {
    const r = await coordinatorCli(["start", "--json", "--fee-bps", "lots"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: "CONFIG_INVALID", exitCode: 2 } });
    expect(r.stderr).toMatch(/^Error: .*feeBps/m);
  }, 60_000);

  test("error: a coordinator that does not answer is a failure (exit 1), not bad usage", async () => {
    const r = await coordinatorCli(["status", "--json", "--url", "http://127.0.0.1:9"]);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, error: { code: "UNREACHABLE", exitCode: 1 } });
  }, 60_000);
});
