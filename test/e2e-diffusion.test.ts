// The trained diffusion pipeline on a real network: a job is rendered by
// three providers, verified by committed steps and paid; the third provider
// renders with int8-rounded weights while claiming the committed model, and
// must be caught by the denoiser re-execution, never paid, while the job
// still completes on the honest two.
import { join } from "node:path";
import { expect, test } from "vitest";
import { defaultPipelinePath, loadPipeline } from "@rendermesh/shared/model";
import { expectCheatCaughtAndUnpaid, useDishonestProviderNetwork } from "./helpers/dishonest-provider-network.ts";
import { readManifest, runCli, tempDir } from "./helpers/network.ts";

const network = useDishonestProviderNetwork("diffusion", "dishonest-diffusion-provider.ts");

test("error: a provider rendering with int8 weights is caught by committed steps and unpaid; the job completes", async () => {
  const model = (await loadPipeline(defaultPipelinePath())).manifest.id;
  const out = tempDir("out");

  const r = await runCli(
    [
      "job",
      "submit",
      "--prompt",
      "a yellow square moving right on a black background",
      "--seconds",
      "4",
      "--fps",
      "8",
      "--size",
      "64x64",
      "--model",
      model,
      "--out",
      out,
    ],
    network.net.file,
  );
  expect(r.code, r.stderr).toBe(0);

  const { dir: jobDir, manifest } = readManifest(out);
  await expectCheatCaughtAndUnpaid(network, manifest, 4);

  // The video's Content Credentials carry each receipt with its trace root, so they verify against the chain.
  const verified = await runCli(["verify", join(jobDir, "video.mp4"), "--json"], network.net.file);
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  const v = JSON.parse(verified.stdout) as { ok: boolean; checks: Array<{ check: string; ok: boolean }> };
  expect(v.checks.filter((c) => !c.ok)).toEqual([]);
  expect(v.ok).toBe(true);
});
