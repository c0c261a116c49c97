import { Transaction, type Interface, type Provider, type TransactionReceipt, type TransactionRequest, type Wallet } from "ethers";
import { ChainError, InsufficientFundsError } from "../errors.js";
import type { Journal, JournalTx, TxKind } from "../journal/journal.js";

/**
 * Journalled transactions: a transaction is signed, written to the journal
 * with its raw bytes and hash, and only then broadcast. A client killed at
 * any point finds it again by hash on resume and re-broadcasts the very same
 * bytes (same nonce) if the node dropped it, so it can never send a second,
 * different transaction for the same step.
 */

export interface SendJournalledOptions {
  journal: Journal;
  /** The job the transaction belongs to; a function when the job's key is the transaction's own hash. */
  ref: string | ((hash: `0x${string}`) => string);
  kind: TxKind;
  wallet: Wallet;
  /** Interface used to decode a revert into its custom error name. */
  iface?: Interface | undefined;
  /**
   * Runs inside the same journal transaction that records the signed
   * transaction, before it is broadcast (e.g. to create the job row the
   * transaction belongs to).
   */
  record?: ((hash: `0x${string}`) => void) | undefined;
  /** Called with the hash once it is journalled, before it is broadcast. */
  onSigned?: ((hash: string) => void) | undefined;
  /** How long to wait for the receipt (default 120 s). */
  timeoutMs?: number;
}

/** A revert reason as "ErrorName(arg, …)" when the interface knows it. */
function decodeRevert(err: unknown, iface: Interface | undefined): string | undefined {
  const data = findRevertData(err);
  if (!data || !iface) return undefined;
  try {
    const parsed = iface.parseError(data);
    if (!parsed) return undefined;
    return `${parsed.name}(${parsed.args.map((a: unknown) => String(a)).join(", ")})`;
  } catch {
    return undefined;
  }
}

/** The revert data inside an ethers error, if any. */
export function findRevertData(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    const o = e as { data?: unknown; info?: { error?: { data?: unknown } }; error?: { data?: unknown } };
    for (const d of [o.data, o.info?.error?.data, o.error?.data]) {
      if (typeof d === "string" && d.startsWith("0x") && d.length >= 10) return d;
      if (d && typeof d === "object" && typeof (d as { data?: unknown }).data === "string") return (d as { data: string }).data;
    }
  }
  return undefined;
}

/** Wraps an ethers failure into a ChainError with the decoded revert reason. */
export function chainError(what: string, err: unknown, iface?: Interface, hint?: string): ChainError {
  if (err instanceof ChainError || err instanceof InsufficientFundsError) return err;
  const reason = decodeRevert(err, iface);
  const code = (err as { code?: string }).code;
  if (code === "INSUFFICIENT_FUNDS") {
    return new InsufficientFundsError(`${what} failed: the wallet has too little ETH to pay for gas.`, {
      cause: err,
      hint: "Fund the wallet with ETH for gas.",
    });
  }
  const short = (err as { shortMessage?: string }).shortMessage ?? (err instanceof Error ? err.message.split("\n")[0] : String(err));
  return new ChainError(`${what} failed: ${reason ?? short}.`, { cause: err, hint, details: reason ? [`revert: ${reason}`] : [] });
}

/** Signs, journals, broadcasts and waits for one transaction. */
export async function sendJournalled(
  request: TransactionRequest,
  options: SendJournalledOptions,
): Promise<{ tx: JournalTx; receipt: TransactionReceipt }> {
  const { journal, kind, wallet } = options;
  const provider = wallet.provider;
  if (!provider) throw new ChainError("The wallet is not connected to a chain.");
  let raw: string;
  let nonce: number;
  try {
    const populated = await wallet.populateTransaction({ ...request, nonce: await freshNonce(wallet, "pending") });
    nonce = Number(populated.nonce);
    raw = await wallet.signTransaction(populated);
  } catch (err) {
    throw chainError(`The ${kind} transaction`, err, options.iface);
  }
  const hash = Transaction.from(raw).hash as `0x${string}`;
  const tx = journal.transaction(() => {
    options.record?.(hash);
    return journal.addTx(typeof options.ref === "function" ? options.ref(hash) : options.ref, {
      kind,
      hash,
      raw: raw as `0x${string}`,
      nonce,
    });
  });
  options.onSigned?.(hash);
  const receipt = await broadcastAndWait(tx, wallet, journal, options);
  return {
    tx: { ...tx, state: receipt.status === 1 ? "mined" : "reverted", blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed },
    receipt,
  };
}

/**
 * Brings a journalled transaction to a receipt: already mined → its receipt;
 * unknown to the node and its nonce unused → re-broadcast the same bytes.
 * Returns undefined when its nonce was consumed by another transaction (it
 * can never be mined): the caller decides from chain state what to do.
 */
export async function resumeJournalled(
  tx: JournalTx,
  wallet: Wallet,
  journal: Journal,
  options: Pick<SendJournalledOptions, "iface" | "timeoutMs"> = {},
): Promise<TransactionReceipt | undefined> {
  const provider = wallet.provider!;
  const existing = await provider.getTransactionReceipt(tx.hash);
  if (existing) {
    record(journal, tx, existing);
    return existing;
  }
  const used = await freshNonce(wallet, "latest");
  if (used > tx.nonce) {
    // Mined after all? (a receipt can lag on some nodes)
    const again = await provider.getTransactionReceipt(tx.hash);
    if (again) {
      record(journal, tx, again);
      return again;
    }
    return undefined;
  }
  return broadcastAndWait(tx, wallet, journal, options);
}

async function broadcastAndWait(
  tx: JournalTx,
  wallet: Wallet,
  journal: Journal,
  options: Pick<SendJournalledOptions, "iface" | "timeoutMs">,
): Promise<TransactionReceipt> {
  const provider = wallet.provider!;
  try {
    await provider.broadcastTransaction(tx.raw);
  } catch (err) {
    const code = (err as { code?: string }).code;
    const text = String((err as { message?: string }).message ?? "");
    // Known already (a re-broadcast) is fine; anything else is a failure to report.
    if (
      !(code === "NONCE_EXPIRED" || /already known|known transaction|nonce too low/i.test(text)) ||
      !((await provider.getTransaction(tx.hash).catch(() => null)) ?? (await provider.getTransactionReceipt(tx.hash)))
    ) {
      throw chainError(`Broadcasting the ${tx.kind} transaction`, err, options.iface);
    }
  }
  if (tx.state === "signed") journal.updateTx(tx.hash, { state: "sent" });
  let receipt: TransactionReceipt | null;
  try {
    receipt = await waitForReceipt(provider, tx.hash, options.timeoutMs ?? 120_000);
  } catch (err) {
    throw chainError(
      `Waiting for the ${tx.kind} transaction ${tx.hash}`,
      err,
      options.iface,
      "Run the command again to resume; the journal keeps the transaction.",
    );
  }
  if (!receipt)
    throw new ChainError(`The ${tx.kind} transaction ${tx.hash} was not mined in time.`, {
      hint: "Run the command again to resume; the journal keeps the transaction.",
    });
  record(journal, tx, receipt);
  if (receipt.status !== 1) {
    // Replay the call at that block to learn the revert reason.
    let reason: string | undefined;
    try {
      const parsed = Transaction.from(tx.raw);
      await provider.call({ to: parsed.to, data: parsed.data, from: wallet.address, blockTag: receipt.blockNumber });
    } catch (err) {
      reason = decodeRevert(err, options.iface);
    }
    throw new ChainError(`The ${tx.kind} transaction ${tx.hash} reverted${reason ? `: ${reason}` : ""}.`);
  }
  return receipt;
}

function record(journal: Journal, tx: JournalTx, receipt: TransactionReceipt): void {
  journal.updateTx(tx.hash, {
    state: receipt.status === 1 ? "mined" : "reverted",
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed,
    minedAt: Date.now(),
  });
}

/**
 * Polls for a receipt. (ethers' `waitForTransaction` listens for new blocks,
 * and on an automining dev chain the block with the transaction can be mined
 * before the listener starts, after which no block may ever come.)
 */
export async function waitForReceipt(
  provider: Pick<Provider, "getTransactionReceipt">,
  hash: string,
  timeoutMs: number,
  intervalMs = 200,
): Promise<TransactionReceipt | null> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const receipt = await provider.getTransactionReceipt(hash);
    if (receipt) return receipt;
    if (Date.now() >= until) return null;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * The account's transaction count straight from the node. ethers caches
 * identical provider calls for 250 ms, so a nonce read right after the
 * previous transaction was mined can be stale; a JSON-RPC provider's `send`
 * bypasses that cache.
 */
async function freshNonce(wallet: Wallet, blockTag: "pending" | "latest"): Promise<number> {
  const provider = wallet.provider as (Provider & { send?: (method: string, params: unknown[]) => Promise<unknown> }) | null;
  if (provider && typeof provider.send === "function") {
    return Number(await provider.send("eth_getTransactionCount", [wallet.address, blockTag]));
  }
  return wallet.getNonce(blockTag);
}
