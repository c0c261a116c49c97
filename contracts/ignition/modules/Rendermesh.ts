import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

// Deploys and wires every Rendermesh contract:
//
//   MeshToken ── votes ──> MeshGovernor ── proposes/cancels ──> MeshTimelock
//                                                                 │ owns, is the treasury
//   JobEscrow (deploys ProviderRegistry) ── reads ──> ContentPolicy
//
// The timelock starts with the deployer as admin only to grant the governor
// its roles; the deployer then renounces the admin role, so afterwards only a
// passed proposal changes the policy or moves the treasury.
//
// Parameters (all optional; `scripts/deploy.ts` sets them from its flags), under "Rendermesh":
//   tokenHolder, tokenSupply, timelockDelay (s), votingDelay (blocks), votingPeriod (blocks),
//   proposalThreshold, quorumPercent, allowedModels (bytes32[]), blockedTerms (bytes32[]),
//   maxSeconds, maxWidth, maxHeight, maxFps, minProviderStake, coordinatorFeeBps, treasuryFeeBps,
//   disputeWindow (s), claimWindow (s), arbiter, unstakeCooldown (s)

const DAY = 24n * 60n * 60n;
const MESH = 10n ** 18n;

// keccak256 of the role names, as TimelockController defines them.
const TIMELOCK_ADMIN_ROLE = "0x0000000000000000000000000000000000000000000000000000000000000000";
const PROPOSER_ROLE = "0xb09aa5aeb3702cfd50b6b62bc4532604938f21248a27a1d5ca736082b6819cc1";
const CANCELLER_ROLE = "0xfd643c72710c63c0180259aba6b2d05451e3591a24e58b62239378085726f783";
const ANYONE = "0x0000000000000000000000000000000000000000";

/** Production defaults; the dev network overrides the windows and governance periods. */
export const DEFAULTS = {
  tokenSupply: 1_000_000_000n * MESH,
  timelockDelay: 2n * DAY,
  votingDelay: 7200n, // ~1 day of 12 s blocks
  votingPeriod: 50400n, // ~1 week
  proposalThreshold: 0n,
  quorumPercent: 4n,
  maxSeconds: 600n,
  maxWidth: 1920n,
  maxHeight: 1080n,
  maxFps: 60n,
  minProviderStake: 1000n * MESH,
  coordinatorFeeBps: 500n,
  treasuryFeeBps: 100n,
  disputeWindow: 1n * DAY,
  claimWindow: 3n * DAY,
  unstakeCooldown: 7n * DAY,
} as const;

export default buildModule("Rendermesh", (m) => {
  const deployer = m.getAccount(0);
  const p = (name: keyof typeof DEFAULTS) => m.getParameter<bigint>(name, DEFAULTS[name]);

  const token = m.contract("MeshToken", [m.getParameter("tokenHolder", deployer), p("tokenSupply")]);
  const timelock = m.contract("MeshTimelock", [p("timelockDelay"), [], [ANYONE], deployer]);
  const governor = m.contract("MeshGovernor", [
    token,
    timelock,
    p("votingDelay"),
    p("votingPeriod"),
    p("proposalThreshold"),
    p("quorumPercent"),
  ]);
  const policy = m.contract("ContentPolicy", [
    timelock,
    {
      allowedModels: m.getParameter<string[]>("allowedModels", []),
      blockedTerms: m.getParameter<string[]>("blockedTerms", []),
      maxSeconds: p("maxSeconds"),
      maxWidth: p("maxWidth"),
      maxHeight: p("maxHeight"),
      maxFps: p("maxFps"),
      minProviderStake: p("minProviderStake"),
      coordinatorFeeBps: p("coordinatorFeeBps"),
      treasuryFeeBps: p("treasuryFeeBps"),
      disputeWindow: p("disputeWindow"),
      claimWindow: p("claimWindow"),
      arbiter: m.getParameter("arbiter", deployer),
      treasury: timelock,
    },
  ]);
  const escrow = m.contract("JobEscrow", [token, policy, p("unstakeCooldown")]);
  const registry = m.contractAt("ProviderRegistry", m.staticCall(escrow, "registry"));

  const grantProposer = m.call(timelock, "grantRole", [PROPOSER_ROLE, governor], { id: "GrantProposer" });
  const grantCanceller = m.call(timelock, "grantRole", [CANCELLER_ROLE, governor], { id: "GrantCanceller" });
  m.call(timelock, "renounceRole", [TIMELOCK_ADMIN_ROLE, deployer], {
    id: "RenounceAdmin",
    after: [grantProposer, grantCanceller, policy],
  });

  return { token, timelock, governor, policy, escrow, registry };
});
