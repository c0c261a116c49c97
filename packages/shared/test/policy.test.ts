import { describe, expect, test } from "vitest";
import { evaluateSpec, findBlockedTerm, normaliseText, termHash, type PolicySnapshot } from "../src/index.js";

describe("term normalisation", () => {
  test("default: NFKC, case folding and punctuation stripping", () => {
    expect(normaliseText("  Ｈｅｌｌｏ,   WORLD!! ")).toBe("hello world");
    expect(normaliseText("ﬁre—works")).toBe("fire works");
    expect(normaliseText("Straße")).toBe("straße");
  });

  test("behavior: a blocked word matches however it is spelt", () => {
    const blocked = new Set([termHash("forbidden")]);
    expect(findBlockedTerm("A FORBIDDEN fruit", blocked)).toBe("forbidden");
    expect(findBlockedTerm("ｆｏｒｂｉｄｄｅｎ.", blocked)).toBe("forbidden");
    expect(findBlockedTerm("forbiddance", blocked)).toBeNull();
  });

  test("behavior: punctuation or invisible characters inserted into a word do not hide it", () => {
    const blocked = new Set([termHash("forbidden")]);
    expect(findBlockedTerm("a for.bidden fruit", blocked)).toBe("forbidden");
    expect(findBlockedTerm("a for\u200Bbidden fruit", blocked)).toBe("forbidden");
    expect(findBlockedTerm("a for-bid-den fruit", blocked)).toBe("forbidden");
    expect(normaliseText("for\u00ADbidden")).toBe("forbidden");
  });

  test("behavior: a blocked phrase matches adjacent words only", () => {
    const blocked = new Set([termHash("Red Fox")]);
    expect(findBlockedTerm("the red, fox runs", blocked)).toBe("red fox");
    expect(findBlockedTerm("the red big fox", blocked)).toBeNull();
  });
});

describe("evaluateSpec", () => {
  const model = "0x" + "11".repeat(32);
  const policy: PolicySnapshot = {
    version: 3n,
    blockedTerms: new Set([termHash("banned")]),
    allowedModels: new Set([model]),
    maxSeconds: 60,
    maxWidth: 512,
    maxHeight: 512,
    maxFps: 30,
    minProviderStake: 0n,
    coordinatorFeeBps: 100,
    treasuryFeeBps: 100,
    disputeWindow: 3600n,
    claimWindow: 86400n,
    arbiter: "0x" + "00".repeat(20),
    treasury: "0x" + "00".repeat(20),
  };
  const spec = { v: 1 as const, model: model as `0x${string}`, prompt: "calm sea", seed: 1, seconds: 10, fps: 12, width: 256, height: 256 };

  test("default: a spec within the policy has no violations", () => {
    expect(evaluateSpec(spec, policy)).toEqual([]);
  });

  test("error: each limit yields its own reason code", () => {
    const v = evaluateSpec(
      { ...spec, prompt: "a Banned sea", model: ("0x" + "22".repeat(32)) as `0x${string}`, seconds: 61, width: 1024, fps: 60 },
      policy,
    );
    expect(v.map((x) => x.code)).toEqual([
      "POLICY_BLOCKED_TERM",
      "POLICY_MODEL_NOT_ALLOWED",
      "POLICY_LIMIT",
      "POLICY_LIMIT",
      "POLICY_LIMIT",
    ]);
    expect(v[0]!.term).toBe("banned");
    expect(v[0]!.message).toContain('"banned"');
  });
});
