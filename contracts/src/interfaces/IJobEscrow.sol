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
/// Timeline: `openJob` ... `redeem`s ... `settle` (client, any time while no claim is pending) - or, after the
/// deadline, `claim`s during the claim window, each `dispute`d within the dispute window or finalised after it, and
/// `refund` of the rest once the claim window has passed and no claim is pending.
interface IJobEscrow {
    enum JobStatus {
        None,
        Open,
        Settled,
        Refunded
    }

    enum ClaimStatus {
        None,
        Pending,
        Disputed,
        Paid,
        Refused
    }

    /// @dev Four storage slots: (client, totalSeconds, paidSeconds, reservedSeconds), (coordinator, deadline,
    /// pendingClaims), (pricePerSecond, policyVersion, fees, status), specHash. `totalSeconds` is the protocol's
    /// `seconds`. `reservedSeconds` are seconds held for pending claims that may still be paid; `pendingClaims` counts
    /// the claims not yet finalised or resolved (some of which may reserve nothing, their seconds being paid by
    /// vouchers already).
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
    }

    struct Claim {
        address provider;
        uint64 disputableUntil;
        ClaimStatus status;
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
    /// @notice A signature is malformed (`signer` zero) or by someone else than `expected`.
    error JobEscrowInvalidSigner(address signer, address expected);
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
    /// @notice Claims open only after the job's deadline.
    error JobEscrowDeadlineNotReached(uint64 deadline);
    /// @notice The claim window of this job closed at `closedAt`.
    error JobEscrowClaimWindowClosed(uint256 closedAt);
    /// @notice The provider is not registered with the minimum stake.
    error JobEscrowProviderNotActive(address provider);
    /// @notice The segment has been claimed already.
    error JobEscrowSegmentAlreadyClaimed(bytes32 jobId, uint32 segment);
    /// @notice The claim is not in the state this call needs.
    error JobEscrowClaimNotPending(bytes32 jobId, uint32 segment, ClaimStatus status);
    /// @notice The claim is not disputed.
    error JobEscrowClaimNotDisputed(bytes32 jobId, uint32 segment, ClaimStatus status);
    /// @notice The claim can still be disputed until `disputableUntil`.
    error JobEscrowDisputeWindowOpen(uint64 disputableUntil);
    /// @notice The claim could only be disputed until `disputableUntil`.
    error JobEscrowDisputeWindowClosed(uint64 disputableUntil);
    /// @notice A dispute resolved in the provider's favour cannot slash it.
    error JobEscrowSlashOnPay();
    /// @notice The refund opens after `claimWindowEnd` (deadline + claim window).
    error JobEscrowRefundTooEarly(uint256 claimWindowEnd);
    /// @notice The account has no balance in the escrow.
    error JobEscrowNothingToWithdraw(address account);

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
    event SegmentClaimed(
        bytes32 indexed jobId,
        uint32 indexed segment,
        address indexed provider,
        bytes cid,
        uint64 disputableUntil
    );
    /// @notice A claim was paid (`amount` credited to the provider; zero when vouchers covered the second already).
    event ClaimFinalized(bytes32 indexed jobId, uint32 indexed segment, address indexed provider, uint256 amount);
    event ClaimDisputed(bytes32 indexed jobId, uint32 indexed segment);
    event DisputeResolved(bytes32 indexed jobId, uint32 indexed segment, bool paid, uint256 slashed);
    /// @notice The job closed after its claim window; `amount` went back to the client.
    event JobRefunded(bytes32 indexed jobId, uint256 amount);
    event Withdrawn(address indexed account, uint256 amount);

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

    /// @notice Pays `voucher.provider` for the seconds of the voucher it has not been paid yet. Anyone may send it,
    /// also after the deadline and while the provider's claims are pending: seconds the provider's own pending claims
    /// reserved count towards the voucher (they are released, and those claims then pay only seconds beyond it).
    /// @param signature The job client's EIP-712 signature of the voucher (65 bytes: r, s, v).
    function redeem(Voucher calldata voucher, bytes calldata signature) external;

    /// @notice Closes the job: pays each listed provider up to its cumulative seconds (honouring what it has been paid
    /// already), credits the fees, refunds the rest to the client. Only the client; not while a claim is pending.
    /// @dev An empty list closes a job that was refused or never started and refunds the whole deposit.
    function settle(bytes32 jobId, address[] calldata providers, uint32[] calldata totalSeconds) external;

    /// @notice After the deadline and within the claim window, claims one segment (one second) for the provider of
    /// the assignment. Anyone may send it. It is paid by {finalizeClaim} once the dispute window has passed.
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

    /// @notice Pays an undisputed claim once its dispute window has passed. Anyone may send it. It counts one more
    /// finalised claim for the provider, which pays one second (out of the provider's reserved seconds) only if that
    /// takes the provider's finalised claims past its voucher seconds; otherwise it pays nothing (`amount` 0).
    function finalizeClaim(bytes32 jobId, uint32 segment) external;

    /// @notice The client disputes a pending claim within its dispute window.
    function dispute(bytes32 jobId, uint32 segment) external;

    /// @notice The policy's arbiter pays a disputed claim (as {finalizeClaim} would), or refuses it, releasing what
    /// it held reserved, and slashes up to `slashAmount` of the provider's stake to the treasury.
    function resolveDispute(bytes32 jobId, uint32 segment, bool pay, uint256 slashAmount) external;

    /// @notice After the deadline plus the claim window, with no claim pending, closes the job, credits the fees of
    /// what was paid and returns the unspent deposit to the client. Anyone may send it.
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
