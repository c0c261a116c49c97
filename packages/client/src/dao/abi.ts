import { Interface } from "ethers";

/**
 * The slices of the governance contracts' ABIs the DAO actions call, in
 * ethers' human-readable form. `MeshGovernor`, `TimelockController` and the
 * votes side of `MeshToken` are stock OpenZeppelin 5, so these fragments are
 * the OpenZeppelin interfaces; `ContentPolicy`'s setters follow
 * `contracts/src/interfaces/IContentPolicy.sol`.
 */

const governorErrors = [
  "error GovernorInvalidProposalLength(uint256 targets, uint256 calldatas, uint256 values)",
  "error GovernorAlreadyCastVote(address voter)",
  "error GovernorDisabledDeposit()",
  "error GovernorOnlyExecutor(address account)",
  "error GovernorNonexistentProposal(uint256 proposalId)",
  "error GovernorUnexpectedProposalState(uint256 proposalId, uint8 current, bytes32 expectedStates)",
  "error GovernorInvalidVotingPeriod(uint256 votingPeriod)",
  "error GovernorInsufficientProposerVotes(address proposer, uint256 votes, uint256 threshold)",
  "error GovernorRestrictedProposer(address proposer)",
  "error GovernorInvalidVoteType()",
  "error GovernorInvalidVoteParams()",
  "error GovernorProposalQueueingNotRequired(uint256 proposalId)",
  "error GovernorProposalQueueingFailed(uint256 proposalId)",
  "error GovernorAlreadyQueuedProposal(uint256 proposalId)",
  "error GovernorInvalidSignature(address voter)",
  "error GovernorUnableToCancel(uint256 proposalId, address account)",
  "error GovernorInvalidQuorumFraction(uint256 quorumNumerator, uint256 quorumDenominator)",
] as const;

const timelockErrors = [
  "error TimelockInvalidOperationLength(uint256 targets, uint256 payloads, uint256 values)",
  "error TimelockInsufficientDelay(uint256 delay, uint256 minDelay)",
  "error TimelockUnexpectedOperationState(bytes32 operationId, bytes32 expectedStates)",
  "error TimelockUnexecutedPredecessor(bytes32 predecessorId)",
  "error TimelockUnauthorizedCaller(address caller)",
  "error AccessControlUnauthorizedAccount(address account, bytes32 neededRole)",
] as const;

const votesErrors = [
  "error ERC5805FutureLookup(uint256 timepoint, uint48 clock)",
  "error VotesExpiredSignature(uint256 expiry)",
  "error ERC6372InconsistentClock()",
  "error ERC20ExceededSafeSupply(uint256 increasedSupply, uint256 cap)",
] as const;

const policyErrors = [
  "error OwnableUnauthorizedAccount(address account)",
  "error OwnableInvalidOwner(address owner)",
  "error ContentPolicyInvalidFees(uint16 coordinatorFeeBps, uint16 treasuryFeeBps)",
  "error ContentPolicyZeroLimit()",
  "error ContentPolicyZeroValue()",
  "error ContentPolicyZeroAddress()",
  "error ContentPolicyEmptyList()",
  "error ContentPolicyTermAlreadyBlocked(bytes32 term)",
  "error ContentPolicyTermNotBlocked(bytes32 term)",
  "error ContentPolicyModelAlreadyAllowed(bytes32 model)",
  "error ContentPolicyModelNotAllowed(bytes32 model)",
] as const;

export const governorAbi = [
  "function name() view returns (string)",
  "function clock() view returns (uint48)",
  "function CLOCK_MODE() view returns (string)",
  "function votingDelay() view returns (uint256)",
  "function votingPeriod() view returns (uint256)",
  "function proposalThreshold() view returns (uint256)",
  "function quorum(uint256 timepoint) view returns (uint256)",
  "function quorumNumerator() view returns (uint256)",
  "function quorumDenominator() view returns (uint256)",
  "function timelock() view returns (address)",
  "function token() view returns (address)",
  "function state(uint256 proposalId) view returns (uint8)",
  "function proposalSnapshot(uint256 proposalId) view returns (uint256)",
  "function proposalDeadline(uint256 proposalId) view returns (uint256)",
  "function proposalProposer(uint256 proposalId) view returns (address)",
  "function proposalEta(uint256 proposalId) view returns (uint256)",
  "function proposalVotes(uint256 proposalId) view returns (uint256 againstVotes, uint256 forVotes, uint256 abstainVotes)",
  "function hasVoted(uint256 proposalId, address account) view returns (bool)",
  "function getVotes(address account, uint256 timepoint) view returns (uint256)",
  "function propose(address[] targets, uint256[] values, bytes[] calldatas, string description) returns (uint256)",
  "function queue(address[] targets, uint256[] values, bytes[] calldatas, bytes32 descriptionHash) returns (uint256)",
  "function execute(address[] targets, uint256[] values, bytes[] calldatas, bytes32 descriptionHash) payable returns (uint256)",
  "function castVote(uint256 proposalId, uint8 support) returns (uint256)",
  "function castVoteWithReason(uint256 proposalId, uint8 support, string reason) returns (uint256)",
  "event ProposalCreated(uint256 proposalId, address proposer, address[] targets, uint256[] values, string[] signatures, bytes[] calldatas, uint256 voteStart, uint256 voteEnd, string description)",
  "event ProposalQueued(uint256 proposalId, uint256 etaSeconds)",
  "event ProposalExecuted(uint256 proposalId)",
  "event ProposalCanceled(uint256 proposalId)",
  "event VoteCast(address indexed voter, uint256 proposalId, uint8 support, uint256 weight, string reason)",
  ...governorErrors,
  ...timelockErrors,
  ...policyErrors,
  ...votesErrors,
] as const;

export const timelockAbi = [
  "function getMinDelay() view returns (uint256)",
  "function getTimestamp(bytes32 id) view returns (uint256)",
  ...timelockErrors,
  ...policyErrors,
] as const;

export const votesTokenAbi = [
  "function symbol() view returns (string)",
  "function decimals() view returns (uint8)",
  "function balanceOf(address account) view returns (uint256)",
  "function totalSupply() view returns (uint256)",
  "function delegates(address account) view returns (address)",
  "function delegate(address delegatee)",
  "function getVotes(address account) view returns (uint256)",
  "function getPastVotes(address account, uint256 timepoint) view returns (uint256)",
  "function clock() view returns (uint48)",
  "event DelegateChanged(address indexed delegator, address indexed fromDelegate, address indexed toDelegate)",
  ...votesErrors,
] as const;

export const policyAbi = [
  "function version() view returns (uint64)",
  "function owner() view returns (address)",
  "function isBlockedTerm(bytes32 term) view returns (bool)",
  "function blockedTerms() view returns (bytes32[])",
  "function blockedTermCount() view returns (uint256)",
  "function isModelAllowed(bytes32 model) view returns (bool)",
  "function allowedModels() view returns (bytes32[])",
  "function limits() view returns (uint32 maxSeconds, uint32 maxWidth, uint32 maxHeight, uint32 maxFps)",
  "function minProviderStake() view returns (uint256)",
  "function fees() view returns (uint16 coordinatorFeeBps, uint16 treasuryFeeBps)",
  "function disputeWindow() view returns (uint64)",
  "function claimWindow() view returns (uint64)",
  "function arbiter() view returns (address)",
  "function treasury() view returns (address)",
  "function blockTerms(bytes32[] terms)",
  "function unblockTerms(bytes32[] terms)",
  "function allowModel(bytes32 model)",
  "function disallowModel(bytes32 model)",
  "function setLimits(uint32 maxSeconds, uint32 maxWidth, uint32 maxHeight, uint32 maxFps)",
  "function setFees(uint16 coordinatorFeeBps, uint16 treasuryFeeBps)",
  "function setMinProviderStake(uint256 minProviderStake)",
  "function setDisputeWindow(uint64 disputeWindow)",
  "function setClaimWindow(uint64 claimWindow)",
  "function setArbiter(address arbiter)",
  "function setTreasury(address treasury)",
  "event PolicyVersionChanged(uint64 version)",
  ...policyErrors,
] as const;

/** Every custom error a governance transaction can revert with, wherever in the call chain it was raised. */
export const governanceErrorsInterface = new Interface([...governorErrors, ...timelockErrors, ...policyErrors, ...votesErrors]);

export const governorInterface = new Interface(governorAbi);
export const policyInterface = new Interface(policyAbi);
