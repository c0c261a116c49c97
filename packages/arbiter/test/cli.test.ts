import { describe, expect, test } from "vitest";
import { join } from "node:path";
import { tempDir } from "@rendermesh/testing";
import { runCli } from "../src/cli.js";
import { ArbiterJournal } from "../src/journal.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

describe("rendermesh-arbiter CLI", () => {
  test("default: --help prints the commands and exits 0", async () => {
    const c = capture();
    expect(await runCli(["--help"], c.io)).toBe(0);
    expect(c.out.join("\n")).toMatch(/run \[options\]/);
    expect(c.out.join("\n")).toMatch(/disputes \[options\]/);
  });

  test("error: bad usage exits 2 with one JSON error document on stdout", async () => {
    const c = capture();
    expect(await runCli(["run", "--json", "--deployment", "x.json", "--from-block", "soon"], c.io)).toBe(2);
    expect(c.out).toHaveLength(1);
    const doc = JSON.parse(c.out[0]!) as { ok: boolean; error: { code: string; message: string; exitCode: number } };
    expect(doc).toMatchObject({ ok: false, error: { code: "USAGE", exitCode: 2 } });
    expect(doc.error.message).toMatch(/--from-block/);
  });

  test("error: a missing deployment file is a config error (exit 2) that says what to pass", async () => {
    const c = capture();
    expect(await runCli(["run", "--json", "--deployment", "/nonexistent/31337.json"], c.io)).toBe(2);
    expect(JSON.parse(c.out[0]!)).toMatchObject({ ok: false, error: { code: "CONFIG_INVALID" } });
  });

  test("default: disputes --json lists the journal", async () => {
    const dir = tempDir("rm-arbiter-cli-");
    try {
      const journal = new ArbiterJournal(join(dir.dir, "arbiter.db"));
      journal.seen(`0x${"11".repeat(32)}`, 2, 40);
      journal.decide(`0x${"11".repeat(32)}`, 2, 40, "refuse", "sha256: mismatch");
      journal.seen(`0x${"22".repeat(32)}`, 0, 40);
      journal.decide(`0x${"22".repeat(32)}`, 0, 40, "pay", "the segment passes the client's verification");
      journal.resolved(`0x${"22".repeat(32)}`, 0, 40, `0x${"ab".repeat(32)}`, 3);
      journal.setLastBlock(41);
      journal.close();
      const c = capture();
      expect(await runCli(["disputes", "--json", "--data-dir", dir.dir], c.io)).toBe(0);
      expect(JSON.parse(c.out.join(""))).toEqual({
        ok: true,
        lastBlock: 41,
        disputes: [
          {
            jobId: `0x${"11".repeat(32)}`,
            segment: 2,
            block: 40,
            verdict: "refuse",
            reason: "sha256: mismatch",
            tx: null,
            attempts: 0,
            nextAt: null,
            batchSize: null,
          },
          {
            // resolved in one resolveDisputes transaction with two other disputes
            jobId: `0x${"22".repeat(32)}`,
            segment: 0,
            block: 40,
            verdict: "pay",
            reason: "the segment passes the client's verification",
            tx: `0x${"ab".repeat(32)}`,
            attempts: 0,
            nextAt: null,
            batchSize: 3,
          },
        ],
      });
    } finally {
      dir.cleanup();
    }
  });
});
