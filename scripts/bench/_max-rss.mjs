// Preloaded into the CLI under measurement: at exit, writes the process's
// peak resident set size (KiB, from getrusage) to $RENDERMESH_BENCH_RSS_FILE.
import { writeFileSync } from "node:fs";

process.on("exit", () => {
  if (process.env.RENDERMESH_BENCH_RSS_FILE) writeFileSync(process.env.RENDERMESH_BENCH_RSS_FILE, String(process.resourceUsage().maxRSS));
});
