// An in-memory ChainView for tools that measure or attack a coordinator's own
// work (bench, fuzz): every provider whose peer id is in `providers` is
// registered and staked, one model is allowed, no job exists on-chain.
// Never used by a test of chain behaviour.
import type { PolicySnapshot } from "@rendermesh/shared";
import type { ChainView } from "@rendermesh/coordinator";

export const STUB_MODEL = `0x${"ab".repeat(32)}`;
const MODEL = STUB_MODEL;

/** `providers`: hex of a peer id's multihash bytes → the provider's address (lower-case). */
export function stubChain(providers: Map<string, string>): ChainView {
  const policy: PolicySnapshot = {
    version: 1n,
    blockedTerms: new Set(),
    allowedModels: new Set([MODEL]),
    maxSeconds: 600,
    maxWidth: 1024,
    maxHeight: 1024,
    maxFps: 60,
    minProviderStake: 1n,
    coordinatorFeeBps: 100,
    treasuryFeeBps: 100,
    disputeWindow: 3600n,
    claimWindow: 3600n,
    arbiter: `0x${"00".repeat(20)}`,
    treasury: `0x${"00".repeat(20)}`,
  };
  return {
    chainId: 31337,
    escrow: `0x${"ee".repeat(20)}`,
    coordinator: `0x${"c0".repeat(20)}`,
    getJob: async () => ({
      client: "0x",
      seconds: 0,
      paidSeconds: 0,
      reservedSeconds: 0,
      coordinator: "0x",
      deadline: 0,
      coordinatorFeeBps: 0,
      treasuryFeeBps: 0,
      pricePerSecond: 0n,
      policyVersion: 0n,
      status: 0,
      specHash: "0x",
      closesAt: 0,
      disputeWindow: 0,
      claimWindow: 0,
      arbiterWindow: 0,
      disputeBond: 0n,
    }),
    jobOpenedBlock: async () => undefined,
    readPolicy: async () => policy,
    providerOfPeer: async (bytes) => providers.get(Buffer.from(bytes).toString("hex")) ?? `0x${"00".repeat(20)}`,
    isActive: async () => true,
    getProvider: async () => ({
      registered: true,
      peerId: "0x",
      stake: 10n ** 20n,
      askPerSecond: 1n,
      models: [MODEL],
      unstakeAmount: 0n,
      unstakeAvailableAt: 0,
    }),
    registeredProviders: async () => [...providers.values()],
    watchRegistry: () => () => undefined,
    escrowBalance: async () => 0n,
    signAssignment: async () => `0x${"00".repeat(65)}`,
    recoverDelivery: () => `0x${"00".repeat(20)}`,
    close: async () => undefined,
  };
}
