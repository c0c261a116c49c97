import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { id } from "ethers";
import { DeploymentError, deploymentPath, loadDeployment, readPolicy } from "../src/chain/index.js";
import { MESH, MODEL, createChainFixture, type ChainFixture } from "./chain-fixture.js";

const sample = {
  chainId: 31337,
  token: "0x5fbdb2315678afecb367f032d93f642f64180aa3",
  registry: "0x3B02fF1e626Ed7a8fd6eC5299e2C54e1421B626B",
  escrow: "0x0165878A594ca255338adfa4d48449f69242Eb8F",
  policy: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
  governor: "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9",
  timelock: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  startBlock: 1,
};

describe("loadDeployment", () => {
  test("default: reads <dir>/<chainId>.json and checksums the addresses", () => {
    const dir = mkdtempSync(join(tmpdir(), "rm-deploy-"));
    writeFileSync(deploymentPath(31337, dir), JSON.stringify(sample));
    const deployment = loadDeployment(31337, dir);
    expect(deployment.token).toBe("0x5FbDB2315678afecb367f032d93F642f64180aa3");
    expect(deployment.startBlock).toBe(1);
    expect(loadDeployment(31337n, dir)).toEqual(deployment);
  });

  test("error: a missing file is a DeploymentError that says how to deploy", () => {
    const dir = mkdtempSync(join(tmpdir(), "rm-deploy-"));
    let error: unknown;
    try {
      loadDeployment(5, dir);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(DeploymentError);
    expect((error as DeploymentError).code).toBe("DEPLOYMENT");
    expect((error as DeploymentError).shortMessage).toContain(`No Rendermesh deployment for chain 5: ${join(dir, "5.json")}`);
    expect((error as DeploymentError).hint).toContain("pnpm run deploy");
  });

  test("error: invalid JSON, a bad address, or another chain's file", () => {
    const dir = mkdtempSync(join(tmpdir(), "rm-deploy-"));
    writeFileSync(deploymentPath(1, dir), "{");
    expect(() => loadDeployment(1, dir)).toThrow(/not valid JSON/);
    writeFileSync(deploymentPath(2, dir), JSON.stringify({ ...sample, chainId: 2, escrow: "0x1234" }));
    expect(() => loadDeployment(2, dir)).toThrow(/escrow: must be a 0x address/);
    writeFileSync(deploymentPath(3, dir), JSON.stringify(sample));
    expect(() => loadDeployment(3, dir)).toThrow(/is for chain 31337, not 3/);
  });
});

describe("Ignition module on a real chain", () => {
  let chain: ChainFixture;
  beforeAll(async () => {
    chain = await createChainFixture();
  }, 120_000);
  afterAll(async () => {
    await chain?.close();
  });

  test("behavior: the timelock owns the policy, is the treasury, and only the governor proposes", async () => {
    const { contracts, deployment, deployer } = chain;
    expect(await contracts.policy.owner()).toBe(deployment.timelock);
    expect(await contracts.policy.treasury()).toBe(deployment.timelock);
    expect(await contracts.policy.arbiter()).toBe(deployer.address);
    expect(await contracts.timelock.hasRole(id("PROPOSER_ROLE"), deployment.governor)).toBe(true);
    expect(await contracts.timelock.hasRole(id("CANCELLER_ROLE"), deployment.governor)).toBe(true);
    expect(await contracts.timelock.hasRole(id("EXECUTOR_ROLE"), "0x0000000000000000000000000000000000000000")).toBe(true);
    expect(await contracts.timelock.hasRole(`0x${"00".repeat(32)}`, deployer.address)).toBe(false);
    expect(await contracts.governor.timelock()).toBe(deployment.timelock);
    expect(await contracts.governor.token()).toBe(deployment.token);
    expect(await contracts.registry.escrow()).toBe(deployment.escrow);
    expect(await contracts.escrow.registry()).toBe(deployment.registry);
    expect(await contracts.escrow.policy()).toBe(deployment.policy);
    expect(await contracts.registry.UNSTAKE_COOLDOWN()).toBe(60n);
    expect(await contracts.token.totalSupply()).toBe(1_000_000_000n * MESH);
  });

  test("default: readPolicy returns the whole policy at one block", async () => {
    const policy = await readPolicy(chain.contracts.policy);
    expect(policy).toEqual({
      version: 1n,
      blockedTerms: new Set(),
      allowedModels: new Set([MODEL]),
      maxSeconds: 600,
      maxWidth: 1920,
      maxHeight: 1080,
      maxFps: 60,
      minProviderStake: 100n * MESH,
      coordinatorFeeBps: 500,
      treasuryFeeBps: 100,
      disputeWindow: 60n,
      claimWindow: 120n,
      arbiter: chain.deployer.address.toLowerCase(),
      treasury: chain.deployment.timelock.toLowerCase(),
    });
  });

  test("args: blockTag reads the policy as it was at that block", async () => {
    const block = await chain.provider.getBlockNumber();
    // Change the policy as its owner, the timelock, would.
    const { networkHelpers, ethers } = chain.connection;
    await networkHelpers.impersonateAccount(chain.deployment.timelock);
    await networkHelpers.setBalance(chain.deployment.timelock, 10n ** 18n);
    const timelock = await ethers.getSigner(chain.deployment.timelock);
    await (await chain.contracts.policy.connect(timelock as never).setFees(300, 200)).wait();
    const before = await readPolicy(chain.contracts.policy, block);
    const after = await readPolicy(chain.contracts.policy);
    expect([before.version, before.coordinatorFeeBps, before.treasuryFeeBps]).toEqual([1n, 500, 100]);
    expect([after.version, after.coordinatorFeeBps, after.treasuryFeeBps]).toEqual([2n, 300, 200]);
  });

  test("error: reading before the policy existed is a DeploymentError", async () => {
    await expect(readPolicy(chain.contracts.policy, 0)).rejects.toThrow(DeploymentError);
    await expect(readPolicy(chain.contracts.policy, 0)).rejects.toThrow(/There is no ContentPolicy at 0x[0-9a-fA-F]{40} at block 0/);
  });
});
