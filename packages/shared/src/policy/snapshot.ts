/**
 * The content policy as one value, read from `ContentPolicy` at one block.
 * Hashes and addresses are lower-case 0x strings.
 */
export interface PolicySnapshot {
  version: bigint;
  blockedTerms: ReadonlySet<string>;
  allowedModels: ReadonlySet<string>;
  maxSeconds: number;
  maxWidth: number;
  maxHeight: number;
  maxFps: number;
  minProviderStake: bigint;
  coordinatorFeeBps: number;
  treasuryFeeBps: number;
  disputeWindow: bigint;
  claimWindow: bigint;
  arbiter: string;
  treasury: string;
}
