import { BaseError, type BaseErrorOptions } from "@rendermesh/shared";
import { isError } from "ethers";
import { ChainError, ClientError, EXIT, InsufficientFundsError } from "../errors.js";
import { governanceErrorsInterface } from "./interfaces.js";
import { formatMesh } from "./format.js";
import { type ProposalState, proposalStateName } from "./types.js";

/**
 * The errors a voter, proposer or executor meets, one named class each: a
 * sentence that says what is wrong and a hint that says what to do. Refusals
 * by the governance rules exit the CLI with 3, other chain failures with 1.
 */
export class DaoError extends ClientError {
  override name = "DaoError";
  constructor(code: string, shortMessage: string, options: BaseErrorOptions & { exitCode?: number } = {}) {
    super(code, shortMessage, { exitCode: EXIT.refused, ...options });
  }
}

/** The account had no votes at the proposal's snapshot (or, to propose, fewer than the threshold). */
export class NoVotingPowerError extends DaoError {
  override name = "NoVotingPowerError";
  constructor(block: bigint, options: BaseErrorOptions = {}) {
    super("DAO_NO_VOTING_POWER", `You have no voting power at block ${block}: delegate first with \`rendermesh dao delegate\`.`, {
      hint: "Votes count from the block you delegate in, so delegate before a proposal is made; this proposal's snapshot is already fixed.",
      ...options,
    });
  }
}

export class InsufficientProposerVotesError extends DaoError {
  override name = "InsufficientProposerVotesError";
  constructor(votes: bigint, threshold: bigint, options: BaseErrorOptions = {}) {
    super("DAO_BELOW_THRESHOLD", `You have ${formatMesh(votes)} of votes but making a proposal needs ${formatMesh(threshold)}.`, {
      hint: "Delegate to yourself with `rendermesh dao delegate` (and wait one block), or ask holders to delegate to you.",
      ...options,
    });
  }
}

export class VotingNotStartedError extends DaoError {
  override name = "VotingNotStartedError";
  readonly startsAtBlock: bigint;
  constructor(proposalId: bigint, startsAtBlock: bigint, currentBlock: bigint | undefined, options: BaseErrorOptions = {}) {
    super("DAO_VOTING_NOT_STARTED", `Voting on proposal ${proposalId} has not started: it starts at block ${startsAtBlock}.`, {
      hint:
        currentBlock === undefined
          ? `Vote again once block ${startsAtBlock - 1n} is mined.`
          : `Vote again once block ${startsAtBlock - 1n} is mined (the chain is at block ${currentBlock}).`,
      ...options,
    });
    this.startsAtBlock = startsAtBlock;
  }
}

export class VotingClosedError extends DaoError {
  override name = "VotingClosedError";
  constructor(proposalId: bigint, deadline: bigint | undefined, state: ProposalState | undefined, options: BaseErrorOptions = {}) {
    const ended = deadline === undefined ? "" : ` (it ended at block ${deadline})`;
    super("DAO_VOTING_CLOSED", `Voting on proposal ${proposalId} is closed${ended}${state ? `; the proposal is ${state}` : ""}.`, {
      hint: `See \`rendermesh dao status ${proposalId}\`.`,
      ...options,
    });
  }
}

export class AlreadyVotedError extends DaoError {
  override name = "AlreadyVotedError";
  constructor(proposalId: bigint, voter: string, options: BaseErrorOptions = {}) {
    super("DAO_ALREADY_VOTED", `${voter} has already voted on proposal ${proposalId}.`, {
      hint: `A vote cannot be changed; \`rendermesh dao status ${proposalId}\` shows the tally.`,
      ...options,
    });
  }
}

/** The proposal is in a state that does not allow the command (generic form). */
export class ProposalStateError extends DaoError {
  override name = "ProposalStateError";
  readonly state: ProposalState;
  constructor(state: ProposalState, shortMessage: string, options: BaseErrorOptions = {}) {
    super("DAO_PROPOSAL_STATE", shortMessage, options);
    this.state = state;
  }
}

export class ProposalNotQueuedError extends DaoError {
  override name = "ProposalNotQueuedError";
  constructor(proposalId: bigint, state: ProposalState, options: BaseErrorOptions = {}) {
    super("DAO_NOT_QUEUED", `Proposal ${proposalId} is not queued (it is ${state}).`, {
      hint: `Queue it first with \`rendermesh dao queue ${proposalId}\`.`,
      ...options,
    });
  }
}

export class TimelockNotReadyError extends DaoError {
  override name = "TimelockNotReadyError";
  readonly readyAt: bigint;
  constructor(proposalId: bigint, readyAt: bigint, now: bigint | undefined, options: BaseErrorOptions = {}) {
    const when = new Date(Number(readyAt) * 1000).toISOString();
    super("DAO_TIMELOCK_NOT_READY", `The timelock is not ready: proposal ${proposalId} can be executed at ${when} (unix ${readyAt}).`, {
      hint:
        now === undefined || readyAt <= now
          ? "Execute it again after that time (the next block's timestamp must reach it)."
          : `Execute it again in ${readyAt - now} s.`,
      ...options,
    });
    this.readyAt = readyAt;
  }
}

export class ProposalNotFoundError extends DaoError {
  override name = "ProposalNotFoundError";
  constructor(proposalId: bigint, governor: string, options: BaseErrorOptions = {}) {
    super("DAO_PROPOSAL_NOT_FOUND", `There is no proposal ${proposalId} on the governor at ${governor}.`, {
      hint: "Check the id with `rendermesh dao list`, and that --rpc-url and the deployment are the right chain.",
      ...options,
    });
  }
}

export class ProposalExistsError extends DaoError {
  override name = "ProposalExistsError";
  constructor(proposalId: bigint, state: ProposalState, options: BaseErrorOptions = {}) {
    super("DAO_PROPOSAL_EXISTS", `The same proposal already exists (id ${proposalId}, ${state}).`, {
      hint: "Change the --description to propose the same change again.",
      ...options,
    });
  }
}

/** Executing the proposed call would revert: the change is invalid under the current policy. */
export class PolicyChangeRejectedError extends DaoError {
  override name = "PolicyChangeRejectedError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("DAO_POLICY_CHANGE_INVALID", shortMessage, options);
  }
}

/** Someone other than the timelock tried to change the content policy. */
export class NotTimelockError extends DaoError {
  override name = "NotTimelockError";
  constructor(account: string, options: BaseErrorOptions = {}) {
    super("DAO_NOT_TIMELOCK", `Only the DAO's timelock can change the content policy, and ${account} is not it.`, {
      hint: "Propose the change with `rendermesh dao propose`; it applies once the proposal is executed.",
      ...options,
    });
  }
}

/** Any other governance failure. */
export class GovernanceError extends ClientError {
  override name = "GovernanceError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("DAO_FAILED", shortMessage, options);
  }
}

/** The revert data (`0x` + selector + args) carried anywhere in an ethers or JSON-RPC error, if any. */
export function revertData(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number): string | undefined => {
    if (e === null || typeof e !== "object" || seen.has(e) || depth > 8) return undefined;
    seen.add(e);
    const o = e as Record<string, unknown>;
    if (typeof o.data === "string" && /^0x[0-9a-fA-F]{8}/.test(o.data)) return o.data;
    for (const key of ["data", "error", "info", "cause", "payload"]) {
      const found = visit(o[key], depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return visit(err, 0);
}

export interface DecodedRevert {
  name: string;
  args: readonly unknown[];
}

/** The custom error (Governor, Timelock, ContentPolicy, Votes) or `Error(string)` a failure reverted with. */
export function decodeGovernanceRevert(err: unknown): DecodedRevert | undefined {
  const data = revertData(err);
  if (!data) return undefined;
  try {
    const parsed = governanceErrorsInterface.parseError(data);
    if (parsed) return { name: parsed.name, args: [...parsed.args] };
  } catch {
    // unknown selector: fall through
  }
  return undefined;
}

export interface GovernanceErrorContext {
  /** What was being done, e.g. "vote on proposal 1". */
  doing: string;
  proposalId?: bigint | undefined;
  /** The sender, for messages about "you". */
  account?: string | undefined;
  /** The proposal's timelock ETA (unix seconds), for TimelockNotReady. */
  eta?: bigint | undefined;
  /** Latest block timestamp. */
  now?: bigint | undefined;
  snapshot?: bigint | undefined;
  deadline?: bigint | undefined;
}

/**
 * Turns a failed governance call or transaction into one of the errors above
 * (or a ChainError), keeping the original as `cause`. Pre-checks in the
 * actions catch most cases with richer context; this covers the rest, e.g. a
 * state change between the check and the transaction.
 */
export function mapGovernanceError(err: unknown, ctx: GovernanceErrorContext): BaseError {
  if (err instanceof BaseError) return err;
  const decoded = decodeGovernanceRevert(err);
  const id = ctx.proposalId ?? 0n;
  const opts = { cause: err };
  if (decoded) {
    const a = decoded.args;
    switch (decoded.name) {
      case "GovernorAlreadyCastVote":
        return new AlreadyVotedError(id, String(a[0]), opts);
      case "GovernorInsufficientProposerVotes":
        return new InsufficientProposerVotesError(BigInt(a[1] as bigint), BigInt(a[2] as bigint), opts);
      case "GovernorNonexistentProposal":
        return new ProposalNotFoundError(BigInt(a[0] as bigint), "the configured address", opts);
      case "GovernorUnexpectedProposalState": {
        const state = proposalStateName(a[1] as bigint);
        const pid = BigInt(a[0] as bigint);
        if (ctx.doing.startsWith("propose")) return new ProposalExistsError(pid, state, opts);
        if (ctx.doing.startsWith("vote")) {
          if (state === "Pending") return new VotingNotStartedError(pid, (ctx.snapshot ?? 0n) + 1n, undefined, opts);
          return new VotingClosedError(pid, ctx.deadline, state, opts);
        }
        if (ctx.doing.startsWith("execute") && state === "Succeeded") return new ProposalNotQueuedError(pid, state, opts);
        return new ProposalStateError(state, `Cannot ${ctx.doing}: proposal ${pid} is ${state}.`, {
          hint: `See \`rendermesh dao status ${pid}\`.`,
          ...opts,
        });
      }
      case "GovernorProposalQueueingNotRequired":
      case "GovernorAlreadyQueuedProposal":
        return new ProposalStateError("Queued", `Proposal ${id} is already queued.`, {
          hint: `Execute it with \`rendermesh dao execute ${id}\`.`,
          ...opts,
        });
      case "TimelockUnexpectedOperationState":
        if (ctx.eta !== undefined && ctx.eta > 0n) return new TimelockNotReadyError(id, ctx.eta, ctx.now, opts);
        return new ProposalStateError("Queued", `The timelock refused to ${ctx.doing}: the operation is not in the expected state.`, {
          hint: `See \`rendermesh dao status ${id}\`.`,
          ...opts,
        });
      case "OwnableUnauthorizedAccount":
        return new NotTimelockError(String(a[0]), opts);
      case "ContentPolicyTermAlreadyBlocked":
        return new PolicyChangeRejectedError(`Term hash ${String(a[0])} is blocked already.`, {
          hint: "Leave it out of the proposal.",
          ...opts,
        });
      case "ContentPolicyTermNotBlocked":
        return new PolicyChangeRejectedError(`Term hash ${String(a[0])} is not blocked.`, {
          hint: "Only blocked terms can be unblocked; check the spelling.",
          ...opts,
        });
      case "ContentPolicyModelAlreadyAllowed":
        return new PolicyChangeRejectedError(`Model ${String(a[0])} is allowed already.`, {
          hint: "`rendermesh policy show` lists the allowed models.",
          ...opts,
        });
      case "ContentPolicyModelNotAllowed":
        return new PolicyChangeRejectedError(`Model ${String(a[0])} is not allowed, so it cannot be disallowed.`, {
          hint: "`rendermesh policy show` lists the allowed models.",
          ...opts,
        });
      case "ContentPolicyInvalidFees":
        return new PolicyChangeRejectedError(`Fees of ${a[0]} + ${a[1]} basis points add up to more than 100 %.`, {
          hint: "Keep coordinator + treasury ≤ 10000 bps.",
          ...opts,
        });
      case "ContentPolicyZeroLimit":
        return new PolicyChangeRejectedError("A policy limit cannot be zero.", { hint: "Give every limit a positive value.", ...opts });
      case "ContentPolicyZeroValue":
        return new PolicyChangeRejectedError("That policy value cannot be zero.", { hint: "Give a positive value.", ...opts });
      case "ContentPolicyZeroAddress":
        return new PolicyChangeRejectedError("The arbiter or treasury cannot be the zero address.", {
          hint: "Give a real address.",
          ...opts,
        });
      case "ContentPolicyEmptyList":
        return new PolicyChangeRejectedError("The list of terms is empty.", { hint: "Name at least one term.", ...opts });
      default:
        return new GovernanceError(`Cannot ${ctx.doing}: the chain refused it with ${decoded.name}(${a.map(String).join(", ")}).`, opts);
    }
  }
  const nodeMessage = rpcMessage(err);
  if (isError(err, "INSUFFICIENT_FUNDS") || /insufficient funds|enough funds/i.test(nodeMessage ?? "")) {
    return new InsufficientFundsError(`${ctx.account ?? "The account"} has too little ETH to pay the gas to ${ctx.doing}.`, {
      hint: "Fund the account with ETH for gas.",
      ...opts,
    });
  }
  if (isError(err, "CALL_EXCEPTION")) {
    const reason = (err as { reason?: string | null }).reason;
    return new GovernanceError(`Cannot ${ctx.doing}: the transaction reverted${reason ? ` (${reason})` : ""}.`, opts);
  }
  if (
    isError(err, "NETWORK_ERROR") ||
    isError(err, "TIMEOUT") ||
    /ECONNREFUSED|fetch failed|socket hang up/i.test(String((err as Error)?.message ?? err))
  ) {
    return new ChainError(`Cannot reach the chain to ${ctx.doing}.`, {
      hint: "Check --rpc-url (or start the local network with `pnpm dev`).",
      ...opts,
    });
  }
  const message =
    nodeMessage ?? (err as { shortMessage?: string }).shortMessage ?? (err instanceof Error ? err.message.split("\n")[0] : String(err));
  return new ChainError(`Cannot ${ctx.doing}: ${String(message).replace(/\.$/, "")}.`, opts);
}

/** The JSON-RPC node's own error message inside an ethers error, if any. */
function rpcMessage(err: unknown): string | undefined {
  const e = err as { error?: { message?: unknown }; info?: { error?: { message?: unknown } } } | null;
  const m = e?.error?.message ?? e?.info?.error?.message;
  return typeof m === "string" ? m : undefined;
}
