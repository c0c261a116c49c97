#!/usr/bin/env node
// Runs the built CLI (dist/). From a fresh checkout: `pnpm build` first.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli-main.js");
if (!existsSync(entry)) {
  process.stderr.write("rendermesh-arbiter is not built yet: run `pnpm build` first (from the repo root).\n");
  process.exit(1);
}
const { main } = await import(pathToFileURL(entry).href);
await main();
