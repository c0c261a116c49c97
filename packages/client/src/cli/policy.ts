import type { Command } from "commander";
import { candidateTerms, findBlockedTerm, normaliseText, UsageError } from "@rendermesh/shared";
import { PolicyRefusedError } from "../errors.js";
import { getPolicy, normaliseTerm, type PolicyView } from "../dao/index.js";
import { createOutput, formatToken, globalFlags, parseIntFlag, resolveChain } from "./common.js";

/**
 * `rendermesh policy …`: the content policy in force (or at any past block),
 * and the term normalisation and hashing of docs/policy.md, so anyone can
 * check a prompt or compute a term hash the way the network does.
 */

function duration(seconds: bigint): string {
  const units: Array<[bigint, string]> = [
    [86_400n, "d"],
    [3600n, "h"],
    [60n, "min"],
  ];
  for (const [size, name] of units) if (seconds >= size && seconds % size === 0n) return `${seconds} s (${seconds / size} ${name})`;
  return `${seconds} s`;
}

const percent = (bps: number) => `${bps} bps (${(bps / 100).toString()} %)`;

function printPolicy(out: ReturnType<typeof createOutput>, p: PolicyView, timelock: string): void {
  out.line(`Content policy ${p.address}: version ${p.version} (read at block ${p.blockNumber})`);
  const ownedByTimelock = p.owner.toLowerCase() === timelock.toLowerCase();
  const rows: Array<[string, string]> = [
    [
      "owner",
      `${p.owner}${ownedByTimelock ? " (the DAO timelock: only an executed proposal changes the policy)" : " (WARNING: not the DAO timelock of this deployment)"}`,
    ],
    ["blocked terms", `${p.blockedTermCount} (stored as hashes of normalised terms; check a text with \`rendermesh policy check\`)`],
    ["allowed models", p.allowedModels.length === 0 ? "none" : `${p.allowedModels.length}`],
    ...p.allowedModels.map((m): [string, string] => ["", m]),
    ["max seconds", `${p.limits.maxSeconds}`],
    ["max frame size", `${p.limits.maxWidth}x${p.limits.maxHeight}`],
    ["max fps", `${p.limits.maxFps}`],
    ["min provider stake", formatToken(p.minProviderStake)],
    ["coordinator fee", percent(p.fees.coordinatorFeeBps)],
    ["treasury fee", percent(p.fees.treasuryFeeBps)],
    ["dispute window", duration(p.disputeWindow)],
    ["claim window", duration(p.claimWindow)],
    ["arbiter", p.arbiter],
    ["treasury", p.treasury],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.line(`  ${k.padEnd(width)}  ${v}`);
}

export function registerPolicyCommands(program: Command): void {
  const policy = program
    .command("policy")
    .description("the content policy the DAO governs: show it, check a text, hash a term")
    .configureHelp({ showGlobalOptions: true });

  policy
    .command("show")
    .description("every policy value with its version, the number of blocked terms (stored hashed) and the allowed models")
    .option("--block <n>", "read the policy as it was at this block (a job keeps the policy of the block it was opened in)")
    .action(async (opts: { block?: string }, cmd: Command) => {
      const flags = globalFlags(cmd);
      const out = createOutput(flags);
      const blockTag = opts.block === undefined ? undefined : parseIntFlag("--block", opts.block, 0, Number.MAX_SAFE_INTEGER);
      const ctx = await resolveChain(flags);
      try {
        const p = await getPolicy({ provider: ctx.provider, deployment: ctx.deployment }, { blockTag });
        out.result(p, () => printPolicy(out, p, ctx.deployment.timelock));
      } finally {
        ctx.provider.destroy();
      }
    });

  policy
    .command("check")
    .description("check a text (e.g. a prompt) against the blocked terms in force; exits 3 when it contains one")
    .argument("<text...>", "the text")
    .action(async (words: string[], _opts: unknown, cmd: Command) => {
      const flags = globalFlags(cmd);
      const out = createOutput(flags);
      const text = words.join(" ");
      if (normaliseText(text) === "")
        throw new UsageError("The text is empty once normalised.", { hint: "Give a prompt with letters or digits." });
      const ctx = await resolveChain(flags);
      try {
        const p = await getPolicy({ provider: ctx.provider, deployment: ctx.deployment });
        const match = findBlockedTerm(text, new Set(p.blockedTerms));
        if (match !== null) {
          throw new PolicyRefusedError("POLICY_BLOCKED_TERM", `The text contains "${match}", which the content policy blocks.`, {
            term: match,
            policyVersion: p.version,
          });
        }
        out.result({ allowed: true, normalised: normaliseText(text), policyVersion: p.version }, (r) =>
          out.line(`Allowed: "${r.normalised}" contains no blocked term (policy version ${r.policyVersion}).`),
        );
      } finally {
        ctx.provider.destroy();
      }
    });

  policy
    .command("hash")
    .description("normalise terms and print the hashes the policy stores for them (no chain needed)")
    .argument("<term...>", "terms (one word or two adjacent words each)")
    .action((terms: string[], _opts: unknown, cmd: Command) => {
      const out = createOutput(globalFlags(cmd));
      const rows = terms.map(normaliseTerm);
      out.result(rows, () => {
        for (const t of rows) out.line(`${t.hash}  "${t.normalised}"${t.changed ? `  (from ${JSON.stringify(t.input)})` : ""}`);
      });
    });

  // Shown by `rendermesh policy check --help`: what the check compares.
  policy.commands
    .find((c) => c.name() === "check")
    ?.addHelpText(
      "after",
      `\nThe text is normalised (NFKC, lower case, punctuation stripped; docs/policy.md) and every word and adjacent pair of words is hashed, e.g. ${JSON.stringify(
        candidateTerms("A red fox").map((c) => c.text),
      )}.`,
    );
}
