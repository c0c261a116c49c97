/** The local node's API (packages/web/server): thin JSON calls, errors carried as the CLI's code, sentence and fix. */
export interface ApiErrorBody {
  code: string;
  name?: string;
  message: string;
  hint?: string | undefined;
  details?: string[];
  exitCode?: number;
}

export class ApiError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly details: string[];
  constructor(body: ApiErrorBody) {
    super(body.message);
    this.name = "ApiError";
    this.code = body.code;
    this.hint = body.hint;
    this.details = body.details ?? [];
  }
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError({
      code: "NODE_UNREACHABLE",
      message: "The local Rendermesh node does not answer.",
      hint: "Start it with `pnpm dev` (or `rendermesh web`) and reload this page.",
    });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError({ code: "BAD_RESPONSE", message: `The local node answered ${res.status} with something that is not JSON.` });
  }
  if (!res.ok) throw new ApiError((body as { error?: ApiErrorBody }).error ?? { code: "HTTP", message: `HTTP ${res.status}` });
  return body as T;
}

export const get = <T>(path: string) => call<T>(path);
export const post = <T>(path: string, body: unknown) =>
  call<T>(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

export interface Config {
  chainId: number;
  dev: boolean;
  deployment: { token: string; policy: string; registry: string; escrow: string; governor: string; timelock: string };
  accounts: Array<{ address: string; label: string; role: string; nodeSigns: boolean }>;
  models: Array<{ id: string; name: string; version: string; reference: { width: number; height: number; fps: number } }>;
  specDefaults: { fps: number; width: number; height: number; seed: number };
  coordinator: { multiaddrs: string[]; httpUrl?: string };
}

/** An error of any kind as one sentence and an optional fix. */
export function explain(err: unknown): { code: string; message: string; hint: string | undefined } {
  if (err instanceof ApiError) return { code: err.code, message: err.message, hint: err.hint };
  const e = err as {
    code?: string;
    shortMessage?: string;
    revert?: { name: string; args: unknown[] };
    message?: string;
    info?: { error?: { message?: string } };
  };
  if (e?.code === "ACTION_REJECTED")
    return { code: "REJECTED", message: "You declined the request in your wallet; nothing was sent.", hint: undefined };
  if (e?.revert)
    return {
      code: e.revert.name,
      message: `The contract refused: ${e.revert.name}(${e.revert.args.map(String).join(", ")}).`,
      hint: REVERT_HINTS[e.revert.name],
    };
  if (e?.code === "INSUFFICIENT_FUNDS")
    return {
      code: "INSUFFICIENT_FUNDS",
      message: "The wallet has too little ETH to pay for gas.",
      hint: "Fund the wallet with ETH for gas.",
    };
  const message = e?.info?.error?.message ?? e?.shortMessage ?? e?.message ?? String(err);
  return { code: e?.code ?? "ERROR", message: message.split("\n")[0] ?? message, hint: undefined };
}

const REVERT_HINTS: Record<string, string> = {
  GovernorUnexpectedProposalState: "The proposal is not in the state this step needs; the table says what can happen next.",
  GovernorAlreadyCastVote: "This account has voted on this proposal already.",
  GovernorInsufficientProposerVotes: "Delegate your votes to yourself first (the Delegate button), then propose.",
  TimelockUnexpectedOperationState: "The timelock delay has not passed yet; execute after the time shown.",
  JobEscrowNothingToWithdraw: "Nothing is credited to this account in the escrow yet.",
  ProviderRegistryNotRegistered: "This account is not a registered provider.",
};
