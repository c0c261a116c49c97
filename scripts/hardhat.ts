// Runs the Hardhat CLI with its network side-effects off. On an interactive
// terminal Hardhat 3 sends usage analytics and fetches a banner from GitHub;
// Rendermesh's tooling must reach nothing but the npm registry, so telemetry
// is disabled and Hardhat's stdout is a pipe (which it treats as
// non-interactive) that we forward unchanged.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "node_modules", "hardhat", "dist", "src", "cli.js");

const child = spawn(process.execPath, [bin, ...process.argv.slice(2)], {
  stdio: ["inherit", "pipe", "pipe"],
  env: { ...process.env, HARDHAT_DISABLE_TELEMETRY: "true", FORCE_COLOR: process.stdout.isTTY ? "1" : "0" },
});
child.stdout.pipe(process.stdout);
child.stderr.pipe(process.stderr);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => child.kill(sig));
child.on("close", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
