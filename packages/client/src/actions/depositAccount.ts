import { formatUnits, type Wallet } from "ethers";
import { connectContracts } from "@rendermesh/shared/chain";
import type { Deployment } from "../chain/deployment.js";
import { chainError, waitForReceipt } from "../chain/tx.js";
import { ChainError, InsufficientFundsError } from "../errors.js";

/** A wallet connected to a chain, and the deployment it uses (no libp2p, no journal). */
export interface DepositAccountClient {
  wallet: Wallet;
  deployment: Pick<Deployment, "token" | "policy" | "registry" | "escrow" | "governor" | "timelock">;
}

export interface DepositFundsReturnType {
  /** The approve transaction, when the escrow's allowance was too low. */
  approveTxHash: `0x${string}` | undefined;
  txHash: `0x${string}`;
  amount: bigint;
  /** The escrow account's balance after the deposit. */
  balance: bigint;
}

export interface WithdrawFundsReturnType {
  /** Undefined when there was nothing to withdraw (no transaction sent). */
  txHash: `0x${string}` | undefined;
  amount: bigint;
}

const TIMEOUT_MS = 120_000;

async function mined(client: DepositAccountClient, what: string, send: () => Promise<{ hash: string }>): Promise<`0x${string}`> {
  const provider = client.wallet.provider;
  if (!provider) throw new ChainError("The wallet is not connected to a chain.");
  const iface = connectContracts(null, client.deployment).escrow.interface;
  let hash: string;
  try {
    hash = (await send()).hash;
  } catch (err) {
    throw chainError(what, err, iface);
  }
  const receipt = await waitForReceipt(provider, hash, TIMEOUT_MS).catch((err: unknown) => {
    throw chainError(`Waiting for ${what} (${hash})`, err, iface);
  });
  if (!receipt) throw new ChainError(`${what} (${hash}) was not mined in time.`, { hint: "Check the node, then look the hash up." });
  if (receipt.status !== 1) throw new ChainError(`${what} (${hash}) reverted.`);
  return hash as `0x${string}`;
}

/**
 * Moves MESH from the wallet into its escrow deposit account (`JobEscrow.deposit`), approving the escrow first when
 * its allowance is short. Jobs the account covers are then opened from it (`openJob`), which is cheaper than a
 * transfer per job; what they leave unspent goes back into the account; `withdrawFunds` takes it out.
 *
 * @example
 * await depositFunds({ wallet, deployment }, { amount: parseUnits("100", 18) });
 */
export async function depositFunds(client: DepositAccountClient, params: { amount: bigint }): Promise<DepositFundsReturnType> {
  const { token, escrow } = connectContracts(client.wallet, client.deployment);
  const owner = client.wallet.address;
  const { amount } = params;
  const [held, allowance] = await Promise.all([
    token.balanceOf(owner) as Promise<bigint>,
    token.allowance(owner, client.deployment.escrow) as Promise<bigint>,
  ]).catch((cause: unknown) => {
    throw new ChainError("Cannot read the wallet's MESH balance and allowance.", { cause, hint: "Check --rpc-url and --deployment." });
  });
  if (held < amount)
    throw new InsufficientFundsError(
      `The deposit is ${formatUnits(amount, 18)} MESH but the wallet ${owner} holds ${formatUnits(held, 18)} MESH.`,
      { hint: "Deposit less, or get MESH first (on the dev network: `rendermesh token faucet`)." },
    );
  const approveTxHash =
    allowance < amount
      ? await mined(client, "Approving the escrow", () => token.approve(client.deployment.escrow, amount) as Promise<{ hash: string }>)
      : undefined;
  const txHash = await mined(client, "The deposit", () => escrow.deposit(amount) as Promise<{ hash: string }>);
  const balance = (await escrow.balanceOf(owner)) as bigint;
  return { approveTxHash, txHash, amount, balance };
}

/** The escrow account's balance: the deposit not yet spent, unspent deposits returned, and any earnings credited. */
export async function depositBalance(client: DepositAccountClient): Promise<bigint> {
  return (await connectContracts(client.wallet, client.deployment).escrow.balanceOf(client.wallet.address)) as bigint;
}

/**
 * Sends the wallet its whole escrow balance (`JobEscrow.withdraw`). Nothing to withdraw sends no transaction.
 *
 * @example
 * const { amount } = await withdrawFunds({ wallet, deployment });
 */
export async function withdrawFunds(client: DepositAccountClient): Promise<WithdrawFundsReturnType> {
  const { escrow } = connectContracts(client.wallet, client.deployment);
  const amount = await depositBalance(client).catch((cause: unknown) => {
    throw new ChainError("Cannot read the escrow balance.", { cause, hint: "Check --rpc-url and --deployment." });
  });
  if (amount === 0n) return { txHash: undefined, amount };
  const txHash = await mined(client, "The withdrawal", () => escrow.withdraw() as Promise<{ hash: string }>);
  return { txHash, amount };
}
