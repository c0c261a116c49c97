import { formatUnits, hexlify } from "ethers";
import type { RegistryEntry } from "@rendermesh/shared/chain";

/** Formats base units of the 18-decimal token as `1.5 MESH`. */
export function formatMesh(amount: bigint): string {
  const text = formatUnits(amount, 18);
  return `${text.endsWith(".0") ? text.slice(0, -2) : text} MESH`;
}

/** What the registry says about this provider, and what is missing to serve. */
export interface Standing {
  address: string;
  registered: boolean;
  stake: bigint;
  minStake: bigint;
  /** Peer id bytes (0x hex) bound on-chain, or "0x" when none. */
  boundPeerId: string;
  peerIdBound: boolean;
  /** Another address that holds this node's peer id, if any. */
  peerIdOwner: string | undefined;
  askPerSecond: bigint;
  models: string[];
  unstakeAmount: bigint;
  unstakeAvailableAt: number;
  /** Each thing that keeps the node from serving, with its fix. Empty when in good standing. */
  problems: Array<{ code: "NOT_REGISTERED" | "STAKE_TOO_LOW" | "PEER_ID_NOT_BOUND" | "PEER_ID_TAKEN"; message: string; fix: string }>;
  /** Differences that do not stop the node (ask or models differ from the config). */
  notes: string[];
}

export interface StandingInput {
  address: string;
  peerId: Uint8Array;
  entry: RegistryEntry;
  minStake: bigint;
  /** Owner of our peer id on-chain (zero address when none). */
  peerOwner: string;
  ask: bigint;
  models: string[];
  /** Stake the user offered with `--stake`, if any. */
  offeredStake?: bigint | undefined;
}

const ZERO = "0x0000000000000000000000000000000000000000";

/** Pure: turns registry reads into a standing with one-sentence problems and fixes. */
export function assessStanding(input: StandingInput): Standing {
  const { entry } = input;
  const ours = hexlify(input.peerId).toLowerCase();
  const bound = entry.peerId.toLowerCase();
  const owner = input.peerOwner.toLowerCase();
  const peerIdOwner = owner !== ZERO && owner !== input.address.toLowerCase() ? input.peerOwner : undefined;
  const problems: Standing["problems"] = [];
  const stakeHint = input.offeredStake ?? input.minStake;
  if (!entry.registered) {
    problems.push({
      code: "NOT_REGISTERED",
      message: `Provider ${input.address} is not registered.`,
      fix: `Run \`rendermesh-provider start --register --stake ${formatMesh(stakeHint > 0n ? stakeHint : 1n).replace(" MESH", "")}\` (the policy's minimum stake is ${formatMesh(input.minStake)}).`,
    });
  } else {
    if (entry.stake < input.minStake) {
      problems.push({
        code: "STAKE_TOO_LOW",
        message: `The stake is ${formatMesh(entry.stake)}; the policy requires at least ${formatMesh(input.minStake)}.`,
        fix: `Run \`rendermesh-provider start --register --stake ${formatUnits(input.minStake - entry.stake, 18)}\` to add the difference.`,
      });
    }
    if (bound !== ours) {
      problems.push({
        code: "PEER_ID_NOT_BOUND",
        message:
          bound === "0x"
            ? "No libp2p peer id is bound to this address on-chain."
            : "Another libp2p peer id is bound to this address on-chain.",
        fix: "Run `rendermesh-provider start --register` to bind this node's peer id, or start with the data dir that holds the registered peer key.",
      });
    }
  }
  if (peerIdOwner !== undefined) {
    problems.push({
      code: "PEER_ID_TAKEN",
      message: `This node's peer id is registered to another provider, ${peerIdOwner}.`,
      fix: "Use a fresh --data-dir (a new peer key) for this provider.",
    });
  }
  const notes: string[] = [];
  if (entry.registered) {
    if (entry.askPerSecond !== input.ask)
      notes.push(`The on-chain ask is ${formatMesh(entry.askPerSecond)}/s; the config asks ${formatMesh(input.ask)}/s.`);
    const onChain = new Set(entry.models.map((m) => m.toLowerCase()));
    const mine = new Set(input.models.map((m) => m.toLowerCase()));
    if (onChain.size !== mine.size || [...mine].some((m) => !onChain.has(m)))
      notes.push("The models listed on-chain differ from the models this node serves.");
  }
  return {
    address: input.address,
    registered: entry.registered,
    stake: entry.stake,
    minStake: input.minStake,
    boundPeerId: bound,
    peerIdBound: entry.registered && bound === ours,
    peerIdOwner,
    askPerSecond: entry.askPerSecond,
    models: entry.models,
    unstakeAmount: entry.unstakeAmount,
    unstakeAvailableAt: entry.unstakeAvailableAt,
    problems,
    notes,
  };
}

/** One step of bringing a provider into good standing. */
export type RegistrationStep =
  | { kind: "register"; stake: bigint; ask: bigint; models: string[] }
  | { kind: "addStake"; amount: bigint }
  | { kind: "setPeerId" }
  | { kind: "update"; ask: bigint; models: string[] };

export interface RegistrationPlan {
  steps: RegistrationStep[];
  /** Tokens that leave the wallet (stake), not counting gas. */
  spend: bigint;
  /** Lines that say what will happen, for the confirmation prompt. */
  lines: string[];
  /** Why the plan cannot run, if it cannot (e.g. no stake given for a new registration). */
  blocked: string | undefined;
}

/** What `--register [--stake N]` will do from the current standing. */
export function planRegistration(
  standing: Standing,
  want: { ask: bigint; models: string[]; stake: bigint | undefined; walletBalance: bigint },
): RegistrationPlan {
  const steps: RegistrationStep[] = [];
  const lines: string[] = [];
  let spend = 0n;
  let blocked: string | undefined;
  if (standing.peerIdOwner !== undefined) blocked = `This node's peer id is registered to ${standing.peerIdOwner}; use a fresh --data-dir.`;
  if (!standing.registered) {
    const stake = want.stake ?? 0n;
    if (want.stake === undefined)
      blocked ??= `Registering needs a stake: add --stake N (the policy's minimum is ${formatMesh(standing.minStake)}).`;
    else if (stake < standing.minStake)
      blocked ??= `A stake of ${formatMesh(stake)} is below the policy's minimum of ${formatMesh(standing.minStake)}.`;
    steps.push({ kind: "register", stake, ask: want.ask, models: want.models });
    spend += stake;
    lines.push(
      `register ${standing.address} with ask ${formatMesh(want.ask)}/s, ${want.models.length} model(s), and stake ${formatMesh(stake)}`,
    );
  } else {
    const top = want.stake ?? (standing.stake < standing.minStake ? standing.minStake - standing.stake : 0n);
    if (top > 0n) {
      steps.push({ kind: "addStake", amount: top });
      spend += top;
      lines.push(`add ${formatMesh(top)} to the stake (now ${formatMesh(standing.stake)}, minimum ${formatMesh(standing.minStake)})`);
    }
    if (!standing.peerIdBound) {
      steps.push({ kind: "setPeerId" });
      lines.push("bind this node's libp2p peer id to the provider address");
    }
    if (standing.notes.length > 0) {
      steps.push({ kind: "update", ask: want.ask, models: want.models });
      lines.push(`update the on-chain ask to ${formatMesh(want.ask)}/s and the model list`);
    }
  }
  if (spend > want.walletBalance)
    blocked ??= `The wallet holds ${formatMesh(want.walletBalance)}, less than the ${formatMesh(spend)} to stake.`;
  return { steps, spend, lines, blocked };
}
