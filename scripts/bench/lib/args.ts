import { MODEL_FAMILIES, type ModelFamily } from "../types.ts";

/** The figures the issue names, each the suite (file under scripts/bench/) that measures it. */
export const FIGURES: Readonly<Record<string, string>> = {
  pipeline: "provider",
  e2e: "e2e",
  verify: "client-verify",
  ipfs: "ipfs",
};

export interface BenchArgs {
  runs: number;
  /** Suites to run (file names without .ts); empty: all. */
  only: string[];
  families: ModelFamily[];
  json: boolean;
  help: boolean;
}

export const USAGE = `usage: pnpm bench [suite …] [--only <figure|suite>]… [--runs N] [--family field|diffusion] [--json]

Runs the benchmarks under scripts/bench/, each figure --runs times (default 3), and prints the
median with its spread (min–max and the interquartile range) and the load average before and
after. Targets are reported, never enforced.

  --only <figure>   one figure: ${Object.keys(FIGURES).join(", ")}, or a suite's file name (repeatable, or comma-separated)
  --runs N          measurements per figure (1..100)
  --family F        only this model family (field, diffusion); default both
  --json            one JSON document on stdout (progress goes to stderr); also written to bench/results.json
  --help            this text`;

export class UsageError extends Error {}

export function parseBenchArgs(argv: readonly string[], suites: readonly string[]): BenchArgs {
  const out: BenchArgs = { runs: 3, only: [], families: [...MODEL_FAMILIES], json: false, help: false };
  const pick = (name: string) => {
    for (const part of name.split(",").filter(Boolean)) {
      const suite = FIGURES[part] ?? suites.find((s) => s === part) ?? suites.find((s) => s.includes(part));
      if (!suite) throw new UsageError(`unknown figure or suite "${part}"; figures: ${Object.keys(FIGURES).join(", ")}; suites: ${suites.join(", ")}`);
      if (!out.only.includes(suite)) out.only.push(suite);
    }
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith("--")) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === "--help" || a === "-h") out.help = true;
    else if (a === "--json") out.json = true;
    else if (a === "--runs") {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 100) throw new UsageError(`--runs must be an integer in 1..100, got "${v}"`);
      out.runs = n;
    } else if (a === "--only") pick(value());
    else if (a === "--family") {
      const v = value();
      if (!(MODEL_FAMILIES as readonly string[]).includes(v)) throw new UsageError(`--family must be one of ${MODEL_FAMILIES.join(", ")}, got "${v}"`);
      out.families = [v as ModelFamily];
    } else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else pick(a);
  }
  return out;
}
