import { join } from "node:path";
import { evaluateSpec, termHash } from "@rendermesh/shared";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { getPolicy, runGovernanceCycle, toPolicySnapshot, type DaoClient } from "../src/dao/index.js";
import { deployDao, type LocalChain, MODEL_ID, runCli, startHardhatNode, type TestDeployment } from "./dao-localchain.js";

/**
 * `rendermesh policy show|check` and `getPolicy` on a real Hardhat node
 * deployed by scripts/deploy.ts --dev: every value with its version, the
 * blocked terms only as a count of hashes, past versions by block, and the
 * one normalisation used to match a prompt.
 */

let chain: LocalChain;
let d: TestDeployment;
let env: Record<string, string>;
let executedInBlock: number;

beforeAll(async () => {
  chain = await startHardhatNode();
  d = await deployDao(chain);
  env = { RENDERMESH_DEV_FILE: join(d.dir, "dev.json"), RENDERMESH_DATA_DIR: join(d.dir, "client") };
  const r = await runGovernanceCycle({
    rpcUrl: chain.rpcUrl,
    deployment: d.deployment,
    members: d.members.map((m) => m.privateKey),
    actions: [
      { type: "block-term", terms: ["Red Fox", "forbidden"] },
      { type: "set-dispute-window", seconds: 7200n },
    ],
  });
  expect(r.state).toBe("Executed");
  executedInBlock = r.executedInBlock!;
}, 120_000);

afterAll(async () => {
  d?.cleanup();
  await chain?.stop();
});

const cli = (args: string[]) => runCli(args, env);

describe("policy show", () => {
  test("default: every value, its version, the number of blocked terms and the allowed models", async () => {
    const r = await cli(["policy", "show"]);
    expect(r.code, r.stderr).toBe(0);
    // Two setters ran in the executed proposal: each bumps the version.
    expect(r.stdout).toContain(`Content policy ${d.deployment.policy}: version 3 (read at block `);
    const lines = r.stdout.split("\n").map((l) => l.trim().replace(/\s+/g, " "));
    expect(lines).toEqual(
      expect.arrayContaining([
        `owner ${d.deployment.timelock} (the DAO timelock: only an executed proposal changes the policy)`,
        "blocked terms 2 (stored as hashes of normalised terms; check a text with `rendermesh policy check`)",
        "allowed models 1",
        MODEL_ID,
        "max seconds 600",
        "max frame size 1920x1080",
        "max fps 60",
        "min provider stake 100 MESH",
        "coordinator fee 500 bps (5 %)",
        "treasury fee 100 bps (1 %)",
        "dispute window 7200 s (2 h)",
        "claim window 120 s (2 min)",
        `arbiter ${d.deployer.address}`,
        `treasury ${d.deployment.timelock}`,
      ]),
    );
    // Blocked terms are never shown in clear: they are not on-chain in clear.
    expect(r.stdout).not.toMatch(/red fox|forbidden/i);
  });

  test("args: --json gives every value with bigints as strings", async () => {
    const r = await cli(["policy", "show", "--json"]);
    expect(r.json()).toEqual({
      address: d.deployment.policy,
      owner: d.deployment.timelock,
      version: "3",
      blockedTermCount: "2",
      blockedTerms: expect.arrayContaining([termHash("red fox"), termHash("forbidden")]) as unknown,
      allowedModels: [MODEL_ID],
      limits: { maxSeconds: 600, maxWidth: 1920, maxHeight: 1080, maxFps: 60 },
      minProviderStake: (100n * 10n ** 18n).toString(),
      fees: { coordinatorFeeBps: 500, treasuryFeeBps: 100 },
      disputeWindow: "7200",
      claimWindow: "120",
      arbiter: d.deployer.address,
      treasury: d.deployment.timelock,
      blockNumber: expect.any(Number) as unknown,
    });
  });

  test("args: --block reads the policy a job opened at that block keeps", async () => {
    const before = (await cli(["policy", "show", "--block", String(executedInBlock - 1), "--json"])).json();
    expect(before).toMatchObject({ version: "1", blockedTermCount: "0", disputeWindow: "60", blockNumber: executedInBlock - 1 });
    const at = (await cli(["policy", "show", "--block", String(executedInBlock), "--json"])).json();
    expect(at).toMatchObject({ version: "3", blockedTermCount: "2", blockNumber: executedInBlock });
  });

  test("error: a block that does not exist yet", async () => {
    const r = await cli(["policy", "show", "--block", "99999999"]);
    expect(r.code).toBe(2);
    expect(r.stderr.split("\n")[0]).toMatch(/^Error: Block 99999999 does not exist yet \(the chain is at block \d+\)\.$/);
  });
});

describe("policy check", () => {
  test("behavior: a text is refused when a normalised word or adjacent pair is blocked, naming it", async () => {
    for (const [text, match] of [
      ["A RED, fox!", "red fox"],
      ["ｆｏｒｂｉｄｄｅｎ fruit", "forbidden"],
      ["the red fox and the forbidden fruit", "red fox"],
    ] as const) {
      const r = await cli(["policy", "check", text]);
      expect(r.code, text).toBe(3);
      expect(r.stderr).toContain(`Error: The text contains "${match}", which the content policy blocks.`);
    }
    for (const text of ["a red big fox", "forbiddance", "redfox"]) {
      const r = await cli(["policy", "check", text, "--json"]);
      expect(r.code, text).toBe(0);
      expect(r.json()).toMatchObject({ allowed: true, policyVersion: "3" });
    }
  });

  test("behavior: getPolicy feeds the shared evaluateSpec the CLI, coordinator and provider use", async () => {
    const client: DaoClient = { provider: chain.provider, deployment: d.deployment };
    const snapshot = toPolicySnapshot(await getPolicy(client));
    const spec = {
      v: 1 as const,
      model: MODEL_ID as `0x${string}`,
      prompt: "a calm red fox",
      seed: 1,
      seconds: 4,
      fps: 12,
      width: 192,
      height: 192,
    };
    expect(evaluateSpec(spec, snapshot).map((v) => [v.code, v.term])).toEqual([["POLICY_BLOCKED_TERM", "red fox"]]);
    expect(evaluateSpec({ ...spec, prompt: "a calm red cat" }, snapshot)).toEqual([]);
    // The job opened before the change keeps the old version, under which the prompt passes.
    const old = toPolicySnapshot(await getPolicy(client, { blockTag: executedInBlock - 1 }));
    expect(old.version).toBe(1n);
    expect(evaluateSpec(spec, old)).toEqual([]);
  });
});
