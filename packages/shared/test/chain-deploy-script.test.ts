// scripts/deploy.ts against a JSON-RPC endpoint (Hardhat's node server, as `hardhat node` runs it): it deploys,
// writes deployments/<chainId>.json, and what it writes is what the packages load and connect to.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { JsonRpcProvider, id } from "ethers";
import { network } from "hardhat";
import { connectContracts, loadDeployment, readPolicy } from "../src/chain/index.js";
import { MESH, MODEL, repoRoot } from "./chain-fixture.js";

interface DeployModule {
  deploy(options: Record<string, unknown>): Promise<Record<string, string | number>>;
  DEV_PARAMETERS: Record<string, bigint>;
}

// Ignition's journals go to a temp dir (`journalDir`), never into contracts/ignition/deployments.
const journalDir = mkdtempSync(join(tmpdir(), "rm-ignition-"));
let server: { listen(): Promise<{ address: string; port: number }>; close(): Promise<void> };
let rpcUrl: string;
let script: DeployModule;

beforeAll(async () => {
  process.chdir(repoRoot);
  server = await network.createServer("default", "127.0.0.1", 0);
  const { port } = await server.listen();
  rpcUrl = `http://127.0.0.1:${port}`;
  script = (await import(pathToFileURL(join(repoRoot, "scripts/deploy.ts")).href)) as DeployModule;
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(journalDir, { recursive: true, force: true });
});

describe("scripts/deploy.ts", () => {
  test("default: deploys over JSON-RPC and writes a deployment file that loadDeployment and connectContracts use", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "rm-deployments-"));
    const record = await script.deploy({
      rpcUrl,
      outDir,
      deploymentId: "first",
      journalDir,
      dev: true,
      parameters: { allowedModels: [MODEL], blockedTerms: [id("badword")], maxSeconds: "120", coordinatorFeeBps: 300 },
    });
    const file = join(outDir, "31337.json");
    expect(existsSync(file)).toBe(true);
    const deployment = loadDeployment(31337, outDir);
    expect(deployment).toEqual(record);
    expect(Object.keys(JSON.parse(readFileSync(file, "utf8"))).sort()).toEqual(
      ["chainId", "escrow", "governor", "policy", "registry", "startBlock", "timelock", "token"].sort(),
    );
    expect(deployment.startBlock).toBeGreaterThanOrEqual(1);
    expect(existsSync(join(journalDir, "deployments", "first", "journal.jsonl"))).toBe(true);

    const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
    try {
      const contracts = connectContracts(provider, deployment);
      const policy = await readPolicy(contracts.policy);
      expect(policy.allowedModels).toEqual(new Set([MODEL]));
      expect(policy.blockedTerms).toEqual(new Set([id("badword")]));
      expect(policy.maxSeconds).toBe(120);
      expect(policy.coordinatorFeeBps).toBe(300);
      expect(policy.disputeWindow).toBe(script.DEV_PARAMETERS.disputeWindow);
      expect(policy.minProviderStake).toBe(100n * MESH);
      expect(policy.treasury).toBe(deployment.timelock.toLowerCase());
      expect(await contracts.governor.votingPeriod()).toBe(script.DEV_PARAMETERS.votingPeriod);
      expect(await contracts.escrow.registry()).toBe(deployment.registry);
    } finally {
      provider.destroy();
    }
  });

  test("behavior: running it again resumes the same deployment instead of deploying twice", async () => {
    const outDir = mkdtempSync(join(tmpdir(), "rm-deployments-"));
    const parameters = { allowedModels: [MODEL], blockedTerms: [id("badword")], maxSeconds: "120", coordinatorFeeBps: 300 };
    const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true });
    try {
      // This test's own deployment, then the same again.
      const first = await script.deploy({ rpcUrl, outDir, deploymentId: "resumed", journalDir, dev: true, parameters });
      const blockBefore = await provider.getBlockNumber();
      const again = await script.deploy({ rpcUrl, outDir, deploymentId: "resumed", journalDir, dev: true, parameters });
      // Same addresses, no new transaction, and the start block found again from the chain.
      expect(again).toEqual(first);
      expect(loadDeployment(31337, outDir)).toEqual(again);
      expect(await provider.getBlockNumber()).toBe(blockBefore);
    } finally {
      provider.destroy();
    }
  });
});
