// Deploying to a chain other than a dev chain refuses an EOA arbiter and the whole supply to the deployer unless
// told so explicitly (scripts/deploy.ts checks this before sending anything).
import { describe, expect, test } from "vitest";
import { checkProductionRoles } from "../scripts/deploy.ts";

const deployer = "0x00000000000000000000000000000000000000d1";
const multisig = "0x00000000000000000000000000000000000000a5";
const base = { chainId: 8453, deployer, arbiter: deployer, arbiterCode: "0x", tokenHolder: deployer };

describe("deploy: production roles", () => {
  test("error: an EOA arbiter and the whole supply to the deployer are refused on a non-dev chain", () => {
    const problems = checkProductionRoles(base);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/arbiter .* has no code .*--allow-eoa-arbiter/);
    expect(problems[1]).toMatch(/whole MESH supply.*--allow-deployer-supply/);
  });

  test("default: a contract arbiter and another holder pass", () => {
    expect(checkProductionRoles({ ...base, arbiter: multisig, arbiterCode: "0x6080", tokenHolder: multisig })).toEqual([]);
  });

  test("args: each refusal can be overridden explicitly", () => {
    expect(checkProductionRoles({ ...base, allowEoaArbiter: true, allowDeployerSupply: true })).toEqual([]);
    expect(checkProductionRoles({ ...base, allowEoaArbiter: true })).toHaveLength(1);
  });

  test("behavior: dev chains (31337, 1337) and --dev deployments are not checked", () => {
    expect(checkProductionRoles({ ...base, chainId: 31337 })).toEqual([]);
    expect(checkProductionRoles({ ...base, chainId: 1337 })).toEqual([]);
    expect(checkProductionRoles({ ...base, dev: true })).toEqual([]);
  });
});
