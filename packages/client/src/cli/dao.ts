import type { Command } from "commander";
import { UsageError } from "@rendermesh/shared";
import { Wallet, ZeroAddress } from "ethers";
import { DevOnlyError } from "../errors.js";
import {
  castVote,
  delegate,
  encodePolicyAction,
  executeProposal,
  getGovernance,
  getPolicy,
  getProposal,
  listProposals,
  propose,
  queueProposal,
  type DaoClient,
  type PolicyAction,
  type ProposalStatus,
  type VoteSupport,
  VOTE_SUPPORT,
} from "../dao/index.js";
import {
  type ChainContext,
  createOutput,
  formatToken,
  globalFlags,
  type Output,
  parseAddress,
  parseBytes32,
  parseIntFlag,
  resolveChain,
  resolveWallet,
} from "./common.js";

/**
 * `rendermesh dao …`: the MESH holders' side of the content policy —
 * delegate votes, propose a policy change, vote, queue, execute, and follow
 * proposals. Works with any OpenZeppelin Governor tool alongside (Tally, a
 * block explorer): proposals made elsewhere are rebuilt from their logs.
 */

interface MemberOption {
  member?: string;
}

const MEMBER_FLAG = "--member <n>";
const MEMBER_HELP = "sign as DAO member n (1, 2, 3…) of the local dev network (.rendermesh/dev.json)";

/** A proposal id as the Governor gives it: decimal (as Tally shows it) or 0x hex. */
export function parseProposalId(value: string): bigint {
  const v = value.trim();
  if (!/^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/.test(v)) {
    throw new UsageError(`"${value}" is not a proposal id.`, {
      hint: "Give the id `rendermesh dao propose` or `rendermesh dao list` printed (decimal, or 0x hex).",
    });
  }
  const id = BigInt(v);
  if (id === 0n || id >= 2n ** 256n) throw new UsageError(`"${value}" is not a proposal id (it must be from 1 to 2^256 - 1).`);
  return id;
}

export function parseSupport(value: string): VoteSupport {
  const v = value.trim().toLowerCase();
  if (!(v in VOTE_SUPPORT))
    throw new UsageError(`A vote is for, against or abstain, not "${value}".`, { hint: "e.g. `rendermesh dao vote <id> for`." });
  return v as VoteSupport;
}

const UNITS: Record<string, bigint> = { s: 1n, m: 60n, h: 3600n, d: 86_400n };

/** Seconds as `3600`, or with a unit: `90m`, `1h`, `7d`. */
export function parseDuration(what: string, value: string): bigint {
  const m = /^([0-9]{1,20})([smhd]?)$/.exec(value.trim());
  if (!m) throw new UsageError(`${what} must be a number of seconds, or a number with s, m, h or d (e.g. 3600 or 1h), got "${value}".`);
  const seconds = BigInt(m[1]!) * UNITS[m[2] || "s"]!;
  if (seconds <= 0n || seconds >= 2n ** 64n)
    throw new UsageError(`${what} must be at least 1 second and below 2^64 seconds, got "${value}".`);
  return seconds;
}

function parseMember(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseIntFlag("--member", value, 1, 1000);
}

/** The client the DAO actions run with; the signer is a dev DAO member with --member, else the CLI's wallet. */
async function daoClient(ctx: ChainContext, member: number | undefined, needsSigner: boolean): Promise<DaoClient> {
  const client: DaoClient = { provider: ctx.provider, deployment: ctx.deployment, dataDir: ctx.dataDir };
  if (member !== undefined) {
    if (!ctx.dev || ctx.dev.chainId !== ctx.chainId) {
      throw new DevOnlyError("--member works only on the local dev network, and no matching .rendermesh/dev.json was found.", {
        hint: "Start it with `pnpm dev`, or sign with RENDERMESH_PRIVATE_KEY / --keystore.",
      });
    }
    const account = ctx.dev.accounts.dao[member - 1];
    if (!account) throw new UsageError(`The dev network has ${ctx.dev.accounts.dao.length} DAO members; there is no member ${member}.`);
    client.signer = new Wallet(account.privateKey, ctx.provider);
  } else if (needsSigner) {
    client.signer = await resolveWallet(ctx);
  }
  return client;
}

/** Runs a DAO command against the chain and always releases the provider. */
async function withChain<T>(cmd: Command, run: (ctx: ChainContext, out: Output) => Promise<T>): Promise<T> {
  const flags = globalFlags(cmd);
  const out = createOutput(flags);
  const ctx = await resolveChain(flags);
  try {
    return await run(ctx, out);
  } finally {
    ctx.provider.destroy();
  }
}

const blocks = (n: bigint) => `${n} block${n === 1n ? "" : "s"}`;
const iso = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString();

function printStatus(out: Output, s: ProposalStatus): void {
  out.line(`Proposal ${s.proposalId}`);
  const rows: Array<[string, string]> = [];
  if (s.description !== undefined) rows.push(["description", s.description.split("\n")[0]!]);
  rows.push(["proposer", s.proposer], ["state", s.state]);
  for (const [i, c] of (s.calls ?? []).entries()) rows.push([i === 0 ? "calls" : "", `${i + 1}. ${c.summary}`]);
  rows.push(
    ["votes", `for ${formatToken(s.votes.for)} · against ${formatToken(s.votes.against)} · abstain ${formatToken(s.votes.abstain)}`],
    [
      "quorum",
      `${formatToken(s.quorum)} for or abstaining${s.quorumIsEstimate ? " (estimate until voting starts)" : ""} — ${s.quorumReached ? "reached" : "not reached"}`,
    ],
    ["voting", `blocks ${s.votingStartsAtBlock} to ${s.deadline} (chain at block ${s.currentBlock})`],
  );
  if (s.eta !== null) rows.push(["executable", `${iso(s.eta)}${s.eta > s.now ? ` (in ${s.eta - s.now} s)` : " (now)"}`]);
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) out.line(`  ${k.padEnd(width)}  ${v}`);
  out.line(s.next);
}

function addProposeAction(
  parent: Command,
  name: string,
  description: string,
  configure: (cmd: Command) => Command,
  build: (args: string[], opts: Record<string, string | undefined>, ctx: ChainContext) => Promise<PolicyAction> | PolicyAction,
  validate?: (args: string[], opts: Record<string, string | undefined>) => void,
): void {
  const cmd = configure(parent.command(name).description(description))
    .requiredOption("--description <text>", "what the proposal does and why (shown to voters; part of the proposal id)")
    .option(MEMBER_FLAG, MEMBER_HELP);
  cmd.action(async (...all: unknown[]) => {
    const self = all[all.length - 1] as Command;
    const opts = self.opts<Record<string, string | undefined>>();
    const args = self.args;
    const member = parseMember(opts.member);
    if (!opts.description?.trim()) throw new UsageError("--description must not be empty.");
    validate?.(args, opts);
    await withChain(self, async (ctx, out) => {
      const client = await daoClient(ctx, member, true);
      const action = await build(args, opts, ctx);
      const r = await propose(client, { actions: [action], description: opts.description! });
      out.result(
        {
          proposalId: r.proposalId,
          proposer: r.proposer,
          description: r.description,
          calls: r.calls,
          voteStart: r.voteStart,
          voteEnd: r.voteEnd,
          txHash: r.txHash,
          blockNumber: r.blockNumber,
          warnings: r.warnings,
        },
        () => {
          for (const w of r.warnings) out.line(`Note: ${w}`);
          for (const c of r.calls) {
            out.line(`Proposed: ${c.summary}`);
            for (const t of c.terms ?? []) out.line(`  "${t.normalised}" → ${t.hash}`);
          }
          out.line(`Proposal id: ${r.proposalId}`);
          out.line(`Voting opens after block ${r.voteStart} and closes at block ${r.voteEnd} (tx ${r.txHash}, block ${r.blockNumber}).`);
          out.line(`Next: rendermesh dao vote ${r.proposalId} for|against|abstain`);
        },
      );
    });
  });
}

export function registerDaoCommands(program: Command): void {
  const dao = program
    .command("dao")
    .description("govern the content policy: delegate, propose, vote, queue, execute (OpenZeppelin Governor + timelock)")
    // Subcommands inherit this: their --help lists --json and the chain flags too.
    .configureHelp({ showGlobalOptions: true });

  dao
    .command("delegate")
    .description("delegate your MESH votes (to yourself by default); tokens vote only once delegated")
    .argument("[address]", "who gets your votes (default: yourself)")
    .option(MEMBER_FLAG, MEMBER_HELP)
    .action(async (address: string | undefined, opts: MemberOption, cmd: Command) => {
      const member = parseMember(opts.member);
      const to = address === undefined ? undefined : parseAddress("ADDRESS", address);
      await withChain(cmd, async (ctx, out) => {
        const r = await delegate(await daoClient(ctx, member, true), { to });
        out.result({ ...r, alreadyDelegated: r.tx === undefined }, () => {
          const who = r.delegatee === r.delegator ? `${r.delegatee} (yourself)` : r.delegatee;
          if (!r.tx) out.line(`The votes of ${r.delegator} are already delegated to ${who}; nothing to do.`);
          else
            out.line(
              `Delegated the votes of ${r.delegator} (${formatToken(r.balance)}) to ${who} (tx ${r.tx.txHash}, block ${r.tx.blockNumber}).`,
            );
          out.line(`${r.delegatee} now has ${formatToken(r.votes)} of votes; they count for proposals made after this block.`);
          if (r.balance === 0n) out.line(`Note: ${r.delegator} holds no MESH, so this delegation carries no votes.`);
        });
      });
    });

  const proposeCmd = dao
    .command("propose")
    .description("propose a content-policy change; prints the proposal id")
    .addHelpText(
      "after",
      '\nEach action builds the call the timelock makes to ContentPolicy. Example:\n  rendermesh dao propose block-term "red fox" --description "Block red fox"',
    );

  addProposeAction(
    proposeCmd,
    "block-term",
    "block terms (a word or two adjacent words each); they are normalised and hashed (docs/policy.md)",
    (c) => c.argument("<term...>", "terms to block"),
    (args) => ({ type: "block-term", terms: args }),
    (args) => void encodePolicyAction({ type: "block-term", terms: args }, ZeroAddress),
  );
  addProposeAction(
    proposeCmd,
    "unblock-term",
    "unblock terms that are blocked now",
    (c) => c.argument("<term...>", "terms to unblock"),
    (args) => ({ type: "unblock-term", terms: args }),
    (args) => void encodePolicyAction({ type: "unblock-term", terms: args }, ZeroAddress),
  );
  addProposeAction(
    proposeCmd,
    "allow-model",
    "allow jobs to use a model (its id is the sha256 of the ONNX file)",
    (c) => c.argument("<modelId>", "0x + 64 hex digits"),
    (args) => ({ type: "allow-model", model: parseBytes32("The model id", args[0]!) }),
    (args) => void parseBytes32("The model id", args[0]!),
  );
  addProposeAction(
    proposeCmd,
    "disallow-model",
    "stop jobs from using a model",
    (c) => c.argument("<modelId>", "0x + 64 hex digits"),
    (args) => ({ type: "disallow-model", model: parseBytes32("The model id", args[0]!) }),
    (args) => void parseBytes32("The model id", args[0]!),
  );
  const LIMIT_FLAGS = ["maxSeconds", "maxWidth", "maxHeight", "maxFps"] as const;
  const U32 = 2 ** 32 - 1;
  addProposeAction(
    proposeCmd,
    "set-limits",
    "set the largest job; flags left out keep their current value",
    (c) =>
      c
        .option("--max-seconds <n>", "seconds per job")
        .option("--max-width <n>", "frame width in pixels")
        .option("--max-height <n>", "frame height in pixels")
        .option("--max-fps <n>", "frames per second"),
    async (_args, opts, ctx) => {
      const current = (await getPolicy({ provider: ctx.provider, deployment: ctx.deployment })).limits;
      const pick = (k: (typeof LIMIT_FLAGS)[number], flag: string) =>
        opts[k] === undefined ? current[k] : parseIntFlag(flag, opts[k], 1, U32);
      return {
        type: "set-limits",
        maxSeconds: pick("maxSeconds", "--max-seconds"),
        maxWidth: pick("maxWidth", "--max-width"),
        maxHeight: pick("maxHeight", "--max-height"),
        maxFps: pick("maxFps", "--max-fps"),
      };
    },
    (_args, opts) => {
      if (LIMIT_FLAGS.every((k) => opts[k] === undefined)) {
        throw new UsageError("Give at least one of --max-seconds, --max-width, --max-height, --max-fps.");
      }
      parseIntFlagIf(opts.maxSeconds, "--max-seconds", U32);
      parseIntFlagIf(opts.maxWidth, "--max-width", U32);
      parseIntFlagIf(opts.maxHeight, "--max-height", U32);
      parseIntFlagIf(opts.maxFps, "--max-fps", U32);
    },
  );
  addProposeAction(
    proposeCmd,
    "set-fees",
    "set the fee rates in basis points (coordinator + treasury ≤ 10000); a flag left out keeps its current value",
    (c) => c.option("--coordinator-bps <n>", "coordinator fee").option("--treasury-bps <n>", "DAO treasury fee"),
    async (_args, opts, ctx) => {
      const current = (await getPolicy({ provider: ctx.provider, deployment: ctx.deployment })).fees;
      return {
        type: "set-fees",
        coordinatorFeeBps:
          opts.coordinatorBps === undefined ? current.coordinatorFeeBps : parseIntFlag("--coordinator-bps", opts.coordinatorBps, 0, 10_000),
        treasuryFeeBps:
          opts.treasuryBps === undefined ? current.treasuryFeeBps : parseIntFlag("--treasury-bps", opts.treasuryBps, 0, 10_000),
      };
    },
    (_args, opts) => {
      if (opts.coordinatorBps === undefined && opts.treasuryBps === undefined)
        throw new UsageError("Give --coordinator-bps, --treasury-bps or both.");
      const c = opts.coordinatorBps === undefined ? 0 : parseIntFlag("--coordinator-bps", opts.coordinatorBps, 0, 10_000);
      const t = opts.treasuryBps === undefined ? 0 : parseIntFlag("--treasury-bps", opts.treasuryBps, 0, 10_000);
      if (c + t > 10_000) throw new UsageError(`Fees of ${c} + ${t} basis points add up to more than 100 % (10000).`);
    },
  );
  addProposeAction(
    proposeCmd,
    "set-arbiter",
    "set who resolves disputed claims",
    (c) => c.argument("<address>", "the new arbiter"),
    (args) => ({ type: "set-arbiter", arbiter: parseAddress("ADDRESS", args[0]!) }),
    (args) => void parseAddress("ADDRESS", args[0]!),
  );
  addProposeAction(
    proposeCmd,
    "set-dispute-window",
    "set how long a client has to dispute a claim",
    (c) => c.argument("<seconds>", "seconds, or with a unit: 90m, 1h, 7d"),
    (args) => ({ type: "set-dispute-window", seconds: parseDuration("SECONDS", args[0]!) }),
    (args) => void parseDuration("SECONDS", args[0]!),
  );

  dao
    .command("vote")
    .description("vote on an active proposal with your votes at its snapshot")
    .argument("<proposalId>", "the proposal")
    .argument("<support>", "for, against or abstain")
    .option("--reason <text>", "reason, recorded on-chain with the vote")
    .option(MEMBER_FLAG, MEMBER_HELP)
    .action(async (idArg: string, supportArg: string, opts: MemberOption & { reason?: string }, cmd: Command) => {
      const proposalId = parseProposalId(idArg);
      const support = parseSupport(supportArg);
      const member = parseMember(opts.member);
      await withChain(cmd, async (ctx, out) => {
        const client = await daoClient(ctx, member, true);
        const r = await castVote(client, { proposalId, support, reason: opts.reason });
        const s = await getProposal(client, { proposalId, withCalls: false });
        out.result({ ...r, reason: opts.reason ?? "", status: s }, () => {
          out.line(
            `${r.voter} voted ${support} on proposal ${proposalId} with ${formatToken(r.weight)} of votes (tx ${r.txHash}, block ${r.blockNumber}).`,
          );
          out.line(
            `Tally: for ${formatToken(s.votes.for)} · against ${formatToken(s.votes.against)} · abstain ${formatToken(s.votes.abstain)}; quorum ${formatToken(s.quorum)} ${s.quorumReached ? "reached" : "not reached"}.`,
          );
          out.line(s.next);
        });
      });
    });

  dao
    .command("queue")
    .description("queue a succeeded proposal in the timelock (anyone may)")
    .argument("<proposalId>", "the proposal")
    .option(MEMBER_FLAG, MEMBER_HELP)
    .action(async (idArg: string, opts: MemberOption, cmd: Command) => {
      const proposalId = parseProposalId(idArg);
      const member = parseMember(opts.member);
      await withChain(cmd, async (ctx, out) => {
        const r = await queueProposal(await daoClient(ctx, member, true), { proposalId });
        out.result(r, () => {
          out.line(`Queued proposal ${proposalId} (tx ${r.txHash}, block ${r.blockNumber}).`);
          out.line(`It can be executed at ${iso(r.eta)}: rendermesh dao execute ${proposalId}`);
        });
      });
    });

  dao
    .command("execute")
    .description("execute a queued proposal once its timelock delay has passed (anyone may)")
    .argument("<proposalId>", "the proposal")
    .option(MEMBER_FLAG, MEMBER_HELP)
    .action(async (idArg: string, opts: MemberOption, cmd: Command) => {
      const proposalId = parseProposalId(idArg);
      const member = parseMember(opts.member);
      await withChain(cmd, async (ctx, out) => {
        const r = await executeProposal(await daoClient(ctx, member, true), { proposalId });
        out.result(r, () => {
          out.line(`Executed proposal ${proposalId} in block ${r.blockNumber} (tx ${r.txHash}).`);
          out.line(`The content policy is now version ${r.policyVersion}; jobs opened after block ${r.blockNumber} use it.`);
        });
      });
    });

  dao
    .command("status")
    .description(
      "a proposal's state, votes, quorum and when it can be queued or executed; without an id, the DAO's settings, your votes and the latest proposal",
    )
    .argument("[proposalId]", "the proposal")
    .option(MEMBER_FLAG, MEMBER_HELP)
    .action(async (idArg: string | undefined, opts: MemberOption, cmd: Command) => {
      const proposalId = idArg === undefined ? undefined : parseProposalId(idArg);
      const member = parseMember(opts.member);
      await withChain(cmd, async (ctx, out) => {
        const client = await daoClient(ctx, member, false);
        if (proposalId !== undefined) {
          const s = await getProposal(client, { proposalId });
          out.result(s, () => printStatus(out, s));
          return;
        }
        let account: string | undefined;
        try {
          account = client.signer ? await client.signer.getAddress() : (await resolveWallet(ctx)).address;
        } catch {
          account = undefined; // no wallet configured: show the DAO alone
        }
        const g = await getGovernance(client, { account });
        const latest = (await listProposals(client))[0];
        out.result({ governance: g, latestProposal: latest ? { ...latest, record: undefined } : null }, () => {
          out.line(`DAO ${g.name}: governor ${g.governor}, timelock ${g.timelock}, token ${g.tokenSymbol} ${g.token}`);
          out.line(`  voting delay     ${blocks(g.votingDelay)}`);
          out.line(`  voting period    ${blocks(g.votingPeriod)}`);
          out.line(
            `  quorum           ${(g.quorumNumerator * 100n) / g.quorumDenominator}% of supply = ${formatToken(g.quorum)} for or abstaining`,
          );
          out.line(`  proposal needs   ${formatToken(g.proposalThreshold)} of votes`);
          out.line(`  timelock delay   ${g.timelockDelay} s`);
          out.line(`  chain at block   ${g.currentBlock}`);
          if (g.account) {
            const a = g.account;
            out.line(
              `You (${a.address}): ${formatToken(a.balance)}, ${formatToken(a.votes)} of votes, delegated to ${a.delegatee ?? "nobody (run `rendermesh dao delegate`)"}`,
            );
          }
          if (latest) {
            out.line("Latest proposal:");
            printStatus(out, latest);
          } else {
            out.line("No proposals yet.");
          }
        });
      });
    });

  dao
    .command("list")
    .description("every proposal on the governor, newest first (made with any tool)")
    .action(async (_opts: unknown, cmd: Command) => {
      await withChain(cmd, async (ctx, out) => {
        const all = await listProposals({ provider: ctx.provider, deployment: ctx.deployment, dataDir: ctx.dataDir });
        out.result(
          all.map((p) => ({ ...p, record: undefined })),
          () => {
            if (all.length === 0) {
              out.line("No proposals yet. Make one with `rendermesh dao propose`.");
              return;
            }
            out.table(
              ["ID", "STATE", "FOR", "AGAINST", "ABSTAIN", "DESCRIPTION"],
              all.map((p) => {
                const d = (p.description ?? "").split("\n")[0]!;
                return [
                  p.proposalId.toString(),
                  p.state,
                  formatToken(p.votes.for),
                  formatToken(p.votes.against),
                  formatToken(p.votes.abstain),
                  d.length > 60 ? `${d.slice(0, 59)}…` : d,
                ];
              }),
              ["left", "left", "right", "right", "right", "left"],
            );
          },
        );
      });
    });
}

function parseIntFlagIf(value: string | undefined, flag: string, max: number): void {
  if (value !== undefined) parseIntFlag(flag, value, 1, max);
}
