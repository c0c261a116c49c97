// A dishonest provider on a real network: its segments are well-formed,
// correctly hashed and signed, but rendered with the wrong seed. The client's
// content spot-check must catch every one, never pay for it, and the job must
// still complete on the honest providers.
import { expect, test } from "vitest";
import { expectCheatCaughtAndUnpaid, useDishonestProviderNetwork } from "./helpers/dishonest-provider-network.ts";
import { readManifest, runCli, tempDir } from "./helpers/network.ts";

const network = useDishonestProviderNetwork("adv", "dishonest-provider.ts");

test("error: wrong frames from a provider are caught and unpaid, and the job still completes", async () => {
  const out = tempDir("out");
  const r = await runCli(
    ["job", "submit", "--prompt", "slow golden waves", "--seconds", "6", "--fps", "4", "--size", "64x64", "--out", out],
    network.net.file,
  );
  expect(r.code, r.stderr).toBe(0);
  // Every delivery the cheat made was rejected by the content check; none was accepted.
  await expectCheatCaughtAndUnpaid(network, readManifest(out).manifest, 6);
});
