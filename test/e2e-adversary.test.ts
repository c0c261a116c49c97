// A dishonest provider on a real network: its segments are well-formed,
// correctly hashed and signed, but rendered with the wrong seed. The client's
// content spot-check must catch every one, never pay for it, and the job must
// still complete on the honest providers.
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startDevNetwork, repoRoot, type RunningDevNetwork } from "../scripts/lib/devnet.ts";
import { chain, readManifest, removeTempDirs, runCli, tempDir } from "./helpers/network.ts";

let net: RunningDevNetwork;
let dir: string;
const DISHONEST = 2;

beforeAll(async () => {
  dir = tempDir("adv");
  net = await startDevNetwork({
    dir,
    providers: 3,
    log: () => {},
    providerScript: (i) => (i === DISHONEST ? join(repoRoot, "test", "fixtures", "dishonest-provider.ts") : undefined),
  });
});

afterAll(async () => {
  await net?.stop();
  removeTempDirs();
});

test("error: wrong frames from a provider are caught and unpaid, and the job still completes", async () => {
  const { escrow, provider } = chain(net.dev);
  const cheat = net.dev.providers[DISHONEST]!.address.toLowerCase();
  const out = tempDir("out");

  const r = await runCli(
    ["job", "submit", "--prompt", "slow golden waves", "--seconds", "6", "--fps", "4", "--size", "64x64", "--out", out],
    net.file,
  );
  expect(r.code, r.stderr).toBe(0);

  const { manifest } = readManifest(out);
  expect(manifest.status).toBe("settled");
  expect(manifest.segments).toHaveLength(6);
  // Every delivery the cheat made was rejected by the content check; none was accepted.
  const caught = manifest.rejections.filter((x) => x.provider.toLowerCase() === cheat);
  expect(caught.length).toBeGreaterThanOrEqual(1);
  expect(caught.every((x) => x.check === "content")).toBe(true);
  expect(manifest.segments.some((s) => s.provider.toLowerCase() === cheat)).toBe(false);
  expect(manifest.payments.providers.find((x) => x.provider.toLowerCase() === cheat)?.seconds ?? 0).toBe(0);
  expect((await escrow.getFunction("balanceOf")(cheat)) as bigint).toBe(0n);
  provider.destroy();
});
