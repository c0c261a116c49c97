// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Events index what logs are searched by (job, provider, segment, account), not amounts.
// solhint-disable gas-indexed-events

import {Voucher, Assignment, Delivery} from "../types/Messages.sol";

/// @title IJobEscrow
/// @notice Holds a client's deposit for one video job and pays providers per generated second.
/// @dev Money rules. A job's deposit is `totalSeconds * pricePerSecond`. Each paid second costs the deposit
/// `pricePerSecond`: the coordinator fee and the treasury fee are `pricePerSecond * bps / 10_000` each (rates
/// snapshotted at `openJob`), the provider gets the rest. Providers are credited at once; the fees of a job are
/// credited when it closes (`settle` or `refund`), which is exact because they are linear in the paid seconds. Credits
/// are internal balances withdrawn with `withdraw`/`withdrawFor`; the client's refund is transferred directly.
///
/// A provider's paid seconds for a job are `max(voucher seconds, finalised claimed segments)`, so a second is never
/// paid twice. While claims are pending, the provider could be paid up to `max(voucher seconds, finalised + pending
/// claims)`; the job reserves the difference (`reservedSeconds`), so a claim reserves a second only when it can add a
/// paid second (not when vouchers already cover it). All providers together never exceed the job's seconds, counting
/// the reserved ones. Segment `i` is second `i`.
///
/// Who may be paid. Vouchers and settle entries pay only up to the provider's coordinator-signed `Allocation` (the
/// seconds of the job the coordinator assigned it), so a client cannot divert its deposit to an address of its own.
///
/// Timeline: `openJob` ... `redeem`s ... `settle` by the client. A settle closes the job at once (`Settled`) only when
/// it is cooperative: no claim is pending, every entry carries the provider's `Acknowledgement` of exactly its
/// amount, and together with earlier payments it pays every second of the job. Any other settle pays its entries
/// and starts a challenge window (`Closing`, until `closesAt` = now + the job's claim window) in which providers
/// still redeem vouchers and claim segments; the rest returns to the client by `refund` after it. Without a settle,
/// claims open for an assignment once its own deadline has passed, until the job's deadline plus its claim window.
/// Each claim locks stake worth one second; it is `dispute`d (with a bond) within the dispute window or finalised
/// after it; a disputed claim is resolved by the arbiter within the arbiter window or, past it, finalised by anyone
/// in the provider's favour. Windows, fees and the bond are the policy's at `openJob`, fixed for the job.
interface IJobEscrow {
    enum JobStatus {
        None,
        Open,
        Settled,
        Refunded,
        Closing
    }

    enum ClaimStatus {
        None,
        Pending,
        Disputed,
        Paid,
        Refused
    }

    /// @dev The job as {getJob} shows it. Stored in four slots (see `JobEscrow.JobRecord`); the windows and the bond
    /// are the terms of the job's policy version, kept once per version. `totalSeconds` is the protocol's
    /// `seconds`. `reservedSeconds` are seconds held for pending claims that may still be paid; `pendingClaims` counts
    /// the claims not yet finalised or resolved (some of which may reserve nothing, their seconds being paid by
    /// vouchers already).
    /// The terms snapshotted at open: the dispute, claim and arbiter windows and the dispute bond; `closesAt` is the end
    /// of the challenge window once a settle has started it (0 before).
    struct Job {
        address client;
        uint32 totalSeconds;
        uint32 paidSeconds;
        uint32 reservedSeconds;
        address coordinator;
        uint64 deadline;
        uint32 pendingClaims;
        uint128 pricePerSecond;
        uint64 policyVersion;
        uint16 coordinatorFeeBps;
        uint16 treasuryFeeBps;
        JobStatus status;
        bytes32 specHash;
        uint64 closesAt;
        uint32 disputeWindow;
        uint32 claimWindow;
        uint32 arbiterWindow;
        uint96 disputeBond;
    }

    /// @dev `deadlineAt` is when the claim's dispute window closes while `Pending`, and when the arbiter's window
    /// closes while `Disputed`. A `Refused` claim frees its segment for another provider's claim.
    struct Claim {
        address provider;
        uint64 deadlineAt;
        ClaimStatus status;
    }

    /// @notice One provider's payment in a {settle}.
    /// @param provider Who is paid.
    /// @param totalSeconds Its cumulative seconds (what it has been paid already is honoured).
    /// @param allocated The seconds of its coordinator-signed allocation, at least `totalSeconds`.
    /// @param allocationSig The job coordinator's EIP-712 signature of `Allocation(jobId, provider, allocated)`, or
    /// empty to use the allocation on record from the provider's redeems.
    /// @param acknowledgementSig The provider's EIP-712 signature of `Acknowledgement(jobId, provider, totalSeconds)`,
    /// or empty; a settle closes at once only when every entry has one.
    struct SettleEntry {
        address provider;
        uint32 totalSeconds;
        uint32 allocated;
        bytes allocationSig;
        bytes acknowledgementSig;
    }

    /// @notice A segment that `assignment.provider` delivered, in an {attributeSegment}: the coordinator's assignment
    /// of it and the provider's signed delivery receipt (the same pair a {claim} carries).
    struct Attribution {
        Assignment assignment;
        bytes coordinatorSig;
        Delivery delivery;
        bytes providerSig;
    }

    /// @notice The spec hash is zero.
    error JobEscrowZeroSpecHash();
    /// @notice An address that must be set (coordinator, provider, account) is zero.
    error JobEscrowZeroAddress();
    /// @notice A job of zero seconds.
    error JobEscrowZeroSeconds();
    /// @notice A price per second of zero.
    error JobEscrowZeroPrice();
    /// @notice The deadline is not in the future.
    error JobEscrowDeadlineInPast(uint64 deadline, uint256 timestamp);
    /// @notice The deadline is further away than the policy's `maxDeadlineDistance` allows (`latest`).
    error JobEscrowDeadlineTooFar(uint64 deadline, uint256 latest);
    /// @notice A voucher or settle entry for more seconds than the coordinator allocated to the provider.
    error JobEscrowOverAllocation(address provider, uint32 totalSeconds, uint32 allocated);
    /// @notice The arbiter's window for this dispute closed at `resolvableUntil`; finalise it instead.
    error JobEscrowArbiterWindowClosed(uint64 resolvableUntil);
    /// @notice The claim cannot be finalised before `until` (its dispute or arbiter window).
    error JobEscrowClaimNotFinal(uint64 until);
    /// @notice The job was quoted under another policy version than the current one.
    error JobEscrowPolicyVersionMismatch(uint64 given, uint64 current);
    /// @notice The job is longer than the policy allows.
    error JobEscrowTooManySeconds(uint32 totalSeconds, uint32 maxSeconds);
    /// @notice No job has this id.
    error JobEscrowUnknownJob(bytes32 jobId);
    /// @notice The job is settled or refunded already.
    error JobEscrowJobNotOpen(bytes32 jobId, JobStatus status);
    /// @notice The caller may not do this (`expected` is who may).
    error JobEscrowUnauthorized(address caller, address expected);
    /// @notice A signature is not `expected`'s (an ECDSA signature by another key, a malformed one, or one its
    /// ERC-1271 wallet refuses).
    error JobEscrowInvalidSigner(address expected);
    /// @notice A voucher, or a settle entry, for no more seconds than the provider has been paid already.
    error JobEscrowNothingOwed(bytes32 jobId, address provider, uint32 totalSeconds, uint32 paidSeconds);
    /// @notice Paying this would take the job past its seconds (`available` = seconds neither paid nor reserved; for a
    /// voucher, plus the seconds the provider's own pending claims reserved).
    error JobEscrowSecondsExceeded(bytes32 jobId, uint256 requested, uint256 available);
    /// @notice `providers` and `seconds` differ in length.
    error JobEscrowLengthMismatch(uint256 providers, uint256 seconds_);
    /// @notice A provider is listed twice in one settle.
    error JobEscrowDuplicateProvider(address provider);
    /// @notice `pendingClaims` claims are pending (not finalised or resolved) on this job.
    error JobEscrowClaimsPending(bytes32 jobId, uint32 pendingClaims);
    /// @notice The assignment and the delivery disagree on job, segment or frame count.
    error JobEscrowClaimMismatch();
    /// @notice The segment is outside the job.
    error JobEscrowInvalidSegment(uint32 segment, uint32 totalSeconds);
    /// @notice Claims open only after the assignment's deadline (or once the client has settled).
    error JobEscrowDeadlineNotReached(uint64 deadline);
    /// @notice The claim window of this job closed at `closedAt`.
    error JobEscrowClaimWindowClosed(uint256 closedAt);
    /// @notice The provider is not registered with the minimum stake.
    error JobEscrowProviderNotActive(address provider);
    /// @notice The segment has been claimed already (or was refused for this same provider).
    error JobEscrowSegmentAlreadyClaimed(bytes32 jobId, uint32 segment);
    /// @notice The claim is not in the state this call needs.
    error JobEscrowClaimNotPending(bytes32 jobId, uint32 segment, ClaimStatus status);
    /// @notice The claim is not disputed.
    error JobEscrowClaimNotDisputed(bytes32 jobId, uint32 segment, ClaimStatus status);
    /// @notice The claim could only be disputed until `disputableUntil`.
    error JobEscrowDisputeWindowClosed(uint64 disputableUntil);
    /// @notice A dispute resolved in the provider's favour cannot slash it.
    error JobEscrowSlashOnPay();
    /// @notice The refund opens after `claimWindowEnd` (deadline + claim window, or the end of the challenge window).
    error JobEscrowRefundTooEarly(uint256 claimWindowEnd);
    /// @notice The account has no balance in the escrow.
    error JobEscrowNothingToWithdraw(address account);
    /// @notice {openJobFromDeposit}: the caller's escrow account holds `balance`, less than the job's deposit `needed`
    /// ({deposit} more first, or open with {openJob}).
    error JobEscrowInsufficientDeposit(uint256 balance, uint256 needed);
    /// @notice A deposit of zero.
    error JobEscrowNothingToDeposit();
    /// @notice {attributeSegment}: the provider's `voucherSeconds` are all accounted for by segments on record
    /// (attributed, claimed or pending), so no voucher second of it is left to have paid this segment.
    error JobEscrowNothingToAttribute(bytes32 jobId, address provider, uint32 voucherSeconds);
    /// @notice {attributeSegment} sent by the provider: its voucher can be paid without dropping this segment's claim
    /// (or dropping it frees no second), so only the client, which knows which copy it paid for, may attribute it.
    error JobEscrowAttributionNotNeeded(bytes32 jobId, uint32 segment);

    event JobOpened(
        bytes32 indexed jobId,
        address indexed client,
        address indexed coordinator,
        bytes32 specHash,
        uint32 totalSeconds,
        uint128 pricePerSecond,
        uint64 deadline,
        uint64 policyVersion
    );
    /// @notice A provider was paid up to `totalSeconds` of the job, by a voucher or by the client's `settle`;
    /// `amount` is what was credited to it now (after fees).
    event VoucherRedeemed(bytes32 indexed jobId, address indexed provider, uint32 totalSeconds, uint256 amount);
    /// @notice The job closed: `paid` of the deposit went to providers and fees over its life, `refund` to the client.
    event JobSettled(bytes32 indexed jobId, uint256 paid, uint256 refund);
    /// @notice An uncooperative settle paid its entries; providers may redeem and claim until `closesAt`, then the
    /// rest returns to the client by {refund}.
    event JobClosing(bytes32 indexed jobId, uint64 closesAt, uint32 paidSeconds);
    event SegmentClaimed(
        bytes32 indexed jobId,
        uint32 indexed segment,
        address indexed provider,
        bytes cid,
        uint64 disputableUntil
    );
    /// @notice A claim was paid (`amount` credited to the provider; zero when vouchers covered the second already).
    event ClaimFinalized(bytes32 indexed jobId, uint32 indexed segment, address indexed provider, uint256 amount);
    /// @notice The client disputed a claim, depositing `bond`; the arbiter may resolve it until `resolvableUntil`.
    event ClaimDisputed(bytes32 indexed jobId, uint32 indexed segment, uint256 bond, uint64 resolvableUntil);
    /// @notice `slashed` was taken from the provider's stake: `compensation` of it credited to the client, the rest to
    /// the treasury.
    event DisputeResolved(
        bytes32 indexed jobId,
        uint32 indexed segment,
        bool paid,
        uint256 slashed,
        uint256 compensation
    );
    /// @notice The job closed after its claim window; `amount` went back to the client.
    event JobRefunded(bytes32 indexed jobId, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice `account` put `amount` into its escrow account (its balance), to open jobs from.
    event Deposited(address indexed account, uint256 amount);
    /// @notice The client (or, to redeem its voucher, the provider) recorded that `provider`'s vouchers paid
    /// `segment`; `dropped` is the other provider whose claim on it was dropped (zero if none).
    event SegmentAttributed(bytes32 indexed jobId, uint32 indexed segment, address indexed provider, address dropped);

    /// @notice Opens a job and pulls its deposit, `totalSeconds * pricePerSecond` MESH (approve first).
    /// @param specHash keccak256 of the canonical job spec.
    /// @param coordinator Who schedules the job, signs assignments and earns the coordinator fee.
    /// @param totalSeconds Seconds of video paid for (the protocol's `seconds`); at most the policy's `maxSeconds`.
    /// @param pricePerSecond MESH base units per generated second, fees included.
    /// @param deadline Unix time by which the job should be done; claims open after it.
    /// @param policyVersion The policy version the job was checked against; must be the current one.
    /// @return jobId `keccak256(abi.encode(block.chainid, address(this), msg.sender, nonces(msg.sender)))`.
    function openJob(
        bytes32 specHash,
        address coordinator,
        uint32 totalSeconds,
        uint128 pricePerSecond,
        uint64 deadline,
        uint64 policyVersion
    ) external returns (bytes32 jobId);

    /// @notice {openJob} with an ERC-2612 permit for the deposit, in one transaction.
    function openJobWithPermit(
        bytes32 specHash,
        address coordinator,
        uint32 totalSeconds,
        uint128 pricePerSecond,
        uint64 deadline,
        uint64 policyVersion,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external returns (bytes32 jobId);

    /// @notice {openJob} paid from the caller's escrow account (its balance: {deposit}s, refunds of such jobs, and
    /// anything credited to it) instead of a token transfer. What the job does not spend goes back into the account,
    /// not to the wallet; {withdraw} takes it out. A returning client deposits once and opens many jobs this way.
    function openJobFromDeposit(
        bytes32 specHash,
        address coordinator,
        uint32 totalSeconds,
        uint128 pricePerSecond,
        uint64 deadline,
        uint64 policyVersion
    ) external returns (bytes32 jobId);

    /// @notice Pulls `amount` MESH (approve first) into the caller's escrow account, to open jobs from with
    /// {openJobFromDeposit}; {withdraw} returns whatever is left.
    function deposit(uint256 amount) external;

    /// @notice Records that the client's vouchers to `voucher.provider` paid the segments of `attributions` (each one
    /// the coordinator assigned it and it signed the delivery of), and pays the voucher, in one call. An attributed
    /// segment is paid, so no other provider can claim it (a speculative copy's provider, say); a pending or disputed
    /// claim of another provider on it is dropped first (its reservation released, stake unlocked, no slash, the
    /// client's bond back), and then the voucher is redeemed as {redeem} would: so a speculative claim that took the
    /// job's last free seconds cannot keep the verified provider from being paid the voucher in full. Each
    /// attribution uses up one of the provider's voucher seconds that no segment on record accounts for yet, so at
    /// most as many segments are kept from claims as the client paid that provider for. A segment already paid by a
    /// claim, or one the provider claimed itself (pending, or refused by the arbiter), cannot be attributed to it.
    ///
    /// Who may send it: the client, which knows which copy of a segment it paid for, for any attribution; or the
    /// voucher's provider, to protect itself without the client, but only for an attribution without which its
    /// voucher cannot be paid (`JobEscrowSecondsExceeded`) and whose dropped claim frees a second
    /// (`JobEscrowAttributionNotNeeded` otherwise), so it cannot use this to block a rival's claim it does not need.
    /// @param voucher The client's voucher to the provider (its latest; one already redeemed pays nothing more).
    /// @param voucherSig The job client's EIP-712 signature of the voucher.
    /// @param allocated As in {redeem}; checked only when the voucher pays more seconds.
    /// @param allocationSig As in {redeem}.
    function attributeSegment(
        Voucher calldata voucher,
        bytes calldata voucherSig,
        uint32 allocated,
        bytes calldata allocationSig,
        Attribution[] calldata attributions
    ) external;

    /// @notice Pays `voucher.provider` for the seconds of the voucher it has not been paid yet. Anyone may send it,
    /// while the job is open or closing, also while the provider's claims are pending: seconds the provider's own
    /// pending claims reserved count towards the voucher (they are released, and those claims then pay only seconds
    /// beyond it).
    /// @param signature The job client's EIP-712 signature of the voucher (ECDSA, or ERC-1271 for a contract client).
    /// @param allocated The seconds of the provider's allocation, at least the voucher's.
    /// @param allocationSig The job coordinator's EIP-712 signature of `Allocation(jobId, provider, allocated)`, or
    /// empty to use the highest allocation an earlier redeem of this provider in this job verified (cheaper).
    function redeem(
        Voucher calldata voucher,
        bytes calldata signature,
        uint32 allocated,
        bytes calldata allocationSig
    ) external;

    /// @notice Pays each entry's provider up to its cumulative seconds (honouring what it has been paid already). Only
    /// the client, once. Closes the job at once (`JobSettled`, fees credited, the rest refunded) when it is
    /// cooperative: no claim pending, every entry acknowledged by its provider, every second of the job paid.
    /// Otherwise the job is `Closing` (`JobClosing`) until now + its claim window: providers redeem and claim, then
    /// {refund} returns the rest.
    /// @dev An empty list on a job that was refused or never started starts the challenge window with nothing paid.
    function settle(bytes32 jobId, SettleEntry[] calldata entries) external;

    /// @notice Claims one segment (one second) for the provider of the assignment, once the assignment's deadline
    /// has passed (at once while the job is closing), until the job's claim window ends. Anyone may send it. It locks
    /// stake worth one second of the job and is paid by {finalizeClaim} once the dispute window has passed. A segment
    /// whose claim was refused can be claimed again, by another provider.
    /// @dev A claim reserves one of the job's seconds (and needs one unpaid, unreserved second) only if it can add a
    /// paid second, i.e. when the provider's finalised plus pending claims, this one included, would exceed its
    /// voucher seconds. A claim for a second that vouchers already paid reserves nothing and pays nothing.
    /// @param coordinatorSig The job coordinator's EIP-712 signature of `assignment`.
    /// @param providerSig The assigned provider's EIP-712 signature of `delivery`.
    function claim(
        Assignment calldata assignment,
        bytes calldata coordinatorSig,
        Delivery calldata delivery,
        bytes calldata providerSig
    ) external;

    /// @notice Pays an undisputed claim once its dispute window has passed, or a disputed one the arbiter left
    /// unresolved past the arbiter window (the client's bond then goes to the provider). Anyone may send it. It counts
    /// one more finalised claim for the provider, which pays one second (out of the provider's reserved seconds) only
    /// if that takes the provider's finalised claims past its voucher seconds; otherwise it pays nothing (`amount` 0).
    function finalizeClaim(bytes32 jobId, uint32 segment) external;

    /// @notice The client disputes a pending claim within its dispute window, depositing the job's dispute bond
    /// (approve first).
    function dispute(bytes32 jobId, uint32 segment) external;

    /// @notice {dispute} for several segments of one job, one bond each.
    function disputeMany(bytes32 jobId, uint32[] calldata segments) external;

    /// @notice The policy's arbiter, within the arbiter window, pays a disputed claim (as {finalizeClaim} would; the
    /// bond goes to the provider), or refuses it: the reserved second is released, the segment can be claimed by
    /// another provider, the bond returns to the client, and up to `slashAmount` of the provider's stake is taken,
    /// half of it credited to the client as compensation and the rest to the treasury.
    function resolveDispute(bytes32 jobId, uint32 segment, bool pay, uint256 slashAmount) external;

    /// @notice {resolveDispute} for several segments of one job.
    function resolveDisputes(
        bytes32 jobId,
        uint32[] calldata segments,
        bool[] calldata pays,
        uint256[] calldata slashAmounts
    ) external;

    /// @notice After the deadline plus the claim window (or, once settled uncooperatively, after the challenge
    /// window), with no claim pending, closes the job, credits the fees of what was paid and returns the unspent
    /// deposit to the client. Anyone may send it.
    function refund(bytes32 jobId) external;

    /// @notice Sends the caller its balance.
    function withdraw() external;

    /// @notice Sends `account` its balance (e.g. the treasury's fees).
    function withdrawFor(address account) external;

    function getJob(bytes32 jobId) external view returns (Job memory);

    /// @notice Seconds of the job paid to `provider` by vouchers and claims: `max(voucher seconds, finalised
    /// claims)`. A `settle` pays the rest in one go without recording it here; see its `VoucherRedeemed` events.
    function paidSeconds(bytes32 jobId, address provider) external view returns (uint32);

    function getClaim(bytes32 jobId, uint32 segment) external view returns (Claim memory);

    /// @notice What `account` can withdraw (for the treasury, including the treasury fees).
    function balanceOf(address account) external view returns (uint256);

    function token() external view returns (address);

    function policy() external view returns (address);

    function registry() external view returns (address);
}
