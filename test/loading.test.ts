import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, test } from "vitest";

// No part loads what it does not use: ONNX Runtime's native binding and
// Helia are heavy (together most of a second and ~90 MB), so the client CLI
// loads them only for a command that renders or moves segments, and the
// coordinator, which does neither, never. Each case runs a real child
// process from source with a resolve hook that records every module it
// loads (Node's own loader, so nothing can slip past), then asserts on that
// list. Wall time and memory are measured in `pnpm bench`, not here.

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "rm-loading-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAVY = [
  { name: "ONNX Runtime", re: /\/onnxruntime-(node|common)\// },
  { name: "Helia", re: /\/(helia|@helia\/[^/]+)\/dist\// },
];

let runs = 0;
/** Runs `entry` with `argv` and resolves to the modules it loaded and its exit code. */
function modulesLoadedBy(
  entry: string,
  argv: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; modules: string[]; stderr: string }> {
  const log = join(dir, `modules-${runs++}.txt`);
  const child = spawn(
    process.execPath,
    [
      "--conditions=@rendermesh/source",
      "--experimental-transform-types",
      "--no-warnings",
      "--import",
      "./test/fixtures/module-log.mjs",
      entry,
      ...argv,
    ],
    {
      cwd: root,
      env: { ...process.env, RENDERMESH_MODULE_LOG: log, RENDERMESH_DEV_FILE: join(dir, "no-dev.json"), ...env },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, modules: readFileSync(log, "utf8").split("\n"), stderr })));
}

const heavyIn = (modules: string[]) => HEAVY.filter((h) => modules.some((m) => h.re.test(m))).map((h) => h.name);

describe("what each part loads", () => {
  test("the probe sees a heavy module when one is loaded (so an empty answer below means something)", async () => {
    const r = await modulesLoadedBy("packages/shared/src/ipfs/index.ts", []);
    expect(r.code, r.stderr).toBe(0);
    expect(heavyIn(r.modules)).toContain("Helia");
  }, 60_000);

  test("default: `rendermesh --help` loads neither ONNX Runtime nor Helia", async () => {
    const r = await modulesLoadedBy("packages/client/test/support/cli-entry.ts", ["--help"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.modules.some((m) => m.includes("/packages/client/src/cli/index.ts"))).toBe(true);
    expect(heavyIn(r.modules)).toEqual([]);
  }, 60_000);

  test("default: `rendermesh policy show` loads neither ONNX Runtime nor Helia", async () => {
    // No chain answers at this address: the command fails after loading everything it needs.
    const r = await modulesLoadedBy("packages/client/test/support/cli-entry.ts", ["policy", "show", "--rpc-url", "http://127.0.0.1:9"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not answer/);
    expect(r.modules.some((m) => m.includes("/packages/client/src/cli/policy.ts"))).toBe(true);
    expect(heavyIn(r.modules)).toEqual([]);
  }, 60_000);

  test("default: the coordinator (its package and its CLI) never loads ONNX Runtime or Helia", async () => {
    const pkg = await modulesLoadedBy("packages/coordinator/src/index.ts", []);
    expect(pkg.code, pkg.stderr).toBe(0);
    expect(pkg.modules.some((m) => m.includes("/packages/coordinator/src/coordinator.ts"))).toBe(true);
    expect(heavyIn(pkg.modules)).toEqual([]);
    const cli = await modulesLoadedBy("packages/coordinator/src/cli.ts", ["--help"]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(heavyIn(cli.modules)).toEqual([]);
  }, 60_000);
});
