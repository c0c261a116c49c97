import { normaliseText, termHash, UsageError } from "@rendermesh/shared";
import { getAddress, isAddress, ZeroAddress } from "ethers";
import { policyInterface } from "./interfaces.js";

/**
 * The content-policy changes a proposal can make, and how each becomes the
 * call the timelock will run on `ContentPolicy`.
 */
export type PolicyAction =
  | { type: "block-term"; terms: string[] }
  | { type: "unblock-term"; terms: string[] }
  | { type: "allow-model"; model: string }
  | { type: "disallow-model"; model: string }
  | { type: "set-limits"; maxSeconds: number; maxWidth: number; maxHeight: number; maxFps: number }
  | { type: "set-fees"; coordinatorFeeBps: number; treasuryFeeBps: number }
  | { type: "set-arbiter"; arbiter: string }
  | { type: "set-dispute-window"; seconds: bigint }
  | { type: "set-claim-window"; seconds: bigint }
  | { type: "set-min-stake"; amount: bigint };

export type PolicyActionType = PolicyAction["type"];

export const POLICY_ACTION_TYPES: readonly PolicyActionType[] = [
  "block-term",
  "unblock-term",
  "allow-model",
  "disallow-model",
  "set-limits",
  "set-fees",
  "set-arbiter",
  "set-dispute-window",
  "set-claim-window",
  "set-min-stake",
];

/** A term as it will be hashed: what was typed, its normalised form and its hash. */
export interface NormalisedTerm {
  input: string;
  normalised: string;
  hash: `0x${string}`;
  /** Normalisation changed what was typed (beyond trimming). */
  changed: boolean;
}

export interface PolicyCall {
  target: string;
  value: bigint;
  calldata: string;
  /** One line saying what the call does, e.g. `block 1 term: "red fox"`. */
  summary: string;
  /** For block-term / unblock-term. */
  terms?: NormalisedTerm[] | undefined;
}

const UINT32_MAX = 2 ** 32 - 1;
const UINT16_MAX = 2 ** 16 - 1;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * Normalises and hashes a term for the policy. Throws a UsageError for a term
 * that could never match a prompt: empty after normalisation, or more than
 * two words (prompts are matched word by word and by adjacent pairs).
 */
export function normaliseTerm(input: string): NormalisedTerm {
  const normalised = normaliseText(input);
  if (normalised === "") {
    throw new UsageError(`The term ${JSON.stringify(input)} is empty once normalised (punctuation and symbols are stripped).`, {
      hint: "Block a word or a two-word phrase made of letters or digits.",
    });
  }
  const count = normalised.split(" ").length;
  if (count > 2) {
    throw new UsageError(
      `The term ${JSON.stringify(input)} normalises to ${count} words ("${normalised}"), which could never match a prompt.`,
      {
        hint: "A blocked term is one word or two adjacent words; block its words or pairs instead.",
      },
    );
  }
  return { input, normalised, hash: termHash(input), changed: normalised !== input.trim() };
}

function bytes32(value: string, what: string): string {
  if (!/^0x[0-9a-fA-F]{64}$/.test(value)) {
    throw new UsageError(`${what} ${JSON.stringify(value)} is not 0x followed by 64 hex digits.`, {
      hint: "A model id is the sha256 of the ONNX file, e.g. from `sha256sum model.onnx` with 0x in front.",
    });
  }
  return value.toLowerCase();
}

function positiveInt(value: number, what: string, max: number): number {
  if (!Number.isInteger(value) || value <= 0 || value > max) {
    throw new UsageError(`${what} must be a whole number from 1 to ${max}, not ${value}.`);
  }
  return value;
}

function bps(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value > UINT16_MAX) {
    throw new UsageError(`${what} must be a whole number of basis points from 0 to 10000, not ${value}.`);
  }
  return value;
}

function positiveBig(value: bigint, what: string, max: bigint): bigint {
  if (value <= 0n || value > max) throw new UsageError(`${what} must be from 1 to ${max}, not ${value}.`);
  return value;
}

function termCall(policy: string, fn: "blockTerms" | "unblockTerms", inputs: string[]): PolicyCall {
  if (inputs.length === 0) throw new UsageError("Name at least one term.");
  const terms = inputs.map(normaliseTerm);
  const seen = new Set<string>();
  for (const t of terms) {
    if (seen.has(t.hash)) {
      throw new UsageError(`The term "${t.normalised}" is given twice (after normalisation).`, { hint: "Give each term once." });
    }
    seen.add(t.hash);
  }
  const verb = fn === "blockTerms" ? "block" : "unblock";
  return {
    target: policy,
    value: 0n,
    calldata: policyInterface.encodeFunctionData(fn, [terms.map((t) => t.hash)]),
    summary: `${verb} ${terms.length} term${terms.length === 1 ? "" : "s"}: ${terms.map((t) => JSON.stringify(t.normalised)).join(", ")}`,
    terms,
  };
}

/** Encodes one policy change as the call the timelock makes; validates its arguments (UsageError). */
export function encodePolicyAction(action: PolicyAction, policy: string): PolicyCall {
  const call = (fn: string, args: unknown[], summary: string): PolicyCall => ({
    target: policy,
    value: 0n,
    calldata: policyInterface.encodeFunctionData(fn, args),
    summary,
  });
  switch (action.type) {
    case "block-term":
      return termCall(policy, "blockTerms", action.terms);
    case "unblock-term":
      return termCall(policy, "unblockTerms", action.terms);
    case "allow-model": {
      const m = bytes32(action.model, "The model id");
      return call("allowModel", [m], `allow model ${m}`);
    }
    case "disallow-model": {
      const m = bytes32(action.model, "The model id");
      return call("disallowModel", [m], `disallow model ${m}`);
    }
    case "set-limits": {
      const s = positiveInt(action.maxSeconds, "--max-seconds", UINT32_MAX);
      const w = positiveInt(action.maxWidth, "--max-width", UINT32_MAX);
      const h = positiveInt(action.maxHeight, "--max-height", UINT32_MAX);
      const f = positiveInt(action.maxFps, "--max-fps", UINT32_MAX);
      return call("setLimits", [s, w, h, f], `set limits: at most ${s} s, ${w}x${h} pixels, ${f} fps`);
    }
    case "set-fees": {
      const c = bps(action.coordinatorFeeBps, "--coordinator-bps");
      const t = bps(action.treasuryFeeBps, "--treasury-bps");
      if (c + t > 10_000) throw new UsageError(`Fees of ${c} + ${t} basis points add up to more than 100 % (10000).`);
      return call("setFees", [c, t], `set fees: coordinator ${c} bps, treasury ${t} bps`);
    }
    case "set-arbiter": {
      if (!isAddress(action.arbiter))
        throw new UsageError(`${JSON.stringify(action.arbiter)} is not an address.`, { hint: "Give 0x followed by 40 hex digits." });
      const a = getAddress(action.arbiter);
      if (a === ZeroAddress) throw new UsageError("The arbiter cannot be the zero address.");
      return call("setArbiter", [a], `set arbiter to ${a}`);
    }
    case "set-dispute-window": {
      const s = positiveBig(action.seconds, "The dispute window (seconds)", UINT64_MAX);
      return call("setDisputeWindow", [s], `set dispute window to ${s} s`);
    }
    case "set-claim-window": {
      const s = positiveBig(action.seconds, "The claim window (seconds)", UINT64_MAX);
      return call("setClaimWindow", [s], `set claim window to ${s} s`);
    }
    case "set-min-stake": {
      const s = positiveBig(action.amount, "The minimum stake", 2n ** 256n - 1n);
      return call("setMinProviderStake", [s], `set minimum provider stake to ${s} base units`);
    }
  }
}

/** One line saying what a proposal's call does, for calls to the policy; a raw form for anything else. */
export function describeCall(target: string, value: bigint, calldata: string, policy: string | undefined): string {
  if (policy && target.toLowerCase() === policy.toLowerCase()) {
    try {
      const tx = policyInterface.parseTransaction({ data: calldata, value });
      if (tx) {
        const a = tx.args;
        switch (tx.name) {
          case "blockTerms":
          case "unblockTerms": {
            const hashes = a[0] as string[];
            return `${tx.name === "blockTerms" ? "block" : "unblock"} ${hashes.length} term hash${hashes.length === 1 ? "" : "es"}: ${hashes.join(", ")}`;
          }
          case "allowModel":
            return `allow model ${a[0]}`;
          case "disallowModel":
            return `disallow model ${a[0]}`;
          case "setLimits":
            return `set limits: at most ${a[0]} s, ${a[1]}x${a[2]} pixels, ${a[3]} fps`;
          case "setFees":
            return `set fees: coordinator ${a[0]} bps, treasury ${a[1]} bps`;
          case "setArbiter":
            return `set arbiter to ${a[0]}`;
          case "setTreasury":
            return `set treasury to ${a[0]}`;
          case "setDisputeWindow":
            return `set dispute window to ${a[0]} s`;
          case "setClaimWindow":
            return `set claim window to ${a[0]} s`;
          case "setMinProviderStake":
            return `set minimum provider stake to ${a[0]} base units`;
        }
      }
    } catch {
      // not a known policy call: raw form below
    }
  }
  const selector = calldata.slice(0, 10);
  return `call ${target} with ${selector}… (${(calldata.length - 2) / 2} bytes)${value > 0n ? `, sending ${value} wei` : ""}`;
}
