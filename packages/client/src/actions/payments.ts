import type { Log, TransactionReceipt } from "ethers";
import type { RendermeshClient } from "../client.js";

/** Who got what from a job's deposit, read from the chain's events so it matches the chain exactly. */
export interface Payments {
  deposit: bigint;
  pricePerSecond: bigint;
  /** Each provider's paid seconds and the tokens credited to it (after fees), over the job's life. */
  providers: Array<{ provider: string; seconds: number; amount: bigint }>;
  coordinator: { address: string; amount: bigint };
  treasury: { amount: bigint };
  /** Returned to the client. */
  refund: bigint;
  /** Everything that left the deposit towards providers and fees (`JobSettled.paid`). */
  paid: bigint;
  /** Seconds paid in total. */
  paidSeconds: number;
  /** True when the closing transaction only started the challenge window: the refund comes later (`refundJob`). */
  closing?: boolean;
}

/** The escrow's fee on one paid second: `pricePerSecond × bps / 10 000`, rounded down (as JobEscrow does). */
export function feePerSecond(pricePerSecond: bigint, bps: number): bigint {
  return (pricePerSecond * BigInt(bps)) / 10_000n;
}

interface JobTerms {
  jobId: `0x${string}`;
  deposit: bigint;
  pricePerSecond: bigint;
  coordinator: string;
  coordinatorFeeBps: number;
  treasuryFeeBps: number;
}

/**
 * Reads a closed job's payments: every `VoucherRedeemed` for the job (by
 * providers' own redemptions and by the closing transaction), and the
 * closing `JobSettled`/`JobRefunded`. Fees are the escrow's per-second rule
 * applied to the paid seconds; `providers + fees + refund = deposit`.
 */
export async function readPayments(
  client: Pick<RendermeshClient, "provider" | "contracts" | "deployment">,
  job: JobTerms,
  close: TransactionReceipt,
  fromBlock?: number,
): Promise<Payments> {
  const iface = client.contracts.escrow.interface;
  const escrow = client.deployment.escrow.toLowerCase();
  const redeemed = iface.getEvent("VoucherRedeemed")!.topicHash;
  const logs: Log[] = await client.provider.getLogs({
    address: client.deployment.escrow,
    topics: [redeemed, job.jobId],
    fromBlock: fromBlock ?? client.deployment.startBlock,
    toBlock: close.blockNumber,
  });
  const seconds = new Map<string, number>();
  const amounts = new Map<string, bigint>();
  for (const log of logs) {
    const parsed = iface.parseLog(log);
    if (!parsed) continue;
    const provider = String(parsed.args[1]);
    seconds.set(provider, Math.max(seconds.get(provider) ?? 0, Number(parsed.args[2])));
    amounts.set(provider, (amounts.get(provider) ?? 0n) + (parsed.args[3] as bigint));
  }
  let paid = 0n;
  let refund = 0n;
  let closing = false;
  for (const log of close.logs) {
    if (log.address.toLowerCase() !== escrow) continue;
    const parsed = iface.parseLog(log);
    if (!parsed || (parsed.args[0] as string).toLowerCase() !== job.jobId.toLowerCase()) continue;
    if (parsed.name === "JobSettled") [paid, refund] = [parsed.args[1] as bigint, parsed.args[2] as bigint];
    if (parsed.name === "JobRefunded") refund = parsed.args[1] as bigint;
    if (parsed.name === "JobClosing") closing = true;
  }
  const providers = [...amounts.keys()]
    .sort()
    .map((provider) => ({ provider, seconds: seconds.get(provider) ?? 0, amount: amounts.get(provider) ?? 0n }));
  const paidSeconds = providers.reduce((n, p) => n + p.seconds, 0);
  const coordinatorFee = BigInt(paidSeconds) * feePerSecond(job.pricePerSecond, job.coordinatorFeeBps);
  const treasuryFee = BigInt(paidSeconds) * feePerSecond(job.pricePerSecond, job.treasuryFeeBps);
  if (closing) {
    // Paid so far; the unspent rest stays in the escrow until the challenge window ends.
    paid = BigInt(paidSeconds) * job.pricePerSecond;
    // A refund after the claim window reports only the refund: the paid part is the rest of the deposit.
  } else if (paid === 0n && refund !== job.deposit) paid = job.deposit - refund;
  return {
    deposit: job.deposit,
    pricePerSecond: job.pricePerSecond,
    providers,
    coordinator: { address: job.coordinator, amount: coordinatorFee },
    treasury: { amount: treasuryFee },
    refund,
    paid,
    paidSeconds,
    ...(closing ? { closing } : {}),
  };
}
