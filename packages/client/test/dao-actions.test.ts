import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { JOURNAL_FILE } from "../src/journal/journal.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { termHash, UsageError } from "@rendermesh/shared";
import { contentPolicyAbi } from "@rendermesh/shared/chain";
import { AbiCoder, Interface, id as keccakUtf8, keccak256 } from "ethers";
import { afterAll, describe, expect, test } from "vitest";
import {
  describeCall,
  encodePolicyAction,
  hashProposal,
  mapGovernanceError,
  nextStep,
  normaliseTerm,
  type ProposalRecord,
  type ProposalStatus,
  readStoredProposals,
  storeProposal,
} from "../src/dao/index.js";
import { parseDuration, parseProposalId, parseSupport } from "../src/cli/dao.js";

const POLICY = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const policyIface = new Interface(contentPolicyAbi as never);

describe("normaliseTerm", () => {
  test("default: normalises and hashes with the shared termHash", () => {
    const t = normaliseTerm("  Red, FOX! ");
    expect(t.normalised).toBe("red fox");
    expect(t.hash).toBe(termHash("red fox"));
    expect(t.hash).toBe(keccak256(Buffer.from("red fox", "utf8")));
    expect(t.changed).toBe(true);
    expect(normaliseTerm("fox").changed).toBe(false);
  });

  test("error: a term of three words could never match", () => {
    expect(() => normaliseTerm("the red fox")).toThrow(/3 words/);
    expect(() => normaliseTerm("the red fox")).toThrow(UsageError);
  });

  test("error: a term that is empty once normalised", () => {
    expect(() => normaliseTerm("?!…")).toThrow(/empty once normalised/);
  });
});

describe("encodePolicyAction", () => {
  test("args: block-term encodes blockTerms with the normalised hashes", () => {
    const call = encodePolicyAction({ type: "block-term", terms: ["Red Fox", "ｆｏｒｂｉｄｄｅｎ"] }, POLICY);
    expect(call.target).toBe(POLICY);
    expect(call.value).toBe(0n);
    const decoded = policyIface.decodeFunctionData("blockTerms", call.calldata);
    expect([...decoded[0]]).toEqual([termHash("red fox"), termHash("forbidden")]);
    expect(call.summary).toBe('block 2 terms: "red fox", "forbidden"');
    expect(call.terms?.map((t) => t.changed)).toEqual([true, true]);
  });

  test("args: unblock-term encodes unblockTerms", () => {
    const call = encodePolicyAction({ type: "unblock-term", terms: ["fox"] }, POLICY);
    expect(policyIface.parseTransaction({ data: call.calldata })?.name).toBe("unblockTerms");
  });

  test("error: the same term twice after normalisation", () => {
    expect(() => encodePolicyAction({ type: "block-term", terms: ["Fox", "fox!"] }, POLICY)).toThrow(/given twice/);
  });

  test("args: every setter", () => {
    const model = `0x${"Cd".repeat(32)}`;
    const cases: Array<[Parameters<typeof encodePolicyAction>[0], string, unknown[]]> = [
      [{ type: "allow-model", model }, "allowModel", [model.toLowerCase()]],
      [{ type: "disallow-model", model }, "disallowModel", [model.toLowerCase()]],
      [{ type: "set-limits", maxSeconds: 30, maxWidth: 256, maxHeight: 128, maxFps: 24 }, "setLimits", [30n, 256n, 128n, 24n]],
      [{ type: "set-fees", coordinatorFeeBps: 250, treasuryFeeBps: 50 }, "setFees", [250n, 50n]],
      [
        { type: "set-arbiter", arbiter: "0x70997970c51812dc3a010c7d01b50e0d17dc79c8" },
        "setArbiter",
        ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"],
      ],
      [{ type: "set-dispute-window", seconds: 7200n }, "setDisputeWindow", [7200n]],
      [{ type: "set-claim-window", seconds: 600n }, "setClaimWindow", [600n]],
      [{ type: "set-min-stake", amount: 5n }, "setMinProviderStake", [5n]],
    ];
    for (const [action, fn, args] of cases) {
      const call = encodePolicyAction(action, POLICY);
      const tx = policyIface.parseTransaction({ data: call.calldata });
      expect(tx?.name).toBe(fn);
      expect([...tx!.args]).toEqual(args);
      // describeCall gives the same sentence for a proposal read back from the chain.
      if (action.type !== "block-term" && action.type !== "unblock-term")
        expect(describeCall(POLICY, 0n, call.calldata, POLICY)).toBe(call.summary);
    }
  });

  test("error: invalid values are usage errors, before any chain call", () => {
    const bad: Array<[Parameters<typeof encodePolicyAction>[0], RegExp]> = [
      [{ type: "allow-model", model: "0x1234" }, /64 hex digits/],
      [{ type: "set-limits", maxSeconds: 0, maxWidth: 1, maxHeight: 1, maxFps: 1 }, /--max-seconds must be a whole number from 1/],
      [{ type: "set-limits", maxSeconds: 1.5, maxWidth: 1, maxHeight: 1, maxFps: 1 }, /--max-seconds/],
      [{ type: "set-fees", coordinatorFeeBps: 9000, treasuryFeeBps: 2000 }, /more than 100 %/],
      [{ type: "set-fees", coordinatorFeeBps: -1, treasuryFeeBps: 0 }, /--coordinator-bps/],
      [{ type: "set-arbiter", arbiter: "nobody" }, /not an address/],
      [{ type: "set-arbiter", arbiter: "0x0000000000000000000000000000000000000000" }, /zero address/],
      [{ type: "set-dispute-window", seconds: 0n }, /dispute window/],
      [{ type: "block-term", terms: [] }, /at least one term/],
    ];
    for (const [action, message] of bad) {
      let caught: unknown;
      try {
        encodePolicyAction(action, POLICY);
      } catch (err) {
        caught = err;
      }
      expect(
        caught,
        JSON.stringify(action, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)),
      ).toBeInstanceOf(UsageError);
      expect((caught as Error).message).toMatch(message);
    }
  });

  test("behavior: describeCall names term hashes and falls back to a raw form for other targets", () => {
    const call = encodePolicyAction({ type: "block-term", terms: ["fox"] }, POLICY);
    expect(describeCall(POLICY, 0n, call.calldata, POLICY)).toBe(`block 1 term hash: ${termHash("fox")}`);
    const other = "0x0000000000000000000000000000000000000001";
    expect(describeCall(other, 5n, "0xdeadbeef00", POLICY)).toBe(`call ${other} with 0xdeadbeef… (5 bytes), sending 5 wei`);
  });
});

describe("hashProposal", () => {
  test("default: keccak256(abi.encode(targets, values, calldatas, keccak256(description)))", () => {
    const calls = { targets: [POLICY], values: [0n], calldatas: ["0x1234"], description: "Block fox" };
    const expected = BigInt(
      keccak256(
        AbiCoder.defaultAbiCoder().encode(
          ["address[]", "uint256[]", "bytes[]", "bytes32"],
          [calls.targets, calls.values, calls.calldatas, keccakUtf8("Block fox")],
        ),
      ),
    );
    expect(hashProposal(calls)).toBe(expected);
    expect(hashProposal({ ...calls, description: "Block fox again" })).not.toBe(expected);
  });
});

describe("proposal store", () => {
  const dir = mkdtempSync(join(tmpdir(), "rendermesh-dao-store-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const deployment = {
    chainId: 31337,
    token: POLICY,
    policy: POLICY,
    governor: "0x00000000000000000000000000000000000000Aa",
    timelock: POLICY,
  };
  const calls = {
    targets: [POLICY],
    values: [0n],
    calldatas: [encodePolicyAction({ type: "block-term", terms: ["fox"] }, POLICY).calldata],
    description: "Block fox",
  };
  const record: ProposalRecord = {
    ...calls,
    proposalId: hashProposal(calls),
    proposer: POLICY,
    voteStart: 10n,
    voteEnd: 30n,
    blockNumber: 9,
    txHash: "0xabc",
  };

  test("default: a stored proposal is read back", () => {
    storeProposal(dir, deployment, record);
    storeProposal(dir, deployment, record); // replacing keeps one entry
    expect(readStoredProposals(dir, deployment)).toEqual([record]);
    expect(readStoredProposals(dir, { ...deployment, chainId: 1 })).toEqual([]);
  });

  test("behavior: an entry whose calls no longer hash to its id is ignored", () => {
    // Edited behind the client's back, in the journal where the store lives.
    const db = new Database(join(dir, JOURNAL_FILE));
    const row = db.prepare("SELECT data FROM dao_proposals").get() as { data: string };
    const edited = { ...(JSON.parse(row.data) as object), description: "Block fox (edited)" };
    db.prepare("UPDATE dao_proposals SET data = ?").run(JSON.stringify(edited));
    db.close();
    expect(readStoredProposals(dir, deployment)).toEqual([]);
  });

  test("behavior: a data dir with the old JSON store is imported into the journal once, nothing lost", () => {
    const legacy = mkdtempSync(join(tmpdir(), "rendermesh-dao-legacy-"));
    try {
      const stored = { ...record, proposalId: record.proposalId.toString(), values: ["0"], voteStart: "10", voteEnd: "30" };
      mkdirSync(join(legacy, "dao"));
      writeFileSync(join(legacy, "dao", `31337-${deployment.governor.toLowerCase()}.json`), JSON.stringify({ proposals: [stored] }));
      expect(readStoredProposals(legacy, deployment)).toEqual([record]);
      // Once: the file is not read again (a later edit to it changes nothing).
      writeFileSync(join(legacy, "dao", `31337-${deployment.governor.toLowerCase()}.json`), JSON.stringify({ proposals: [] }));
      expect(readStoredProposals(legacy, deployment)).toEqual([record]);
    } finally {
      rmSync(legacy, { recursive: true, force: true });
    }
  });
});

describe("mapGovernanceError", () => {
  const errors = new Interface([
    "error GovernorAlreadyCastVote(address voter)",
    "error GovernorUnexpectedProposalState(uint256 proposalId, uint8 current, bytes32 expectedStates)",
    "error GovernorInsufficientProposerVotes(address proposer, uint256 votes, uint256 threshold)",
    "error TimelockUnexpectedOperationState(bytes32 operationId, bytes32 expectedStates)",
    "error OwnableUnauthorizedAccount(address account)",
    "error ContentPolicyTermAlreadyBlocked(bytes32 term)",
  ]);
  // The shape ethers gives a failed estimateGas: a CALL_EXCEPTION carrying the revert data.
  const reverted = (name: string, args: unknown[]) =>
    Object.assign(new Error("execution reverted"), {
      code: "CALL_EXCEPTION",
      info: { error: { code: 3, data: errors.encodeErrorResult(name, args) } },
    });
  const voter = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

  test("error: already voted", () => {
    const e = mapGovernanceError(reverted("GovernorAlreadyCastVote", [voter]), { doing: "vote on proposal 7", proposalId: 7n });
    expect(e.name).toBe("AlreadyVotedError");
    expect(e.shortMessage).toBe(`${voter} has already voted on proposal 7.`);
  });

  test("error: voting not started, from the proposal state", () => {
    const e = mapGovernanceError(reverted("GovernorUnexpectedProposalState", [7n, 0, `0x${"0".repeat(62)}02`]), {
      doing: "vote on proposal 7",
      snapshot: 41n,
    });
    expect(e.name).toBe("VotingNotStartedError");
    expect(e.shortMessage).toBe("Voting on proposal 7 has not started: it starts at block 42.");
  });

  test("error: execute before queue is 'not queued'", () => {
    const e = mapGovernanceError(reverted("GovernorUnexpectedProposalState", [7n, 4, `0x${"0".repeat(62)}20`]), {
      doing: "execute proposal 7",
    });
    expect(e.name).toBe("ProposalNotQueuedError");
    expect(e.hint).toContain("rendermesh dao queue 7");
  });

  test("error: timelock not ready names the time", () => {
    const e = mapGovernanceError(reverted("TimelockUnexpectedOperationState", [`0x${"11".repeat(32)}`, `0x${"0".repeat(62)}04`]), {
      doing: "execute proposal 7",
      proposalId: 7n,
      eta: 1_800_000_000n,
      now: 1_799_999_940n,
    });
    expect(e.name).toBe("TimelockNotReadyError");
    expect(e.shortMessage).toBe("The timelock is not ready: proposal 7 can be executed at 2027-01-15T08:00:00.000Z (unix 1800000000).");
    expect(e.hint).toBe("Execute it again in 60 s.");
  });

  test("error: proposer below the threshold", () => {
    const e = mapGovernanceError(reverted("GovernorInsufficientProposerVotes", [voter, 0n, 1000n * 10n ** 18n]), { doing: "propose" });
    expect(e.name).toBe("InsufficientProposerVotesError");
    expect(e.shortMessage).toBe("You have 0 MESH of votes but making a proposal needs 1000 MESH.");
  });

  test("error: a direct policy change by someone other than the timelock", () => {
    const e = mapGovernanceError(reverted("OwnableUnauthorizedAccount", [voter]), { doing: "block a term" });
    expect(e.name).toBe("NotTimelockError");
    expect(e.shortMessage).toBe(`Only the DAO's timelock can change the content policy, and ${voter} is not it.`);
  });

  test("error: a change the policy would refuse", () => {
    const e = mapGovernanceError(reverted("ContentPolicyTermAlreadyBlocked", [termHash("fox")]), { doing: "check" });
    expect(e.name).toBe("PolicyChangeRejectedError");
  });

  test("error: an unreachable node and an unknown revert", () => {
    const down = mapGovernanceError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "UNKNOWN_ERROR" }), {
      doing: "vote",
    });
    expect(down.name).toBe("ChainError");
    expect(down.shortMessage).toBe("Cannot reach the chain to vote.");
    const unknown = mapGovernanceError(Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION", data: "0x12345678" }), {
      doing: "vote",
    });
    expect(unknown.name).toBe("GovernanceError");
  });
});

describe("nextStep", () => {
  const base: ProposalStatus = {
    proposalId: 7n,
    state: "Active",
    stateForNextBlock: "Active",
    proposer: POLICY,
    snapshot: 10n,
    votingStartsAtBlock: 11n,
    deadline: 30n,
    currentBlock: 20n,
    votes: { for: 5n, against: 1n, abstain: 0n },
    quorum: 4n,
    quorumIsEstimate: false,
    quorumReached: true,
    majorityFor: true,
    eta: null,
    now: 1000n,
    queueableFromBlock: 31n,
    next: "",
  };

  test("default: one sentence per state with the block or time", () => {
    expect(nextStep(base)).toBe(
      "Voting is open until block 30 (10 blocks left) and it is passing; if it succeeds it can be queued from block 31.",
    );
    expect(nextStep({ ...base, state: "Pending", currentBlock: 8n })).toBe("Voting starts at block 11 (in 3 blocks) and ends at block 30.");
    expect(nextStep({ ...base, state: "Queued", eta: 1060n })).toBe(
      "It is queued in the timelock and can be executed at 1970-01-01T00:17:40.000Z (in 60 s).",
    );
    expect(nextStep({ ...base, state: "Defeated", quorumReached: false, votes: { for: 1n, against: 0n, abstain: 1n } })).toBe(
      "It was defeated: quorum not reached (2 of 4 votes for or abstaining); it changes nothing.",
    );
  });
});

describe("CLI argument parsers", () => {
  test("args: proposal ids in decimal or hex", () => {
    expect(parseProposalId("123")).toBe(123n);
    expect(parseProposalId("0xff")).toBe(255n);
    for (const bad of ["", "abc", "-1", "0", "1.5", `0x${"f".repeat(65)}`]) expect(() => parseProposalId(bad)).toThrow(UsageError);
  });

  test("args: vote support", () => {
    expect(parseSupport("For")).toBe("for");
    expect(parseSupport("abstain")).toBe("abstain");
    expect(() => parseSupport("yes")).toThrow(/for, against or abstain/);
  });

  test("args: durations", () => {
    expect(parseDuration("SECONDS", "3600")).toBe(3600n);
    expect(parseDuration("SECONDS", "90m")).toBe(5400n);
    expect(parseDuration("SECONDS", "7d")).toBe(604_800n);
    for (const bad of ["0", "1w", "-5", "1.5h"]) expect(() => parseDuration("SECONDS", bad)).toThrow(UsageError);
  });
});
