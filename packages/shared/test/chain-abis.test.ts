import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import * as shared from "../src/chain/index.js";
import { repoRoot } from "./chain-fixture.js";

// Same table as scripts/export-abis.ts.
const EXPORTS = {
  meshTokenAbi: "MeshToken",
  contentPolicyAbi: "ContentPolicy",
  providerRegistryAbi: "ProviderRegistry",
  jobEscrowAbi: "JobEscrow",
  meshGovernorAbi: "MeshGovernor",
  timelockAbi: "MeshTimelock",
} as const;

describe("ABIs", () => {
  for (const [name, contract] of Object.entries(EXPORTS)) {
    test(`behavior: ${name} is the ABI of the compiled ${contract} (else run scripts/export-abis.ts)`, () => {
      const path = join(repoRoot, "artifacts/contracts/src", `${contract}.sol`, `${contract}.json`);
      expect(existsSync(path), `${path} is missing: run \`pnpm exec hardhat compile\``).toBe(true);
      const artifact = JSON.parse(readFileSync(path, "utf8")) as { abi: unknown };
      expect((shared as Record<string, unknown>)[name]).toEqual(artifact.abi);
    });
  }
});
