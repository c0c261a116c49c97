// The trust study of verification by committed steps (see
// packages/shared/src/model/pipeline/README.md for what it measures and the
// numbers it gave). 15 classes × --per-class segments (default 20: 300).
//
//   pnpm exec node scripts/diffusion-trust-study.ts [--pipeline models/diffusion-default/pipeline.json] [--per-class 20] [--k N] [--json out.json]
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runTrustStudy } from "./lib/diffusion-trust.ts";

const { values } = parseArgs({
  options: {
    pipeline: { type: "string", default: "models/diffusion-default/pipeline.json" },
    "per-class": { type: "string", default: "20" },
    k: { type: "string" },
    json: { type: "string" },
  },
});
const result = await runTrustStudy({
  pipelinePath: values.pipeline,
  perClass: Number(values["per-class"]),
  k: values.k ? Number(values.k) : undefined,
  log: (l) => console.error(l),
});
console.table(
  Object.entries(result.classes).map(([cls, r]) => ({
    class: cls,
    n: r.n,
    accepted: r.accepted,
    "refused by": Object.entries(r.refusedBy)
      .map(([c, n]) => `${c} ${n}`)
      .join(", "),
    "denoiser relL2 min..max":
      r.maxDenoiserRelL2 > 0 ? `${r.minDenoiserRelL2.toExponential(1)}..${r.maxDenoiserRelL2.toExponential(1)}` : "",
    "text relL2 max": r.maxTextRelL2 > 0 ? r.maxTextRelL2.toExponential(1) : "",
    "neighbour relL2 min": Number.isFinite(r.minNeighbourRelL2) ? r.minNeighbourRelL2.toExponential(1) : "",
    "tile dB min": Number.isFinite(r.minTilePsnrDb) ? r.minTilePsnrDb.toFixed(1) : "",
    "tile block dB min": Number.isFinite(r.minTileBlockPsnrDb) ? r.minTileBlockPsnrDb.toFixed(1) : "",
  })),
);
console.log(
  JSON.stringify(
    {
      pipeline: result.pipeline,
      k: result.k,
      steps: result.steps,
      segments: result.segments,
      falseAccept: result.falseAccept,
      falseReject: result.falseReject,
      costRatio: result.costRatio,
      renderCpuMs: result.renderCpuMs,
      verifyCpuMs: result.verifyCpuMs,
      newProviderCostRatio: result.newProviderCostRatio,
    },
    null,
    2,
  ),
);
if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2) + "\n");
