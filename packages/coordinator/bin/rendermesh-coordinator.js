#!/usr/bin/env node
// Runs the built CLI; says what to do when it has not been built yet.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const cli = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli.js");
if (!existsSync(cli)) {
  process.stderr.write("rendermesh-coordinator is not built yet: run `pnpm build` first.\n");
  process.exit(1);
}
await import(pathToFileURL(cli).href);
