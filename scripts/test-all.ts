// Runs every test suite the project has — the packages' and cross-package
// vitest suites, then the Hardhat (Solidity + mocha) tests — and ends with
// one summary table and a plain "N passed, N failed" line.
import { spawn } from "node:child_process";

interface Suite {
  name: string;
  cmd: string;
  args: string[];
  parse: (out: string) => { passed: number; failed: number; skipped: number };
}

// Colour codes would get in the way of parsing the runners' own summaries.
const env = { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" };

const num = (re: RegExp, s: string) => Number(re.exec(s)?.[1] ?? 0);

const suites: Suite[] = [
  {
    name: "build (tsc)",
    cmd: "pnpm",
    args: ["run", "build"],
    parse: () => ({ passed: 0, failed: 0, skipped: 0 }),
  },
  {
    name: "vitest (packages + e2e)",
    cmd: "pnpm",
    args: ["exec", "vitest", "run", ...process.argv.slice(2)],
    parse: (out) => {
      const line = /^\s*Tests\s+(.*)$/m.exec(out)?.[1] ?? "";
      return { passed: num(/(\d+) passed/, line), failed: num(/(\d+) failed/, line), skipped: num(/(\d+) skipped/, line) };
    },
  },
  {
    name: "hardhat (solidity + mocha)",
    cmd: "pnpm",
    args: ["run", "hardhat", "test"],
    parse: (out) => {
      const tail = /(\d+) passing \(.*\)\s*$/m.exec(out.split("Running Mocha tests").pop() ?? "");
      const total = /^(\d+) passing \(\d+ solidity, \d+ mocha\)/m.exec(out);
      return {
        passed: total ? Number(total[1]) : Number(tail?.[1] ?? 0),
        failed: num(/(\d+) failing/, out),
        skipped: num(/(\d+) pending/, out),
      };
    },
  },
];

function run(suite: Suite): Promise<{ code: number; out: string; seconds: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(suite.cmd, suite.args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const onData = (stream: NodeJS.WriteStream) => (chunk: Buffer) => {
      out += chunk.toString();
      stream.write(chunk);
    };
    child.stdout.on("data", onData(process.stdout));
    child.stderr.on("data", onData(process.stderr));
    child.on("close", (code) => resolve({ code: code ?? 1, out, seconds: (Date.now() - started) / 1000 }));
  });
}

const rows: Array<{ suite: string; status: string; passed: number; failed: number; skipped: number; seconds: string }> = [];
let failedSuites = 0;
let passed = 0;
let failed = 0;
let skipped = 0;
for (const suite of suites) {
  console.log(`\n=== ${suite.name} ===`);
  const { code, out, seconds } = await run(suite);
  const counts = suite.parse(out);
  const ok = code === 0 && counts.failed === 0;
  if (!ok) failedSuites++;
  passed += counts.passed;
  // A suite that failed without reporting failing tests (a crash, a build or
  // startup error) still counts as one failure in the closing line.
  failed += ok ? 0 : Math.max(1, counts.failed);
  skipped += counts.skipped;
  rows.push({ suite: suite.name, status: ok ? "ok" : `FAILED (exit ${code})`, ...counts, seconds: seconds.toFixed(1) });
  if (suite.name.startsWith("build") && !ok) break;
}

console.log("\n=== summary ===");
console.table(rows);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failedSuites ? 1 : 0);
