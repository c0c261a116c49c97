import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { Wallet } from "ethers";
import { runCli } from "./support/cli.js";
import { tempDir } from "./support/network.js";

// The CLI in-process with no chain at all: every bad flag must be caught
// before anything is dialled or signed, as one sentence and exit code 2.

const dir = tempDir("rm-cli-");
afterAll(() => dir.cleanup());

/** No dev network, no RPC, no key: a bare environment. */
const bare = {
  RENDERMESH_DEV_FILE: join(dir.dir, "no-dev.json"),
  RENDERMESH_RPC_URL: undefined,
  RENDERMESH_PRIVATE_KEY: undefined,
  RENDERMESH_KEYSTORE: undefined,
  RENDERMESH_COORDINATOR: undefined,
  RENDERMESH_DATA_DIR: join(dir.dir, "data"),
  RENDERMESH_KEYSTORE_PASSWORD: undefined,
};

const USAGE: Array<[string, string[], RegExp]> = [
  [
    "a non-numeric --seconds",
    ["job", "submit", "--prompt", "sea", "--seconds", "abc"],
    /^Error: --seconds must be a whole number, got "abc"\.$/m,
  ],
  ["a missing --seconds", ["job", "submit", "--prompt", "sea"], /^Error: --seconds is required\.$/m],
  ["a missing --prompt", ["job", "submit", "--seconds", "2"], /^Error: --prompt is required and must not be empty\.$/m],
  [
    "an odd --size",
    ["job", "submit", "--prompt", "sea", "--seconds", "2", "--size", "33x32"],
    /^Error: --size must have even width and height/m,
  ],
  ["a malformed --size", ["job", "submit", "--prompt", "sea", "--seconds", "2", "--size", "big"], /^Error: --size must be WIDTHxHEIGHT/m],
  [
    "a zero --fps",
    ["job", "submit", "--prompt", "sea", "--seconds", "2", "--fps", "0"],
    /^Error: --fps must be between 1 and 240, got 0\.$/m,
  ],
  [
    "a bad --max-price",
    ["job", "submit", "--prompt", "sea", "--seconds", "2", "--max-price", "cheap"],
    /^Error: --max-price must be an amount of MESH/m,
  ],
  [
    "a bad --model",
    ["job", "submit", "--prompt", "sea", "--seconds", "2", "--model", "default"],
    /^Error: --model must be 0x followed by 64 hex digits/m,
  ],
  [
    "a bad --coordinator",
    ["job", "submit", "--prompt", "sea", "--seconds", "2", "--coordinator", "localhost:4001"],
    /^Error: --coordinator must be a multiaddr/m,
  ],
  ["an unknown option", ["job", "submit", "--prompt", "sea", "--seconds", "2", "--colour", "red"], /^Error: Unknown option '--colour'\.$/m],
  ["an unknown command", ["jobs", "list"], /^Error: Unknown command 'jobs'\./m],
  ["a misspelt subcommand", ["job", "submitt"], /^Error: Unknown command 'submitt'\. Did you mean submit\?$/m],
  ["a malformed job id", ["job", "resume", "0x1234"], /^Error: JOB_ID must be 0x followed by 64 hex digits, got "0x1234"\.$/m],
  ["a malformed job id to attribute", ["job", "attribute", "0x12"], /^Error: JOB_ID must be 0x followed by 64 hex digits, got "0x12"\.$/m],
  ["a missing job id", ["job", "status"], /^Error: Missing required argument 'jobId'\.$/m],
  ["a bad deposit amount", ["deposit", "lots"], /^Error: AMOUNT must be an amount of MESH such as 2 or 0\.25, got "lots"\.$/m],
  ["a zero deposit", ["deposit", "0"], /^Error: AMOUNT must be more than 0 MESH\.$/m],
  ["a missing deposit amount", ["deposit"], /^Error: Missing required argument 'amount'\.$/m],
  [
    "both funding flags",
    ["job", "submit", "--prompt", "sea", "--seconds", "2", "--from-deposit", "--from-wallet"],
    /^Error: Give --from-deposit or --from-wallet, not both\.$/m,
  ],
  ["a bad faucet amount", ["token", "faucet", "--amount", "1.2.3"], /^Error: --amount must be an amount of MESH/m],
  ["a bad address", ["wallet", "balance", "0x12"], /^Error: ADDRESS must be an Ethereum address/m],
  ["no chain configured", ["job", "submit", "--prompt", "sea", "--seconds", "2"], /^Error: No chain is configured\.$/m],
  ["a bad RPC URL", ["--rpc-url", "ftp://x", "job", "status", `0x${"11".repeat(32)}`], /^Error: Invalid config field "rpcUrl"/m],
  ["a missing --config file", ["--config", join(dir.dir, "nope.json"), "wallet", "address"], /^Error: Cannot read config file/m],
];

describe("rendermesh CLI usage", () => {
  test.each(USAGE)("error: %s exits 2 with one sentence and the fix", async (_name, argv, message) => {
    const r = await runCli(argv, bare);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^Error: [^\n]+[.?]$/);
    expect(lines.slice(1).every((l) => l.startsWith("Fix: "))).toBe(true);
    expect(r.stdout).toBe("");
  });

  test("behavior: with --json a usage error is also one JSON object on stdout", async () => {
    const r = await runCli(["job", "submit", "--json", "--prompt", "sea", "--seconds", "x"], bare);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      error: { code: "USAGE", exitCode: 2, message: '--seconds must be a whole number, got "x".' },
    });
  });

  test("behavior: with --json a bad flag prints exactly the error document every Rendermesh CLI prints", async () => {
    const r = await runCli(["job", "submit", "--json", "--colour", "red"], bare);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({
      ok: false,
      error: {
        code: "USAGE",
        message: "Unknown option '--colour'.",
        hint: "Run `rendermesh job submit --help` for the usage.",
        exitCode: 2,
      },
    });
  });

  test("behavior: with --json a refusal by the rules exits 3 with the same document shape", async () => {
    const r = await runCli(["token", "faucet", "--json"], bare);
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      error: { code: expect.any(String), message: expect.stringMatching(/^The faucet works only on the local dev network/), exitCode: 3 },
    });
  });

  test("default: --help and --version exit 0", async () => {
    const help = await runCli(["job", "submit", "--help"], bare);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--max-price <mesh>/);
    const version = await runCli(["--version"], bare);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test("error: the faucet refuses outside the dev network (exit 3)", async () => {
    const r = await runCli(["token", "faucet"], bare);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^Error: The faucet works only on the local dev network/m);
  });

  test("error: no key configured says how to configure one", async () => {
    const r = await runCli(["wallet", "address"], bare);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^Error: No key configured\.$/m);
    expect(r.stderr).toMatch(/^Fix: Set RENDERMESH_PRIVATE_KEY/m);
  });
});

describe("rendermesh wallet", () => {
  test("default: create writes an encrypted keystore that address then uses", async () => {
    const env = { ...bare, RENDERMESH_DATA_DIR: join(dir.dir, "w1"), RENDERMESH_KEYSTORE_PASSWORD: "correct horse battery" };
    const created = await runCli(["wallet", "create", "--json"], env);
    expect(created.code).toBe(0);
    const { address, keystore } = JSON.parse(created.stdout) as { address: string; keystore: string };
    expect(keystore).toBe(join(dir.dir, "w1", "keystore.json"));
    expect(existsSync(keystore)).toBe(true);
    expect(readFileSync(keystore, "utf8")).not.toMatch(/privateKey/i);
    const shown = await runCli(["wallet", "address"], env);
    expect(shown).toMatchObject({ code: 0, stdout: `${address}\n` });
    // Never overwritten.
    const again = await runCli(["wallet", "create"], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists; not overwriting it/);
  });

  test("default: import encrypts the key from RENDERMESH_PRIVATE_KEY", async () => {
    const w = Wallet.createRandom();
    const env = {
      ...bare,
      RENDERMESH_DATA_DIR: join(dir.dir, "w2"),
      RENDERMESH_KEYSTORE_PASSWORD: "correct horse battery",
      RENDERMESH_PRIVATE_KEY: w.privateKey,
    };
    const r = await runCli(["wallet", "import"], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Imported wallet ${w.address}`));
    const shown = await runCli(["wallet", "address", "--json"], { ...env, RENDERMESH_PRIVATE_KEY: undefined });
    expect(JSON.parse(shown.stdout)).toEqual({ address: w.address, source: "keystore" });
  });

  test("error: a keystore with the wrong password is refused", async () => {
    const env = { ...bare, RENDERMESH_DATA_DIR: join(dir.dir, "w1"), RENDERMESH_KEYSTORE_PASSWORD: "wrong password!" };
    const r = await runCli(["wallet", "address"], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: Cannot decrypt keystore .*wrong password/m);
  });

  test("error: a short keystore password is bad usage", async () => {
    const r = await runCli(["wallet", "create"], { ...bare, RENDERMESH_KEYSTORE_PASSWORD: "short" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/at least 8 characters/);
  });
});
