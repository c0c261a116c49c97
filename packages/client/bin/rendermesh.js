#!/usr/bin/env node
// The `rendermesh` CLI. Runs the built package (dist/); run `pnpm build` first.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli", "index.js");
if (!existsSync(entry)) {
  process.stderr.write("Error: the rendermesh CLI is not built.\nFix: run `pnpm build` first (at the repository root).\n");
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
process.exitCode = await main(process.argv.slice(2));
