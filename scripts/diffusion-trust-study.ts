// The trust study of verification by committed steps (see
// packages/shared/src/model/pipeline/README.md for what it measures and the
// numbers it gave). 16 classes × --per-class segments (default 14: 224),
// spread over one worker process per core; then the frontier: the honest
// and the disguised-skip segments re-verified at each k of --frontier.
//
//   pnpm exec node scripts/diffusion-trust-study.ts [--pipeline models/diffusion-default/pipeline.json]
//     [--per-class 14] [--k N] [--workers N] [--frontier 1,2,3,4,5,6,7] [--json out.json] [--write]
//
// --write records the run: packages/shared/src/model/pipeline/trust-study.md
// (the tables), trust-study.json (every figure), and the summary block of the
// pipeline README between its trust-study markers.
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runTrustStudy, type TrustStudyResult } from "./lib/diffusion-trust.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pipelineDir = join(root, "packages", "shared", "src", "model", "pipeline");
const usage = `usage: diffusion-trust-study [--pipeline P.json] [--per-class N] [--k N] [--workers N] [--frontier 1,2,3] [--json out.json] [--write]`;

let values: ReturnType<typeof parse>["values"];
function parse() {
  return parseArgs({
    options: {
      pipeline: { type: "string", default: join(root, "models", "diffusion-default", "pipeline.json") },
      "per-class": { type: "string", default: "14" },
      k: { type: "string" },
      workers: { type: "string", default: String(availableParallelism()) },
      frontier: { type: "string", default: "1,2,3,4,5,6,7" },
      json: { type: "string" },
      write: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
}
try {
  ({ values } = parse());
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const int = (name: string, text: string | undefined, min: number): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    console.error(`--${name} must be an integer ≥ ${min}, got ${text}\n${usage}`);
    process.exit(2);
  }
  return n;
};
const perClass = int("per-class", values["per-class"], 1) as number;
const k = int("k", values.k, 1);
const workers = int("workers", values.workers, 1);
const frontier = (values.frontier ?? "").split(",").map((x) => int("frontier", x.trim(), 1) as number);

const loadBefore = loadavg()[0] as number;
const result = await runTrustStudy({ pipelinePath: values.pipeline, perClass, k, workers, frontier, log: (l) => console.error(l) });
const loadAfter = loadavg()[0] as number;

const command = [
  "pnpm exec node scripts/diffusion-trust-study.ts",
  `--per-class ${perClass}`,
  ...(k !== undefined ? [`--k ${k}`] : []),
  ...(values.pipeline !== join(root, "models", "diffusion-default", "pipeline.json")
    ? [`--pipeline ${relative(root, values.pipeline)}`]
    : []),
  "--write",
].join(" ");
const md = markdown(result, {
  command,
  machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, load average ${loadBefore.toFixed(1)} at the start and ${loadAfter.toFixed(1)} at the end`,
});
console.log(md);
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + "\n");
if (values.write) {
  writeFileSync(join(pipelineDir, "trust-study.md"), md);
  writeFileSync(join(pipelineDir, "trust-study.json"), JSON.stringify(result, null, 2) + "\n");
  const readmePath = join(pipelineDir, "README.md");
  const readme = readFileSync(readmePath, "utf8");
  const begin = "<!-- trust-study:begin (written by scripts/diffusion-trust-study.ts --write) -->";
  const end = "<!-- trust-study:end -->";
  const a = readme.indexOf(begin);
  const b = readme.indexOf(end);
  if (a < 0 || b < a) console.error(`README.md has no ${begin} … ${end} block; wrote trust-study.md and trust-study.json only.`);
  else writeFileSync(readmePath, readme.slice(0, a + begin.length) + "\n" + md + readme.slice(b));
  console.error(`wrote ${relative(root, join(pipelineDir, "trust-study.md"))}, trust-study.json and the README block`);
}

function markdown(r: TrustStudyResult, run: { command: string; machine: string }): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const exp = (x: number) => (Number.isFinite(x) ? x.toExponential(1) : "—");
  const db = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "—");
  const lines: string[] = [];
  lines.push(
    `Trust study of pipeline \`${r.pipeline.slice(0, 10)}…\`: ${r.segments} segments (${Object.keys(r.classes).length} classes × ${r.segments / Object.keys(r.classes).length}), ` +
      `${r.steps} steps, k = ${r.k} (k = 7 for a new provider), ${r.workers} worker processes, ` +
      `${(r.wallSeconds / 60).toFixed(1)} min wall on ${run.machine}. Command: \`${run.command}\`.`,
    "",
    "| delivered | n | accepted | refused by | denoiser relL2 (min..max) | text relL2 (max) | neighbour relL2 (min) | tile luma dB (min) | tile block dB (min) |",
    "|---|---|---|---|---|---|---|---|---|",
  );
  for (const [cls, c] of Object.entries(r.classes)) {
    const refused = Object.entries(c.refusedBy)
      .map(([check, n]) => `${check} ${n}`)
      .join(", ");
    const den =
      c.maxDenoiserRelL2 > 0 || Number.isFinite(c.minDenoiserRelL2) ? `${exp(c.minDenoiserRelL2)}..${exp(c.maxDenoiserRelL2)}` : "—";
    lines.push(
      `| ${cls} | ${c.n} | ${c.accepted} | ${refused || "—"} | ${den} | ${c.maxTextRelL2 > 0 ? exp(c.maxTextRelL2) : Number.isFinite(c.minTilePsnrDb) ? "0" : "—"} | ${exp(c.minNeighbourRelL2)} | ${db(c.minTilePsnrDb)} | ${db(c.minTileBlockPsnrDb)} |`,
    );
  }
  const wrong = Object.entries(r.classes).filter(([cls]) => !cls.startsWith("honest"));
  const wrongN = wrong.reduce((a, [, c]) => a + c.n, 0);
  const wrongAccepted = wrong.reduce((a, [, c]) => a + c.accepted, 0);
  lines.push(
    "",
    `Wrong segments accepted: **${pct(r.falseAccept)}** (${wrongAccepted} of ${wrongN}; target ≤ 1%). ` +
      `Honest segments refused: **${pct(r.falseReject)}** (target ≤ 1%). ` +
      `Verification CPU / render CPU at k = ${r.k}: **${pct(r.costRatio)}** for the committed-step checks ` +
      `(median ${r.verifyCpuMs.toFixed(1)} ms against ${r.renderCpuMs.toFixed(0)} ms of rendering per segment), ` +
      `**${pct(r.clientCostRatio)}** with the client's decode of the delivered MP4 (${r.decodeCpuMs.toFixed(1)} ms, its own CPU and ffmpeg's) — ` +
      `target ≤ 5%; ${pct(r.newProviderCostRatio)} for a new provider's segment (k = 7).`,
    "",
    "Where the client's CPU goes (median ms per honest segment at the manifest's k; the decode is a mean, ffmpeg's CPU being counted in 10 ms ticks):",
    "",
    `| ${Object.keys(r.profile).join(" | ")} |`,
    `|${Object.keys(r.profile)
      .map(() => "---")
      .join("|")}|`,
    `| ${Object.values(r.profile)
      .map((v) => v.toFixed(1))
      .join(" | ")} |`,
    "",
    "The frontier: the same honest and disguised-skip segments re-verified with k sampled steps (wrong segments accepted counts every cheat, with this k for the disguised skip and the measured outcome of the others):",
    "",
    "| k | disguised skips accepted | expected escape | wrong segments accepted | honest refused | verify CPU / render CPU | with the client's decode |",
    "|---|---|---|---|---|---|---|",
  );
  for (const f of r.frontier)
    lines.push(
      `| ${f.k}${f.k === r.k ? " (manifest)" : ""} | ${f.skipAccepted} of ${f.skipN} | ${pct(f.skipEscapeExpected)} | ${pct(f.falseAccept)} | ${f.honestRefused} of ${f.honestN} | ${pct(f.costRatio)} | ${pct(f.clientCostRatio)} |`,
    );
  return lines.join("\n") + "\n";
}
