import { termHash } from "@rendermesh/shared";
import { describe, expect, test } from "vitest";
import { runCli } from "./dao-localchain.js";

/**
 * `rendermesh dao …` and `rendermesh policy …` without a chain: help, and
 * bad usage refused with one sentence and exit code 2 before anything
 * touches a chain or a wallet (no RPC is configured in these runs, so a
 * command that got past its argument checks would fail differently).
 */

const id = "12345";
const d = ["--description", "why"];

describe("dao and policy usage", () => {
  test("default: every command has --help", async () => {
    const commands = [
      ["dao"],
      ["dao", "delegate"],
      ["dao", "propose"],
      ...["block-term", "unblock-term", "allow-model", "disallow-model", "set-limits", "set-fees", "set-arbiter", "set-dispute-window"].map(
        (a) => ["dao", "propose", a],
      ),
      ["dao", "vote"],
      ["dao", "queue"],
      ["dao", "execute"],
      ["dao", "status"],
      ["dao", "list"],
      ["policy"],
      ["policy", "show"],
      ["policy", "check"],
      ["policy", "hash"],
    ];
    for (const c of commands) {
      const r = await runCli([...c, "--help"]);
      expect(r.code, c.join(" ")).toBe(0);
      expect(r.stdout, c.join(" ")).toContain(`Usage: rendermesh ${c.join(" ")}`);
      expect(r.stdout, c.join(" ")).toContain("--json");
    }
    const propose = await runCli(["dao", "propose", "--help"]);
    for (const a of [
      "block-term",
      "unblock-term",
      "allow-model",
      "disallow-model",
      "set-limits",
      "set-fees",
      "set-arbiter",
      "set-dispute-window",
    ])
      expect(propose.stdout).toContain(a);
    expect((await runCli(["dao", "propose", "set-limits", "--help"])).stdout).toContain("--max-seconds <n>");
    expect((await runCli(["dao", "vote", "--help"])).stdout).toContain("--reason <text>");
  });

  test("error: bad usage exits 2 with one sentence", async () => {
    const cases: Array<[string[], string]> = [
      [["dao", "vote", id, "maybe"], 'A vote is for, against or abstain, not "maybe".'],
      [["dao", "vote", "abc", "for"], '"abc" is not a proposal id.'],
      [["dao", "vote", id], "Missing required argument 'support'."],
      [["dao", "vote", id, "for", "extra"], "Too many arguments"],
      [["dao", "vote", id, "for", "--member", "0"], "--member must be between 1 and 1000, got 0."],
      [["dao", "queue"], "Missing required argument 'proposalId'."],
      [["dao", "execute", "0"], '"0" is not a proposal id'],
      [["dao", "status", "-5"], '"-5" is not a proposal id.'],
      [["dao", "delegate", "nobody"], 'ADDRESS must be an Ethereum address (0x and 40 hex digits), got "nobody".'],
      [["dao", "propose", "block-term", "fox"], "Required option '--description <text>' not specified."],
      [["dao", "propose", "block-term", ...d], "Missing required argument 'term'."],
      [
        ["dao", "propose", "block-term", "the red fox", ...d],
        'The term "the red fox" normalises to 3 words ("the red fox"), which could never match a prompt.',
      ],
      [["dao", "propose", "block-term", "!!!", ...d], 'The term "!!!" is empty once normalised'],
      [["dao", "propose", "block-term", "fox", "--description", " "], "--description must not be empty."],
      [["dao", "propose", "allow-model", "0x12", ...d], 'The model id must be 0x followed by 64 hex digits, got "0x12".'],
      [["dao", "propose", "set-limits", ...d], "Give at least one of --max-seconds, --max-width, --max-height, --max-fps."],
      [["dao", "propose", "set-limits", "--max-fps", "0", ...d], "--max-fps must be between 1 and 4294967295, got 0."],
      [
        ["dao", "propose", "set-fees", "--coordinator-bps", "9000", "--treasury-bps", "2000", ...d],
        "Fees of 9000 + 2000 basis points add up to more than 100 % (10000).",
      ],
      [["dao", "propose", "set-fees", ...d], "Give --coordinator-bps, --treasury-bps or both."],
      [["dao", "propose", "set-arbiter", "0x123", ...d], 'ADDRESS must be an Ethereum address (0x and 40 hex digits), got "0x123".'],
      [["dao", "propose", "set-dispute-window", "0", ...d], "SECONDS must be at least 1 second"],
      [["dao", "propose", "set-dispute-window", "soon", ...d], "SECONDS must be a number of seconds, or a number with s, m, h or d"],
      [["dao", "propose", "make-coffee", ...d], "Unknown command 'make-coffee'"],
      [["policy", "show", "--block", "latest"], '--block must be a whole number, got "latest".'],
      [["policy", "hash", "one two three"], 'The term "one two three" normalises to 3 words'],
      [["policy", "check", "..."], "The text is empty once normalised."],
    ];
    for (const [args, sentence] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).toContain(sentence);
      expect(
        r.stderr.split("\n").filter((l) => l.startsWith("Error: ")),
        args.join(" "),
      ).toHaveLength(1);
    }
  });

  test("error: --json prints the usage error as JSON too", async () => {
    const r = await runCli(["dao", "vote", id, "maybe", "--json"]);
    expect(r.code).toBe(2);
    expect(r.json()).toMatchObject({
      ok: false,
      error: { code: "USAGE", exitCode: 2, message: 'A vote is for, against or abstain, not "maybe".' },
    });
  });

  test("error: a chain command with no chain configured says how to configure one", async () => {
    const r = await runCli(["dao", "list"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Error: No chain is configured.");
  });

  test("default: policy hash needs no chain and prints the normalised form", async () => {
    const r = await runCli(["policy", "hash", "Red, FOX!", "fox", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json()).toEqual([
      { input: "Red, FOX!", normalised: "red fox", hash: termHash("red fox"), changed: true },
      { input: "fox", normalised: "fox", hash: termHash("fox"), changed: false },
    ]);
    const human = await runCli(["policy", "hash", "Red, FOX!"]);
    expect(human.stdout).toBe(`${termHash("red fox")}  "red fox"  (from "Red, FOX!")\n`);
  });
});
