/**
 * A gas limit for an escrow transaction with room to spare: 1.5 × the estimate plus 50,000. The estimate is made
 * against the chain as it is before the transaction lands; another party's transaction ordered first in the same
 * block (a client's settle before a provider's redeem, a provider's redeem before the client's settle, a claim before
 * an attribution) can move the job into a state where the same call costs more (records to read, the challenge
 * window's bookkeeping), and a limit cut to the estimate would then run out of gas. Unused gas is not paid for.
 */
export function withHeadroom(estimate: bigint): bigint {
  return (estimate * 3n) / 2n + 50_000n;
}
