import { join } from "node:path";
import { termHash } from "@rendermesh/shared";
import { contentPolicyAbi } from "@rendermesh/shared/chain";
import { Contract, keccak256, toUtf8Bytes, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  decodeGovernanceRevert,
  getPolicy,
  increaseTime,
  mapGovernanceError,
  mineUntil,
  runGovernanceCycle,
  type DaoClient,
  type GovernanceCycleStep,
} from "../src/dao/index.js";
import {
  deployDao,
  KEYS,
  type LocalChain,
  MEMBER_BALANCE,
  MODEL_ID,
  runCli,
  startHardhatNode,
  type TestDeployment,
} from "./dao-localchain.js";

/**
 * The DAO side on a real Hardhat node, deployed by scripts/deploy.ts --dev:
 * the CLI runs a whole cycle (delegate, propose block-term, vote, queue,
 * advance time, execute) and refuses each mistake a voter makes with one
 * sentence; proposals made by other tools are rebuilt from logs; a
 * proposal that misses quorum changes nothing; only the timelock can
 * change the policy.
 */

let chain: LocalChain;
let d: TestDeployment;
let env: Record<string, string>;

beforeAll(async () => {
  chain = await startHardhatNode();
  d = await deployDao(chain);
  env = { RENDERMESH_DEV_FILE: join(d.dir, "dev.json"), RENDERMESH_DATA_DIR: join(d.dir, "client") };
}, 120_000);

afterAll(async () => {
  d?.cleanup();
  await chain?.stop();
});

const reader = (): DaoClient => ({ provider: chain.provider, deployment: d.deployment });
const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra });
const latestBlock = async () => BigInt(await chain.provider.send("eth_blockNumber", []));

describe("dao commands on a local chain", () => {
  test("behavior: delegate, propose block-term, vote, queue, advance time, execute — with every voter error on the way", async () => {
    // Before delegating, a member has tokens but no votes.
    const before = await cli(["dao", "status", "--member", "1", "--json"]);
    expect(before.code).toBe(0);
    expect(before.json<{ governance: { account: { votes: string; balance: string } } }>().governance.account).toMatchObject({
      votes: "0",
      balance: MEMBER_BALANCE.toString(),
    });

    for (const member of ["1", "2", "3"]) {
      const r = await cli(["dao", "delegate", "--member", member, "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.json()).toMatchObject({ alreadyDelegated: false, votes: MEMBER_BALANCE.toString() });
    }
    const again = await cli(["dao", "delegate", "--member", "1"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("already delegated");

    const proposed = await cli(["dao", "propose", "block-term", "Red Fox!", "--description", "Block red fox", "--member", "1", "--json"]);
    expect(proposed.code, proposed.stderr).toBe(0);
    const p = proposed.json<{
      proposalId: string;
      voteStart: string;
      voteEnd: string;
      warnings: string[];
      calls: Array<{ terms: Array<{ normalised: string; hash: string }> }>;
    }>();
    const id = p.proposalId;
    expect(p.warnings).toEqual(['"Red Fox!" is normalised to "red fox"; that is what will match.']);
    expect(p.calls[0]!.terms[0]).toMatchObject({ normalised: "red fox", hash: termHash("red fox") });

    // Voting opens in the block after the snapshot: a vote sent right now would be mined in the snapshot block.
    expect(await latestBlock()).toBe(BigInt(p.voteStart) - 1n);
    const early = await cli(["dao", "vote", id, "for", "--member", "1"]);
    expect(early.code).toBe(3);
    expect(early.stderr).toContain(`Error: Voting on proposal ${id} has not started: it starts at block ${BigInt(p.voteStart) + 1n}.`);

    await mineUntil(chain.provider, BigInt(p.voteStart));
    const voted = await cli(["dao", "vote", id, "for", "--member", "1", "--reason", "keeps the network usable", "--json"]);
    expect(voted.code, voted.stderr).toBe(0);
    expect(voted.json()).toMatchObject({ support: "for", weight: MEMBER_BALANCE.toString(), reason: "keeps the network usable" });
    expect((await cli(["dao", "vote", id, "FOR", "--member", "2"])).code).toBe(0);
    expect((await cli(["dao", "vote", id, "abstain", "--member", "3"])).code).toBe(0);

    const twice = await cli(["dao", "vote", id, "against", "--member", "1"]);
    expect(twice.code).toBe(3);
    expect(twice.stderr).toContain(`Error: ${d.members[0]!.address} has already voted on proposal ${id}.`);

    // An account with MESH that never delegated has no votes at the snapshot.
    const outsider = await cli(["dao", "vote", id, "for"], { RENDERMESH_PRIVATE_KEY: d.outsider.privateKey });
    expect(outsider.code).toBe(3);
    expect(outsider.stderr).toContain(
      `Error: You have no voting power at block ${p.voteStart}: delegate first with \`rendermesh dao delegate\`.`,
    );
    expect(outsider.stderr).toContain("are not delegated");

    const queueEarly = await cli(["dao", "queue", id]);
    expect(queueEarly.code).toBe(3);
    expect(queueEarly.stderr).toContain(`Error: Proposal ${id} cannot be queued yet: voting is open until block ${p.voteEnd}.`);

    await mineUntil(chain.provider, BigInt(p.voteEnd));
    const status = await cli(["dao", "status", id, "--json"]);
    expect(status.code).toBe(0);
    expect(status.json()).toMatchObject({
      stateForNextBlock: "Succeeded",
      votes: { for: (2n * MEMBER_BALANCE).toString(), against: "0", abstain: MEMBER_BALANCE.toString() },
      quorumReached: true,
      description: "Block red fox",
      eta: null,
    });

    const notQueued = await cli(["dao", "execute", id]);
    expect(notQueued.code).toBe(3);
    expect(notQueued.stderr).toContain(`Error: Proposal ${id} is not queued (it is Succeeded).`);
    expect(notQueued.stderr).toContain(`Fix: Queue it first with \`rendermesh dao queue ${id}\`.`);

    const queued = await cli(["dao", "queue", id, "--json"]);
    expect(queued.code, queued.stderr).toBe(0);
    const eta = BigInt(queued.json<{ eta: string }>().eta);

    const notReady = await cli(["dao", "execute", id]);
    expect(notReady.code).toBe(3);
    expect(notReady.stderr).toContain(
      `Error: The timelock is not ready: proposal ${id} can be executed at ${new Date(Number(eta) * 1000).toISOString()}`,
    );

    expect((await getPolicy(reader())).version).toBe(1n);
    const latest = await chain.provider.getBlock("latest");
    await increaseTime(chain.provider, eta - BigInt(latest!.timestamp));
    const executed = await cli(["dao", "execute", id, "--json"]);
    expect(executed.code, executed.stderr).toBe(0);
    const ex = executed.json<{ policyVersion: string; blockNumber: number }>();
    expect(ex.policyVersion).toBe("2");

    const twiceExecuted = await cli(["dao", "execute", id]);
    expect(twiceExecuted.code).toBe(3);
    expect(twiceExecuted.stderr).toContain(`Error: Proposal ${id} was executed already.`);

    // The policy now blocks the term, from the executing block on; the block before still has version 1.
    const shown = await cli(["policy", "show", "--json"]);
    expect(shown.json()).toMatchObject({
      version: "2",
      blockedTermCount: "1",
      blockedTerms: [termHash("red fox")],
      allowedModels: [MODEL_ID],
    });
    const earlier = await cli(["policy", "show", "--block", String(ex.blockNumber - 1), "--json"]);
    expect(earlier.json()).toMatchObject({ version: "1", blockedTermCount: "0" });
    const refused = await cli(["policy", "check", "A RED fox, running"]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('Error: The text contains "red fox", which the content policy blocks.');
    expect((await cli(["policy", "check", "a red cat"])).code).toBe(0);

    // The job CLI refuses a prompt with the term before it spends any gas.
    const client = new Wallet(KEYS[5], chain.provider);
    const nonce = await chain.provider.getTransactionCount(client.address);
    const job = await cli([
      "job",
      "submit",
      "--prompt",
      "A red-fox at dawn",
      "--seconds",
      "2",
      "--model",
      MODEL_ID,
      "--out",
      join(d.dir, "out"),
    ]);
    expect(job.code).toBe(3);
    expect(job.stderr).toContain('Error: The prompt contains "red fox", which the content policy blocks.');
    expect(await chain.provider.getTransactionCount(client.address)).toBe(nonce);

    const listed = await cli(["dao", "list", "--json"]);
    expect(listed.json<Array<{ proposalId: string; state: string }>>().find((x) => x.proposalId === id)?.state).toBe("Executed");
    const overview = await cli(["dao", "status", "--member", "2", "--json"]);
    expect(overview.json()).toMatchObject({
      governance: { votingDelay: "1", votingPeriod: "20", timelockDelay: "60", account: { votes: MEMBER_BALANCE.toString() } },
      latestProposal: { proposalId: id, state: "Executed" },
    });
  });

  test("behavior: a proposal made with another tool is rebuilt from its ProposalCreated log", async () => {
    await runGovernanceCycle({
      rpcUrl: chain.rpcUrl,
      deployment: d.deployment,
      members: d.members.map((m) => m.privateKey),
      actions: [{ type: "allow-model", model: `0x${"01".repeat(32)}` }],
    });
    const policy = new Contract(d.deployment.policy, contentPolicyAbi, chain.provider);
    const governor = new Contract(
      d.deployment.governor,
      ["function propose(address[],uint256[],bytes[],string) returns (uint256)"],
      d.members[1]!.connect(chain.provider),
    );
    const calldata = policy.interface.encodeFunctionData("setLimits", [30, 320, 240, 24]);
    const description = "Smaller jobs\n\nMade with a plain ethers script.";
    await (await governor.getFunction("propose")([d.deployment.policy], [0n], [calldata], description)).wait();
    const fresh = { ...env, RENDERMESH_DATA_DIR: join(d.dir, "other-client") };

    const list = await cli(["dao", "list", "--json"], fresh);
    const found = list
      .json<Array<{ proposalId: string; description: string; calls: Array<{ summary: string }> }>>()
      .find((x) => x.description === description);
    expect(found?.calls.map((c) => c.summary)).toEqual(["set limits: at most 30 s, 320x240 pixels, 24 fps"]);
    const id = found!.proposalId;

    const snapshot = (await cli(["dao", "status", id, "--json"], fresh)).json<{ snapshot: string; deadline: string }>();
    await mineUntil(chain.provider, BigInt(snapshot.snapshot));
    for (const member of ["1", "2", "3"]) expect((await cli(["dao", "vote", id, "for", "--member", member], fresh)).code).toBe(0);
    await mineUntil(chain.provider, BigInt(snapshot.deadline));
    const queued = await cli(["dao", "queue", id, "--json"], fresh);
    expect(queued.code, queued.stderr).toBe(0);
    await increaseTime(chain.provider, 61);
    const executed = await cli(["dao", "execute", id], fresh);
    expect(executed.code, executed.stderr).toBe(0);
    expect(executed.stdout).toMatch(/The content policy is now version \d+; jobs opened after block \d+ use it\./);
    expect((await getPolicy(reader())).limits).toEqual({ maxSeconds: 30, maxWidth: 320, maxHeight: 240, maxFps: 24 });
  });

  test("behavior: a proposal that misses quorum changes nothing", async () => {
    const before = await getPolicy(reader());
    // One member's 20M votes against a quorum of 4 % of 1e9 = 40M.
    const r = await runGovernanceCycle({
      rpcUrl: chain.rpcUrl,
      deployment: d.deploymentFile,
      members: d.members.map((m) => ({ privateKey: m.privateKey })),
      actions: [{ type: "block-term", terms: ["harmless"] }],
      votes: ["for", null, null],
    });
    expect(r.state).toBe("Defeated");
    expect(r.executedInBlock).toBeNull();
    expect(r.policyVersionAfter).toBe(before.version);
    const after = await getPolicy(reader());
    expect(after.version).toBe(before.version);
    expect(after.blockedTerms).toEqual(before.blockedTerms);

    const status = await cli(["dao", "status", r.proposalId.toString(), "--json"]);
    expect(status.json()).toMatchObject({ state: "Defeated", quorumReached: false, votes: { for: MEMBER_BALANCE.toString() } });
    const queue = await cli(["dao", "queue", r.proposalId.toString()]);
    expect(queue.code).toBe(3);
    expect(queue.stderr).toContain(`Error: Proposal ${r.proposalId} was defeated (quorum not reached), so it cannot be queued.`);
  });

  test("behavior: runGovernanceCycle applies a change from the block that executed it", async () => {
    const feesBefore = (await getPolicy(reader())).fees;
    const steps: GovernanceCycleStep["step"][] = [];
    const r = await runGovernanceCycle({
      rpcUrl: chain.rpcUrl,
      deployment: d.deployment,
      members: d.members.map((m) => m.privateKey),
      actions: [{ type: "set-fees", coordinatorFeeBps: 300, treasuryFeeBps: 25 }],
      onStep: (s) => steps.push(s.step),
    });
    expect(r.state).toBe("Executed");
    expect(r.policyVersionAfter).toBe(r.policyVersionBefore + 1n);
    expect(steps).toEqual([
      "delegated",
      "delegated",
      "delegated",
      "proposed",
      "mined",
      "voted",
      "voted",
      "voted",
      "mined",
      "decided",
      "queued",
      "time-advanced",
      "executed",
    ]);
    const at = async (blockTag: number) => getPolicy(reader(), { blockTag });
    expect(feesBefore).not.toEqual({ coordinatorFeeBps: 300, treasuryFeeBps: 25 });
    expect((await at(r.executedInBlock! - 1)).fees).toEqual(feesBefore);
    expect((await at(r.executedInBlock!)).fees).toEqual({ coordinatorFeeBps: 300, treasuryFeeBps: 25 });
    expect((await at(r.executedInBlock!)).version).toBe(r.policyVersionAfter);
  });

  test("error: nobody but the timelock can change the policy", async () => {
    const policyView = await getPolicy(reader());
    expect(policyView.owner).toBe(d.deployment.timelock);
    const hash = keccak256(toUtf8Bytes("sneaky"));
    for (const who of [d.deployer, d.members[0]!, d.outsider]) {
      const policy = new Contract(d.deployment.policy, contentPolicyAbi, who.connect(chain.provider));
      let caught: unknown;
      try {
        await policy.getFunction("blockTerms")([hash]);
      } catch (err) {
        caught = err;
      }
      const mapped = mapGovernanceError(caught, { doing: "block a term" });
      expect(mapped.name).toBe("NotTimelockError");
      expect(mapped.shortMessage).toBe(`Only the DAO's timelock can change the content policy, and ${who.address} is not it.`);
    }
    // The deployer kept no timelock role: it cannot schedule a change either.
    const timelock = new Contract(
      d.deployment.timelock,
      ["function schedule(address,uint256,bytes,bytes32,bytes32,uint256)"],
      d.deployer.connect(chain.provider),
    );
    const data = new Contract(d.deployment.policy, contentPolicyAbi).interface.encodeFunctionData("blockTerms", [[hash]]);
    let scheduleError: unknown;
    try {
      await timelock.getFunction("schedule")(d.deployment.policy, 0n, data, `0x${"0".repeat(64)}`, `0x${"0".repeat(64)}`, 60n);
    } catch (err) {
      scheduleError = err;
    }
    expect(decodeGovernanceRevert(scheduleError)?.name).toBe("AccessControlUnauthorizedAccount");
    expect((await getPolicy(reader())).blockedTerms).not.toContain(hash);
  });

  test("error: propose refuses before any gas", async () => {
    const nonceBefore = await chain.provider.getTransactionCount(d.outsider.address);
    const poor = await cli(["dao", "propose", "block-term", "foo", "--description", "x"], {
      RENDERMESH_PRIVATE_KEY: d.outsider.privateKey,
    });
    expect(poor.code).toBe(3);
    expect(poor.stderr).toContain("Error: You have 0 MESH of votes but making a proposal needs 1000 MESH.");
    expect(await chain.provider.getTransactionCount(d.outsider.address)).toBe(nonceBefore);

    const blocked = await cli(["dao", "propose", "block-term", "RED FOX", "--description", "again", "--member", "1"]);
    expect(blocked.code).toBe(3);
    expect(blocked.stderr).toContain('Error: The term "red fox" is blocked already.');
    const notBlocked = await cli(["dao", "propose", "unblock-term", "never blocked", "--description", "x", "--member", "1"]);
    expect(notBlocked.code).toBe(3);
    expect(notBlocked.stderr).toContain('Error: The term "never blocked" is not blocked, so it cannot be unblocked.');
    const known = await cli(["dao", "propose", "allow-model", `0x${"01".repeat(32)}`, "--description", "x", "--member", "1"]);
    expect(known.code).toBe(3);
    expect(known.stderr).toContain(`Error: Model 0x${"01".repeat(32)} is allowed already.`);

    const first = await cli(["dao", "propose", "set-dispute-window", "2h", "--description", "Two hours", "--member", "2", "--json"]);
    expect(first.code, first.stderr).toBe(0);
    const id = first.json<{ proposalId: string }>().proposalId;
    const same = await cli(["dao", "propose", "set-dispute-window", "7200", "--description", "Two hours", "--member", "3"]);
    expect(same.code).toBe(3);
    expect(same.stderr).toContain(`Error: The same proposal already exists (id ${id}, Pending).`);
  });

  test("error: a wallet is required to sign and --member needs the dev network", async () => {
    const noDev = await runCli(["dao", "vote", "1", "for", "--member", "1", "--rpc-url", chain.rpcUrl, "--deployment", d.deploymentFile]);
    expect(noDev.code).toBe(3);
    expect(noDev.stderr).toContain("Error: --member works only on the local dev network");
    const noKey = await runCli(["dao", "delegate", "--rpc-url", chain.rpcUrl, "--deployment", d.deploymentFile]);
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("No key configured");
    // With a key and explicit chain flags (no dev network), the same command works.
    const stranger = Wallet.createRandom();
    const ok = await runCli(["dao", "delegate", "--rpc-url", chain.rpcUrl, "--deployment", d.deploymentFile, "--json"], {
      RENDERMESH_PRIVATE_KEY: stranger.privateKey,
    });
    expect(ok.code, ok.stderr).toBe(3); // no ETH for gas: refused with one sentence
    expect(ok.stderr).toContain("has too little ETH to pay the gas to delegate votes");
  });
});
