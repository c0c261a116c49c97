// The trained diffusion pipeline on a real network: a job is rendered by
// three providers, verified by committed steps and paid; the third provider
// renders with int8-rounded weights while claiming the committed model, and
// must be caught by the denoiser re-execution, never paid, while the job
// still completes on the honest two.
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { defaultPipelinePath, loadPipeline } from "@rendermesh/shared/model";
import { startDevNetwork, repoRoot, type RunningDevNetwork } from "../scripts/lib/devnet.ts";
import { chain, readManifest, removeTempDirs, runCli, tempDir } from "./helpers/network.ts";

let net: RunningDevNetwork;
let dir: string;
const DISHONEST = 2;

beforeAll(async () => {
  dir = tempDir("diffusion");
  net = await startDevNetwork({
    dir,
    providers: 3,
    log: () => {},
    providerScript: (i) => (i === DISHONEST ? join(repoRoot, "test", "fixtures", "dishonest-diffusion-provider.ts") : undefined),
  });
});

afterAll(async () => {
  await net?.stop();
  removeTempDirs();
});

test("error: a provider rendering with int8 weights is caught by committed steps and unpaid; the job completes", async () => {
  const { escrow, provider } = chain(net.dev);
  const cheat = net.dev.providers[DISHONEST]!.address.toLowerCase();
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
    net.file,
  );
  expect(r.code, r.stderr).toBe(0);

  const { dir: jobDir, manifest } = readManifest(out);
  expect(manifest.status).toBe("settled");
  expect(manifest.segments).toHaveLength(4);
  const caught = manifest.rejections.filter((x) => x.provider.toLowerCase() === cheat);
  expect(caught.length).toBeGreaterThanOrEqual(1);
  expect(caught.every((x) => x.check === "content")).toBe(true);
  expect(manifest.segments.some((s) => s.provider.toLowerCase() === cheat)).toBe(false);
  expect(manifest.payments.providers.find((x) => x.provider.toLowerCase() === cheat)?.seconds ?? 0).toBe(0);
  expect((await escrow.getFunction("balanceOf")(cheat)) as bigint).toBe(0n);

  // The video's Content Credentials carry each receipt with its trace root, so they verify against the chain.
  const verified = await runCli(["verify", join(jobDir, "video.mp4"), "--json"], net.file);
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  const v = JSON.parse(verified.stdout) as { ok: boolean; checks: Array<{ check: string; ok: boolean }> };
  expect(v.checks.filter((c) => !c.ok)).toEqual([]);
  expect(v.ok).toBe(true);
  provider.destroy();
});
