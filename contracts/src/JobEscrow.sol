// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Private immutables follow OpenZeppelin's `_name` convention; comparisons are written as the rules read.
// solhint-disable immutable-vars-naming, gas-strict-inequalities

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IContentPolicy} from "./interfaces/IContentPolicy.sol";
import {IJobEscrow} from "./interfaces/IJobEscrow.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {Permits} from "./libraries/Permits.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";
import {Voucher, Assignment, Delivery, MessageHashes} from "./types/Messages.sol";

/// @title JobEscrow
/// @notice Escrow of Rendermesh jobs: clients deposit, providers are paid per verified second by voucher, by the
/// client's settle, or by an undisputed (or arbitrated) claim; whatever is not paid goes back to the client.
/// @dev Deploys its own {ProviderRegistry} so that the registry's slasher is fixed at construction.
contract JobEscrow is IJobEscrow, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    uint256 private constant _MAX_BPS = 10_000;

    /// @dev What a provider has been paid for in a job, by vouchers and by finalised claims, and how many of its
    /// claims are pending (not finalised or resolved); one slot. It has been paid `paid = max(voucherSeconds,
    /// claimedSeconds)` seconds and, were every pending claim paid, would be paid `committed = max(voucherSeconds,
    /// claimedSeconds + pendingClaims)`. The job holds the difference reserved for it. Every function keeps, for each
    /// open job:
    ///   job.reservedSeconds == sum over providers of (committed - paid),
    ///   job.paidSeconds     == sum over providers of paid (settle, which closes the job, pays without recording),
    ///   job.pendingClaims   == sum over providers of pendingClaims,
    /// so job.paidSeconds + job.reservedSeconds == sum of committed <= job.totalSeconds: claims are paid from their
    /// provider's own reservation, and a second is never paid twice. Each of claimedSeconds + pendingClaims (distinct
    /// segments claimed) and voucherSeconds (paid seconds) is at most totalSeconds, so no sum here overflows a uint32.
    /// `allocated` is the highest coordinator allocation verified for the provider in the job: a later voucher within
    /// it needs no allocation signature (the coordinator's allocations are cumulative, so a verified one stays true).
    /// `claimedSeconds` also counts the segments the client attributed to the provider's vouchers
    /// ({attributeSegment}): recorded as its finalised claims that its vouchers paid, they leave its paid and committed
    /// seconds unchanged and keep any other provider's claim off those segments.
    struct Payment {
        uint32 voucherSeconds;
        uint32 claimedSeconds;
        uint32 pendingClaims;
        uint32 allocated;
    }

    /// @dev A job as stored: four slots, written once at open except for the counters, the status and `closesAt`.
    /// (client, totalSeconds, paidSeconds, reservedSeconds), (coordinator, deadline, pendingClaims), (pricePerSecond,
    /// policyVersion, fees, status, fromDeposit, closesAt), specHash. The windows and the dispute bond are the policy
    /// version's, kept once per version in `_terms` (a policy change bumps the version), so they are still the job's
    /// snapshot at open and cost a job no slot of its own. `fromDeposit`: the deposit came from the client's escrow
    /// account, so what is unspent goes back into it. Only the `specHash` and the terms are not in calldata of later
    /// calls; the spec hash stays in storage because the coordinator checks a spec against it (DESIGN.md).
    struct JobRecord {
        address client;
        uint32 totalSeconds;
        uint32 paidSeconds;
        uint32 reservedSeconds;
        address coordinator;
        uint64 deadline;
        uint32 pendingClaims;
        uint128 pricePerSecond;
        uint32 policyVersion;
        uint16 coordinatorFeeBps;
        uint16 treasuryFeeBps;
        JobStatus status;
        bool fromDeposit;
        uint40 closesAt;
        bytes32 specHash;
    }

    /// @dev One policy version's escrow terms, copied from the policy by the first job opened under it (one slot).
    struct Terms {
        uint32 disputeWindow;
        uint32 claimWindow;
        uint32 arbiterWindow;
        uint32 maxDeadlineDistance;
        uint96 disputeBond;
        bool set;
    }

    IERC20 private immutable _token;
    IContentPolicy private immutable _policy;
    IProviderRegistry private immutable _registry;

    mapping(bytes32 jobId => JobRecord) private _jobs;
    mapping(uint256 policyVersion => Terms) private _terms;
    mapping(bytes32 jobId => mapping(address provider => Payment)) private _payments;
    mapping(bytes32 jobId => mapping(uint32 segment => Claim)) private _claims;
    /// @dev An account's balance and its job nonce share a slot: a returning client's open from its deposit writes
    /// one slot for both.
    struct Account {
        uint192 balance;
        uint64 nonce;
    }

    mapping(address account => Account) private _accounts;
    /// @dev Treasury fees, paid to whoever `policy.treasury()` is at withdrawal, so closing a job needs no call to the
    /// policy.
    uint256 private _treasuryBalance;

    /// @param token_ MESH.
    /// @param policy_ The content policy (fees, limits, windows, arbiter, treasury).
    /// @param unstakeCooldown The registry's unstake cooldown in seconds.
    constructor(IERC20 token_, IContentPolicy policy_, uint64 unstakeCooldown) EIP712("Rendermesh", "1") {
        _token = token_;
        _policy = policy_;
        _registry = new ProviderRegistry(token_, policy_, unstakeCooldown, address(this));
    }

    // ------------------------------------------------------------------ open

    /// @inheritdoc IJobEscrow
    function openJob(
        bytes32 specHash,
        address coordinator,
        uint32 totalSeconds,
        uint128 pricePerSecond,
        uint64 deadline,
        uint64 policyVersion
    ) external nonReentrant returns (bytes32) {
        return _openJob(specHash, coordinator, totalSeconds, pricePerSecond, deadline, policyVersion, false);
    }

    /// @inheritdoc IJobEscrow
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
    ) external nonReentrant returns (bytes32) {
        Permits.tryPermit(
            address(_token),
            msg.sender,
            address(this),
            uint256(totalSeconds) * pricePerSecond,
            permitDeadline,
            v,
            r,
            s
        );
        return _openJob(specHash, coordinator, totalSeconds, pricePerSecond, deadline, policyVersion, false);
    }

    /// @inheritdoc IJobEscrow
    function openJobFromDeposit(
        bytes32 specHash,
        address coordinator,
        uint32 totalSeconds,
        uint128 pricePerSecond,
        uint64 deadline,
        uint64 policyVersion
    ) external nonReentrant returns (bytes32) {
        return _openJob(specHash, coordinator, totalSeconds, pricePerSecond, deadline, policyVersion, true);
    }

    /// @inheritdoc IJobEscrow
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert JobEscrowNothingToDeposit();
        _credit(msg.sender, amount);
        emit Deposited(msg.sender, amount);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    // ------------------------------------------------------------------- pay

    /// @inheritdoc IJobEscrow
    function redeem(
        Voucher calldata voucher,
        bytes calldata signature,
        uint32 allocated,
        bytes calldata allocationSig
    ) external nonReentrant {
        bytes32 jobId = voucher.jobId;
        JobRecord storage job = _jobs[jobId];
        _requireLive(job, jobId);
        address provider = voucher.provider;
        if (provider == address(0)) revert JobEscrowZeroAddress();
        _checkSigner(_hashTypedDataV4(voucher.hash()), signature, job.client);
        uint32 voucherSeconds = voucher.totalSeconds;
        Payment storage payment = _payments[jobId][provider];
        _checkAllocation(job, jobId, provider, voucherSeconds, allocated, allocationSig, payment, true);

        uint32 before = _max(payment.voucherSeconds, payment.claimedSeconds);
        if (voucherSeconds <= before) revert JobEscrowNothingOwed(jobId, provider, voucherSeconds, before);
        uint256 amount = _raiseVoucher(job, jobId, payment, voucherSeconds, before);
        _credit(provider, amount);
        emit VoucherRedeemed(jobId, provider, voucherSeconds, amount);
    }

    /// @inheritdoc IJobEscrow
    function settle(bytes32 jobId, SettleEntry[] calldata entries) external nonReentrant {
        JobRecord storage job = _jobs[jobId];
        JobStatus status = job.status;
        if (status != JobStatus.Open) {
            if (status == JobStatus.None) revert JobEscrowUnknownJob(jobId);
            revert JobEscrowJobNotOpen(jobId, status);
        }
        address client = job.client;
        if (msg.sender != client) revert JobEscrowUnauthorized(msg.sender, client);

        if (job.pendingClaims == 0 && _allAcknowledged(entries)) {
            // No claim pending, so nothing is reserved and no record needs the reservation arithmetic: a cooperative
            // settle pays from the records as they are and, when it closes the job, writes none of them.
            uint256 net = _netPerSecond(job);
            uint256 paidBefore = job.paidSeconds;
            uint256 paid = paidBefore;
            for (uint256 i = 0; i < entries.length; ++i) {
                paid += _settleAcknowledged(job, jobId, entries[i], net, paidBefore != 0);
            }
            uint256 total = job.totalSeconds;
            if (paid > total) revert JobEscrowSecondsExceeded(jobId, paid - paidBefore, total - paidBefore);
            // the cast is safe: paid <= total, a uint32.
            job.paidSeconds = uint32(paid);
            if (paid == total) {
                job.status = JobStatus.Settled;
                (uint256 spent, uint256 unspent) = _creditFees(job, paid, total);
                emit JobSettled(jobId, spent, unspent);
                _returnUnspent(job, unspent);
                return;
            }
            // Not every second is paid: someone the client did not list may hold a voucher or an assignment. Record
            // what was paid, as a redeem would have, and open the challenge window.
            for (uint256 i = 0; i < entries.length; ++i) {
                Payment storage payment = _payments[jobId][entries[i].provider];
                if (entries[i].totalSeconds > payment.voucherSeconds) payment.voucherSeconds = entries[i].totalSeconds;
            }
        } else {
            for (uint256 i = 0; i < entries.length; ++i) {
                _settleEntry(job, jobId, entries[i]);
            }
        }
        // the cast is safe: a window is below 2**32 s, so closesAt fits 40 bits until the year 36812.
        uint64 closesAt = uint64(block.timestamp) + _termsOf(job).claimWindow;
        job.closesAt = uint40(closesAt);
        job.status = JobStatus.Closing;
        emit JobClosing(jobId, closesAt, job.paidSeconds);
    }

    // ----------------------------------------------------------------- claim

    /// @inheritdoc IJobEscrow
    function claim(
        Assignment calldata assignment,
        bytes calldata coordinatorSig,
        Delivery calldata delivery,
        bytes calldata providerSig
    ) external nonReentrant {
        uint64 disputableUntil = _verifyClaim(assignment, coordinatorSig, delivery, providerSig);
        bytes32 jobId = assignment.jobId;
        uint32 segment = assignment.segment;
        address provider = assignment.provider;
        _recordClaim(jobId, segment, provider, disputableUntil);
        emit SegmentClaimed(jobId, segment, provider, delivery.cid, disputableUntil);
    }

    /// @dev The checks of {claim} that need only the messages and the job; returns when the dispute window closes.
    function _verifyClaim(
        Assignment calldata assignment,
        bytes calldata coordinatorSig,
        Delivery calldata delivery,
        bytes calldata providerSig
    ) private view returns (uint64 disputableUntil) {
        JobRecord storage job = _verifyDelivery(assignment, coordinatorSig, delivery, providerSig);
        disputableUntil = _checkClaimTime(job, assignment.deadline);
    }

    /// @dev Checks that the coordinator assigned the segment to the provider and the provider signed its delivery,
    /// of a live job; returns the job.
    function _verifyDelivery(
        Assignment calldata assignment,
        bytes calldata coordinatorSig,
        Delivery calldata delivery,
        bytes calldata providerSig
    ) private view returns (JobRecord storage job) {
        bytes32 jobId = assignment.jobId;
        uint32 segment = assignment.segment;
        if (
            delivery.jobId != jobId || delivery.segment != segment || delivery.frameCount != assignment.frameCount
        ) revert JobEscrowClaimMismatch();
        job = _jobs[jobId];
        _requireLive(job, jobId);
        uint32 total = job.totalSeconds;
        if (segment >= total) revert JobEscrowInvalidSegment(segment, total);
        _checkSigner(_hashTypedDataV4(assignment.hash()), coordinatorSig, job.coordinator);
        _checkSigner(_hashTypedDataV4(delivery.hash()), providerSig, assignment.provider);
    }

    /// @inheritdoc IJobEscrow
    function attributeSegment(
        Voucher calldata voucher,
        bytes calldata voucherSig,
        uint32 allocated,
        bytes calldata allocationSig,
        Attribution[] calldata attributions
    ) external nonReentrant {
        bytes32 jobId = voucher.jobId;
        JobRecord storage job = _jobs[jobId];
        _requireLive(job, jobId);
        address client = job.client;
        if (voucher.provider == address(0)) revert JobEscrowZeroAddress();
        if (msg.sender != client && msg.sender != voucher.provider) revert JobEscrowUnauthorized(msg.sender, client);
        _checkSigner(_hashTypedDataV4(voucher.hash()), voucherSig, client);
        Payment storage payment = _payments[jobId][voucher.provider];
        // Other providers' claims on the segments go first: the seconds they reserved may be the ones the voucher needs.
        _takeSegments(job, jobId, voucher.provider, voucher.totalSeconds, payment, attributions);
        _redeemAttributed(job, voucher, payment, allocated, allocationSig, attributions.length);
    }

    /// @dev The rest of {attributeSegment}: pays the voucher, then counts the `count` attributed segments.
    function _redeemAttributed(
        JobRecord storage job,
        Voucher calldata voucher,
        Payment storage payment,
        uint32 allocated,
        bytes calldata allocationSig,
        uint256 count
    ) private {
        if (!_payVoucherIfMore(job, voucher, payment, allocated, allocationSig) && count == 0) {
            uint32 paid = _max(payment.voucherSeconds, payment.claimedSeconds);
            revert JobEscrowNothingOwed(voucher.jobId, voucher.provider, voucher.totalSeconds, paid);
        }
        // Each attributed segment uses up one of the provider's voucher seconds that no segment on record accounts for
        // (its finalised and attributed claims plus its pending ones stay within its voucher seconds). Recorded as
        // finalised claims that its vouchers paid, they change neither its paid seconds max(V, C) nor its committed
        // ones max(V, C + P).
        uint256 claimed = payment.claimedSeconds;
        uint32 paidByVoucher = payment.voucherSeconds;
        if (claimed + payment.pendingClaims + count > paidByVoucher) {
            revert JobEscrowNothingToAttribute(voucher.jobId, voucher.provider, paidByVoucher);
        }
        // the cast is safe: claimed + count <= voucher seconds, a uint32.
        payment.claimedSeconds = uint32(claimed + count);
    }

    /// @dev Pays the voucher's seconds beyond what the provider has been paid, as {redeem} does; false if none.
    function _payVoucherIfMore(
        JobRecord storage job,
        Voucher calldata voucher,
        Payment storage payment,
        uint32 allocated,
        bytes calldata allocationSig
    ) private returns (bool) {
        uint32 voucherSeconds = voucher.totalSeconds;
        uint32 before = _max(payment.voucherSeconds, payment.claimedSeconds);
        if (voucherSeconds <= before) return false;
        _checkAllocation(job, voucher.jobId, voucher.provider, voucherSeconds, allocated, allocationSig, payment, true);
        uint256 amount = _raiseVoucher(job, voucher.jobId, payment, voucherSeconds, before);
        _credit(voucher.provider, amount);
        emit VoucherRedeemed(voucher.jobId, voucher.provider, voucherSeconds, amount);
        return true;
    }

    /// @dev Marks each attributed segment paid by `provider`, dropping another provider's pending or disputed claim on
    /// it. The provider itself (not the client) may only drop a claim its voucher of `voucherSeconds` cannot be paid
    /// without, and only one that frees a reserved second.
    function _takeSegments(
        JobRecord storage job,
        bytes32 jobId,
        address provider,
        uint32 voucherSeconds,
        Payment storage payment,
        Attribution[] calldata attributions
    ) private {
        bool byClient = msg.sender == job.client;
        for (uint256 i = 0; i < attributions.length; ++i) {
            Attribution calldata attribution = attributions[i];
            Assignment calldata assignment = attribution.assignment;
            if (assignment.jobId != jobId || assignment.provider != provider) revert JobEscrowClaimMismatch();
            _verifyDelivery(assignment, attribution.coordinatorSig, attribution.delivery, attribution.providerSig);
            uint32 segment = assignment.segment;
            if (byClient) {
                _takeSegment(job, jobId, segment, provider);
            } else {
                // Needed: the voucher is still short before this drop, and the drop frees a reserved second.
                uint32 reserved = job.reservedSeconds;
                if (
                    !_voucherShort(job, payment, voucherSeconds) ||
                    _takeSegment(job, jobId, segment, provider) == address(0) ||
                    job.reservedSeconds == reserved
                ) revert JobEscrowAttributionNotNeeded(jobId, segment);
            }
        }
    }

    /// @dev Records `segment` as paid by `provider`'s vouchers; returns the other provider whose claim was dropped.
    function _takeSegment(
        JobRecord storage job,
        bytes32 jobId,
        uint32 segment,
        address provider
    ) private returns (address dropped) {
        Claim storage segmentClaim = _claims[jobId][segment];
        ClaimStatus status = segmentClaim.status;
        address claimant = segmentClaim.provider;
        // Not a paid segment, nor one this provider claimed itself: a pending claim of its own needs no attribution,
        // and a refused one means the arbiter found its copy bad, so its vouchers cannot be said to have paid for it.
        if (status == ClaimStatus.Paid || (status != ClaimStatus.None && claimant == provider)) {
            revert JobEscrowSegmentAlreadyClaimed(jobId, segment);
        }
        segmentClaim.provider = provider;
        segmentClaim.deadlineAt = 0;
        segmentClaim.status = ClaimStatus.Paid;
        if (status == ClaimStatus.Pending || status == ClaimStatus.Disputed) {
            // Another provider's copy of a segment the client paid by voucher: its claim is dropped without a slash
            // (its copy may be honest; it was simply not the one paid), its stake unlocked, the client's bond back.
            dropped = claimant;
            _refuseClaim(jobId, claimant);
            _registry.unlockStake(claimant, job.pricePerSecond);
            if (status == ClaimStatus.Disputed) _releaseBond(job, job.client);
        }
        emit SegmentAttributed(jobId, segment, provider, dropped);
    }

    /// @dev Whether a voucher of `voucherSeconds` for this provider cannot be redeemed now: it would pay more seconds
    /// than the job has available plus those the provider's own pending claims reserved ({_addPaidSecondsOverClaims}).
    function _voucherShort(JobRecord storage job, Payment storage payment, uint32 voucherSeconds) private view returns (bool) {
        uint32 before = _max(payment.voucherSeconds, payment.claimedSeconds);
        if (voucherSeconds <= before) return false;
        uint256 claimedAndPending = uint256(payment.claimedSeconds) + payment.pendingClaims;
        uint256 own = claimedAndPending > before ? claimedAndPending - before : 0;
        return voucherSeconds - before > _available(job) + own;
    }

    /// @dev Records a verified claim: the segment's claim, the stake it locks and the second it may reserve.
    function _recordClaim(bytes32 jobId, uint32 segment, address provider, uint64 disputableUntil) private {
        JobRecord storage job = _jobs[jobId];
        Claim storage segmentClaim = _claims[jobId][segment];
        ClaimStatus previous = segmentClaim.status;
        // A refused claim frees its segment, but only for another provider (the one that really rendered it).
        if (previous != ClaimStatus.None && (previous != ClaimStatus.Refused || segmentClaim.provider == provider)) {
            revert JobEscrowSegmentAlreadyClaimed(jobId, segment);
        }
        // The claim puts one second's worth of the provider's stake at risk until it is finalised.
        _lockStake(provider, job.pricePerSecond);
        Payment storage payment = _payments[jobId][provider];
        uint32 pending = payment.pendingClaims;
        // unchecked: the provider's finalised and pending claims are on distinct segments other than this one, so
        // claimed + pending + 1 <= totalSeconds, and the job's pending claims likewise; all fit a uint32.
        unchecked {
            // committed = max(voucher, claimed + pending) grows by one with this claim iff claimed + pending + 1 >
            // voucher: only then can the claim add a paid second, and it reserves one. Otherwise vouchers have paid
            // every second this claim could add, and it reserves (and will pay) nothing.
            if (payment.claimedSeconds + pending >= payment.voucherSeconds) {
                if (_available(job) == 0) revert JobEscrowSecondsExceeded(jobId, 1, 0);
                // paid + reserved < total (available > 0), so reserved + 1 fits a uint32.
                ++job.reservedSeconds;
            }
            payment.pendingClaims = pending + 1;
            ++job.pendingClaims;
        }
        segmentClaim.provider = provider;
        segmentClaim.deadlineAt = disputableUntil;
        segmentClaim.status = ClaimStatus.Pending;
    }

    /// @inheritdoc IJobEscrow
    function finalizeClaim(bytes32 jobId, uint32 segment) external nonReentrant {
        Claim storage segmentClaim = _claims[jobId][segment];
        ClaimStatus status = segmentClaim.status;
        if (status != ClaimStatus.Pending && status != ClaimStatus.Disputed) {
            revert JobEscrowClaimNotPending(jobId, segment, status);
        }
        uint64 until = segmentClaim.deadlineAt;
        if (block.timestamp <= until) revert JobEscrowClaimNotFinal(until);
        segmentClaim.status = ClaimStatus.Paid;
        address provider = segmentClaim.provider;
        JobRecord storage job = _jobs[jobId];
        uint256 amount = _payClaim(jobId, provider);
        // A dispute the arbiter left unresolved is the provider's: it gets the client's bond too.
        if (status == ClaimStatus.Disputed) amount += _releaseBond(job, provider);
        _registry.unlockStake(provider, job.pricePerSecond);
        emit ClaimFinalized(jobId, segment, provider, amount);
    }

    /// @inheritdoc IJobEscrow
    function dispute(bytes32 jobId, uint32 segment) external nonReentrant {
        JobRecord storage job = _jobs[jobId];
        _disputeOne(job, jobId, segment);
        uint256 bond = _termsOf(job).disputeBond;
        if (bond != 0) _token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @inheritdoc IJobEscrow
    function disputeMany(bytes32 jobId, uint32[] calldata segments) external nonReentrant {
        JobRecord storage job = _jobs[jobId];
        for (uint256 i = 0; i < segments.length; ++i) {
            _disputeOne(job, jobId, segments[i]);
        }
        uint256 bonds = uint256(_termsOf(job).disputeBond) * segments.length;
        if (bonds != 0) _token.safeTransferFrom(msg.sender, address(this), bonds);
    }

    /// @inheritdoc IJobEscrow
    function resolveDispute(bytes32 jobId, uint32 segment, bool pay, uint256 slashAmount) external nonReentrant {
        address arbiter = _policy.arbiter();
        if (msg.sender != arbiter) revert JobEscrowUnauthorized(msg.sender, arbiter);
        _resolveOne(jobId, segment, pay, slashAmount);
    }

    /// @inheritdoc IJobEscrow
    function resolveDisputes(
        bytes32 jobId,
        uint32[] calldata segments,
        bool[] calldata pays,
        uint256[] calldata slashAmounts
    ) external nonReentrant {
        address arbiter = _policy.arbiter();
        if (msg.sender != arbiter) revert JobEscrowUnauthorized(msg.sender, arbiter);
        if (segments.length != pays.length || segments.length != slashAmounts.length) {
            revert JobEscrowLengthMismatch(segments.length, pays.length);
        }
        for (uint256 i = 0; i < segments.length; ++i) {
            _resolveOne(jobId, segments[i], pays[i], slashAmounts[i]);
        }
    }

    // ---------------------------------------------------------------- refund

    /// @inheritdoc IJobEscrow
    function refund(bytes32 jobId) external nonReentrant {
        JobRecord storage job = _jobs[jobId];
        _requireLive(job, jobId);
        uint256 claimWindowEnd = _claimWindowEnd(job);
        if (block.timestamp <= claimWindowEnd) revert JobEscrowRefundTooEarly(claimWindowEnd);
        uint32 pendingClaims = job.pendingClaims;
        if (pendingClaims != 0) revert JobEscrowClaimsPending(jobId, pendingClaims);
        job.status = JobStatus.Refunded;
        (, uint256 unspent) = _creditFees(job, job.paidSeconds, job.totalSeconds);
        emit JobRefunded(jobId, unspent);
        _returnUnspent(job, unspent);
    }

    // -------------------------------------------------------------- withdraw

    /// @inheritdoc IJobEscrow
    function withdraw() external nonReentrant {
        _withdraw(msg.sender);
    }

    /// @inheritdoc IJobEscrow
    function withdrawFor(address account) external nonReentrant {
        if (account == address(0)) revert JobEscrowZeroAddress();
        _withdraw(account);
    }

    // ----------------------------------------------------------------- views

    /// @inheritdoc IJobEscrow
    function getJob(bytes32 jobId) external view returns (Job memory) {
        JobRecord storage job = _jobs[jobId];
        // An unknown job has policy version 0, whose terms are never set (versions start at 1): all zero.
        Terms storage terms = _termsOf(job);
        return
            Job({
                client: job.client,
                totalSeconds: job.totalSeconds,
                paidSeconds: job.paidSeconds,
                reservedSeconds: job.reservedSeconds,
                coordinator: job.coordinator,
                deadline: job.deadline,
                pendingClaims: job.pendingClaims,
                pricePerSecond: job.pricePerSecond,
                policyVersion: job.policyVersion,
                coordinatorFeeBps: job.coordinatorFeeBps,
                treasuryFeeBps: job.treasuryFeeBps,
                status: job.status,
                specHash: job.specHash,
                closesAt: job.closesAt,
                disputeWindow: terms.disputeWindow,
                claimWindow: terms.claimWindow,
                arbiterWindow: terms.arbiterWindow,
                disputeBond: terms.disputeBond
            });
    }

    /// @inheritdoc IJobEscrow
    function paidSeconds(bytes32 jobId, address provider) external view returns (uint32) {
        Payment storage payment = _payments[jobId][provider];
        return _max(payment.voucherSeconds, payment.claimedSeconds);
    }

    /// @inheritdoc IJobEscrow
    function getClaim(bytes32 jobId, uint32 segment) external view returns (Claim memory) {
        return _claims[jobId][segment];
    }

    /// @inheritdoc IJobEscrow
    function balanceOf(address account) external view returns (uint256) {
        uint256 balance = _accounts[account].balance;
        if (account == _policy.treasury()) balance += _treasuryBalance;
        return balance;
    }

    /// @notice The nonce the caller's next job id is made from (`jobId = keccak256(abi.encode(chainid, escrow, client,
    /// nonce))`).
    function nonces(address owner) external view returns (uint256) {
        return _accounts[owner].nonce;
    }

    /// @inheritdoc IJobEscrow
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IJobEscrow
    function policy() external view returns (address) {
        return address(_policy);
    }

    /// @inheritdoc IJobEscrow
    function registry() external view returns (address) {
        return address(_registry);
    }

    // -------------------------------------------------------------- internal

    function _openJob(
        bytes32 specHash,
        address coordinator,
        uint32 totalSeconds,
        uint128 pricePerSecond,
        uint64 deadline,
        uint64 policyVersion,
        bool fromDeposit
    ) private returns (bytes32 jobId) {
        if (specHash == bytes32(0)) revert JobEscrowZeroSpecHash();
        if (coordinator == address(0)) revert JobEscrowZeroAddress();
        if (totalSeconds == 0) revert JobEscrowZeroSeconds();
        if (pricePerSecond == 0) revert JobEscrowZeroPrice();
        if (deadline <= block.timestamp) revert JobEscrowDeadlineInPast(deadline, block.timestamp);
        uint256 fees = _checkPolicy(totalSeconds, policyVersion, deadline);

        Account storage account = _accounts[msg.sender];
        uint64 nonce = account.nonce;
        jobId = keccak256(abi.encode(block.chainid, address(this), msg.sender, uint256(nonce)));
        // unchecked: a nonce counts one account's jobs and cannot reach 2**64.
        unchecked {
            account.nonce = nonce + 1;
        }
        JobRecord storage job = _jobs[jobId];
        job.client = msg.sender;
        job.totalSeconds = totalSeconds;
        job.coordinator = coordinator;
        job.deadline = deadline;
        job.pricePerSecond = pricePerSecond;
        // the casts are safe: _checkPolicy keeps the version below 2**32 and packs the two fees in 32 bits.
        job.policyVersion = uint32(policyVersion);
        job.coordinatorFeeBps = uint16(fees >> 16);
        job.treasuryFeeBps = uint16(fees);
        job.status = JobStatus.Open;
        job.fromDeposit = fromDeposit;
        job.specHash = specHash;
        emit JobOpened(jobId, msg.sender, coordinator, specHash, totalSeconds, pricePerSecond, deadline, policyVersion);
        _takeDeposit(account, uint256(totalSeconds) * pricePerSecond, fromDeposit);
    }

    /// @dev Checks a new job against the current policy and fixes its version's terms; returns the fees,
    /// `coordinatorFeeBps << 16 | treasuryFeeBps`.
    function _checkPolicy(uint32 totalSeconds, uint64 policyVersion, uint64 deadline) private returns (uint256) {
        (uint64 currentVersion, uint32 maxSeconds, uint16 coordinatorFeeBps, uint16 treasuryFeeBps) = _policy
            .openJobTerms();
        if (policyVersion != currentVersion || policyVersion > type(uint32).max) {
            revert JobEscrowPolicyVersionMismatch(policyVersion, currentVersion);
        }
        if (totalSeconds > maxSeconds) revert JobEscrowTooManySeconds(totalSeconds, maxSeconds);
        _snapshotEscrowTerms(policyVersion, deadline);
        return (uint256(coordinatorFeeBps) << 16) | treasuryFeeBps;
    }

    /// @dev Takes a new job's deposit: from the caller's escrow account, or by a token transfer.
    function _takeDeposit(Account storage account, uint256 amount, bool fromDeposit) private {
        if (fromDeposit) {
            uint192 balance = account.balance;
            if (balance < amount) revert JobEscrowInsufficientDeposit(balance, amount);
            // unchecked: balance >= amount, so the difference fits a uint192.
            unchecked {
                account.balance = uint192(balance - amount);
            }
        } else {
            _token.safeTransferFrom(msg.sender, address(this), amount);
        }
    }

    /// @dev Returns a closing job's unspent deposit to its client: into its escrow account when the job was opened
    /// from it (so the next job can be opened from it too), else to its wallet.
    function _returnUnspent(JobRecord storage job, uint256 unspent) private {
        if (unspent == 0) return;
        address client = job.client;
        if (job.fromDeposit) _credit(client, unspent);
        else _token.safeTransfer(client, unspent);
    }

    /// @dev Whether every entry carries an acknowledgement (checked as each is paid).
    function _allAcknowledged(SettleEntry[] calldata entries) private pure returns (bool) {
        for (uint256 i = 0; i < entries.length; ++i) {
            if (entries[i].acknowledgementSig.length == 0) return false;
        }
        return true;
    }

    /// @dev Pays one acknowledged settle entry of a job with no claim pending, without writing its record; returns the
    /// seconds it added to the job's paid seconds.
    function _settleAcknowledged(
        JobRecord storage job,
        bytes32 jobId,
        SettleEntry calldata entry,
        uint256 net,
        bool records
    ) private returns (uint256 delta) {
        address provider = entry.provider;
        if (provider == address(0)) revert JobEscrowZeroAddress();
        uint32 totalSeconds = entry.totalSeconds;
        Payment storage payment = _payments[jobId][provider];
        _markSeen(payment, provider);
        _checkAllocation(job, jobId, provider, totalSeconds, entry.allocated, entry.allocationSig, payment, false);
        _checkSigner(
            _hashTypedDataV4(MessageHashes.hashAcknowledgement(jobId, provider, totalSeconds)),
            entry.acknowledgementSig,
            provider
        );
        // A job that has paid nothing yet has no payment record worth a cold read: every one is empty (vouchers and
        // finalised claims all add paid seconds; a recorded allocation comes only with a redeem).
        uint32 before = records ? _max(payment.voucherSeconds, payment.claimedSeconds) : 0;
        if (totalSeconds <= before) return 0;
        // unchecked: totalSeconds > before was checked just above.
        unchecked {
            delta = totalSeconds - before;
        }
        uint256 amount = delta * net;
        _credit(provider, amount);
        emit VoucherRedeemed(jobId, provider, totalSeconds, amount);
    }

    /// @dev Pays one settle entry as a redeem of a client voucher would (the client sends it), recording it.
    function _settleEntry(JobRecord storage job, bytes32 jobId, SettleEntry calldata entry) private {
        address provider = entry.provider;
        if (provider == address(0)) revert JobEscrowZeroAddress();
        uint32 totalSeconds = entry.totalSeconds;
        Payment storage payment = _payments[jobId][provider];
        _markSeen(payment, provider);
        _checkAllocation(job, jobId, provider, totalSeconds, entry.allocated, entry.allocationSig, payment, true);
        uint32 before = _max(payment.voucherSeconds, payment.claimedSeconds);
        if (totalSeconds <= before) return;
        uint256 amount = _raiseVoucher(job, jobId, payment, totalSeconds, before);
        _credit(provider, amount);
        emit VoucherRedeemed(jobId, provider, totalSeconds, amount);
    }

    /// @dev A provider listed twice in one settle would be paid twice from the same stale record. Mark the record's
    /// slot in transient storage, which is separate from storage.
    function _markSeen(Payment storage payment, address provider) private {
        bool seen;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            seen := tload(payment.slot)
            tstore(payment.slot, 1)
        }
        if (seen) revert JobEscrowDuplicateProvider(provider);
    }

    /// @dev Raises the provider's voucher seconds from `before` (its paid seconds, < `voucherSeconds`) to
    /// `voucherSeconds`; returns the amount to credit it.
    function _raiseVoucher(
        JobRecord storage job,
        bytes32 jobId,
        Payment storage payment,
        uint32 voucherSeconds,
        uint32 before
    ) private returns (uint256 amount) {
        uint32 pending = payment.pendingClaims;
        uint32 delta;
        // unchecked: voucherSeconds > before is the caller's check.
        unchecked {
            delta = voucherSeconds - before;
        }
        if (pending == 0) {
            _addPaidSeconds(job, jobId, delta);
        } else {
            _addPaidSecondsOverClaims(job, jobId, delta, before, uint256(payment.claimedSeconds) + pending);
        }
        payment.voucherSeconds = voucherSeconds;
        amount = delta * _netPerSecond(job);
    }

    /// @dev Reverts unless the coordinator allocated `provider` at least `totalSeconds` of the job: by the signed
    /// allocation given (recorded when it is above the one on record), or, with an empty signature, by the allocation
    /// on record from an earlier redeem. `record`: whether to keep the allocation (a cooperative settle that closes the
    /// job writes no record).
    function _checkAllocation(
        JobRecord storage job,
        bytes32 jobId,
        address provider,
        uint32 totalSeconds,
        uint32 allocated,
        bytes calldata allocationSig,
        Payment storage payment,
        bool record
    ) private {
        if (allocationSig.length == 0) {
            uint32 recorded = payment.allocated;
            if (totalSeconds > recorded) revert JobEscrowOverAllocation(provider, totalSeconds, recorded);
            return;
        }
        if (totalSeconds > allocated) revert JobEscrowOverAllocation(provider, totalSeconds, allocated);
        _checkSigner(
            _hashTypedDataV4(MessageHashes.hashAllocation(jobId, provider, allocated)),
            allocationSig,
            job.coordinator
        );
        if (record && allocated > payment.allocated) payment.allocated = allocated;
    }

    function _disputeOne(JobRecord storage job, bytes32 jobId, uint32 segment) private {
        _requireLive(job, jobId);
        address client = job.client;
        if (msg.sender != client) revert JobEscrowUnauthorized(msg.sender, client);
        Claim storage segmentClaim = _claims[jobId][segment];
        ClaimStatus status = segmentClaim.status;
        if (status != ClaimStatus.Pending) revert JobEscrowClaimNotPending(jobId, segment, status);
        uint64 disputableUntil = segmentClaim.deadlineAt;
        if (block.timestamp > disputableUntil) revert JobEscrowDisputeWindowClosed(disputableUntil);
        uint64 resolvableUntil = uint64(block.timestamp) + _termsOf(job).arbiterWindow;
        segmentClaim.status = ClaimStatus.Disputed;
        segmentClaim.deadlineAt = resolvableUntil;
        emit ClaimDisputed(jobId, segment, _termsOf(job).disputeBond, resolvableUntil);
    }

    function _resolveOne(bytes32 jobId, uint32 segment, bool pay, uint256 slashAmount) private {
        Claim storage segmentClaim = _claims[jobId][segment];
        ClaimStatus status = segmentClaim.status;
        if (status != ClaimStatus.Disputed) revert JobEscrowClaimNotDisputed(jobId, segment, status);
        uint64 resolvableUntil = segmentClaim.deadlineAt;
        if (block.timestamp > resolvableUntil) revert JobEscrowArbiterWindowClosed(resolvableUntil);
        address provider = segmentClaim.provider;
        JobRecord storage job = _jobs[jobId];
        _registry.unlockStake(provider, job.pricePerSecond);
        if (pay) {
            if (slashAmount != 0) revert JobEscrowSlashOnPay();
            segmentClaim.status = ClaimStatus.Paid;
            uint256 amount = _payClaim(jobId, provider) + _releaseBond(job, provider);
            emit ClaimFinalized(jobId, segment, provider, amount);
            emit DisputeResolved(jobId, segment, true, 0, 0);
        } else {
            segmentClaim.status = ClaimStatus.Refused;
            _refuseClaim(jobId, provider);
            address client = job.client;
            _releaseBond(job, client);
            uint256 slashed = slashAmount == 0 ? 0 : _registry.slash(provider, slashAmount, address(this));
            // Half of a slash compensates the client the provider tried to defraud; the rest is the treasury's.
            uint256 compensation = slashed / 2;
            if (compensation != 0) _credit(client, compensation);
            if (slashed != compensation) _treasuryBalance += slashed - compensation;
            emit DisputeResolved(jobId, segment, false, slashed, compensation);
        }
    }

    /// @dev Credits a disputed claim's bond to `to`; returns it.
    function _releaseBond(JobRecord storage job, address to) private returns (uint256 bond) {
        bond = _termsOf(job).disputeBond;
        if (bond != 0) _credit(to, bond);
    }

    function _lockStake(address provider, uint256 amount) private {
        if (!_registry.isActive(provider)) revert JobEscrowProviderNotActive(provider);
        _registry.lockStake(provider, amount);
    }

    /// @dev Checks the deadline's distance against the terms of the job's policy version, copying them from the policy
    /// when this is the first job under that version: the job's windows and bond are fixed from now on.
    function _snapshotEscrowTerms(uint64 policyVersion, uint64 deadline) private {
        Terms storage terms = _terms[policyVersion];
        uint256 maxDeadlineDistance;
        if (terms.set) {
            maxDeadlineDistance = terms.maxDeadlineDistance;
        } else {
            uint64 disputeWindow;
            uint64 claimWindow;
            uint64 arbiterWindow;
            uint64 maxDistance;
            uint256 disputeBond;
            (disputeWindow, claimWindow, arbiterWindow, maxDistance, disputeBond) = _policy.escrowTerms();
            maxDeadlineDistance = _window(maxDistance);
            // the cast is safe: the policy keeps the bond below 2**96.
            _terms[policyVersion] = Terms({
                disputeWindow: _window(disputeWindow),
                claimWindow: _window(claimWindow),
                arbiterWindow: _window(arbiterWindow),
                maxDeadlineDistance: uint32(maxDeadlineDistance),
                disputeBond: uint96(disputeBond),
                set: true
            });
        }
        uint256 latest = block.timestamp + maxDeadlineDistance;
        if (deadline > latest) revert JobEscrowDeadlineTooFar(deadline, latest);
    }

    /// @dev The escrow terms (windows, bond) the job was opened under.
    function _termsOf(JobRecord storage job) private view returns (Terms storage) {
        return _terms[job.policyVersion];
    }

    /// @dev Pays one finalised claim (a pending one): one more claimed second, which is a paid second only if it
    /// exceeds the provider's voucher seconds. Returns the amount credited.
    function _payClaim(bytes32 jobId, address provider) private returns (uint256 amount) {
        JobRecord storage job = _jobs[jobId];
        Payment storage payment = _payments[jobId][provider];
        uint32 claimed = payment.claimedSeconds;
        uint32 voucherSeconds = payment.voucherSeconds;
        // unchecked: the claim is pending, so pendingClaims >= 1 for the provider and the job, and claimed + 1 <=
        // claimed + pending <= totalSeconds.
        unchecked {
            payment.claimedSeconds = claimed + 1;
            --payment.pendingClaims;
            --job.pendingClaims;
            // committed = max(V, C + P) is unchanged (C + 1, P - 1); paid = max(V, C) grows by one iff C + 1 > V.
            // Then C >= V, so the provider's reservation committed - paid = (C + P) - C = P >= 1 (this claim), and
            // the job's reservedSeconds, the sum of such reservations, is >= 1: the paid second comes out of it.
            // paid + reserved is unchanged, and no other provider's seconds are touched. (Whichever of the
            // provider's pending claims is finalised first, the same holds: reservations belong to the provider,
            // not to a claim.)
            if (claimed >= voucherSeconds) {
                --job.reservedSeconds;
                ++job.paidSeconds;
                amount = _netPerSecond(job);
                _credit(provider, amount);
            }
        }
    }

    /// @dev Drops one refused (pending) claim of `provider`, releasing the second it could have added, if any.
    function _refuseClaim(bytes32 jobId, address provider) private {
        JobRecord storage job = _jobs[jobId];
        Payment storage payment = _payments[jobId][provider];
        uint32 pending = payment.pendingClaims;
        // unchecked: the claim is pending, so pending >= 1 for the provider and the job.
        unchecked {
            payment.pendingClaims = pending - 1;
            --job.pendingClaims;
            // committed = max(V, C + P) drops by one iff C + P > V; paid = max(V, C) is unchanged. Then the
            // provider's reservation max(V, C + P) - max(V, C) = C + P - max(V, C) >= 1 (C + P > V, and > C as
            // P >= 1), so the job's reservedSeconds is >= 1.
            if (payment.claimedSeconds + pending > payment.voucherSeconds) --job.reservedSeconds;
        }
    }

    function _addPaidSeconds(JobRecord storage job, bytes32 jobId, uint32 delta) private {
        uint256 available = _available(job);
        if (delta > available) revert JobEscrowSecondsExceeded(jobId, delta, available);
        // unchecked: delta <= totalSeconds - paid - reserved, so paid + delta fits a uint32.
        unchecked {
            job.paidSeconds += delta;
        }
    }

    /// @dev {_addPaidSeconds} for a provider with pending claims, whose reservation (`committed - before`, with
    /// `committed = max(voucher, claimed + pending)` and `before = max(voucher, claimed)` its paid seconds) counts
    /// towards the voucher: raising its voucher seconds by `delta` moves `min(delta, reservation)` reserved seconds to
    /// paid, and takes only the rest from the job's available seconds. Its claims then pay only beyond the voucher.
    function _addPaidSecondsOverClaims(
        JobRecord storage job,
        bytes32 jobId,
        uint32 delta,
        uint32 before,
        uint256 claimedAndPending
    ) private {
        // max(voucher, claimed + pending) - max(voucher, claimed): claimed + pending - before when that is positive
        // (voucher <= before), else 0.
        uint256 own = claimedAndPending > before ? claimedAndPending - before : 0;
        uint256 available = _available(job) + own;
        if (delta > available) revert JobEscrowSecondsExceeded(jobId, delta, available);
        uint256 released = delta < own ? delta : own;
        // unchecked: delta <= total - paid - (reserved - own), so paid + delta fits a uint32; released <= own <=
        // reserved, own being part of the job's reserved seconds.
        unchecked {
            job.paidSeconds += delta;
            job.reservedSeconds -= uint32(released);
        }
    }

    /// @dev Seconds of the job neither paid nor reserved by a pending claim.
    function _available(JobRecord storage job) private view returns (uint256) {
        return uint256(job.totalSeconds) - job.paidSeconds - job.reservedSeconds;
    }

    /// @dev The provider's share of one second: the price less both fees, each rounded down.
    function _netPerSecond(JobRecord storage job) private view returns (uint256) {
        uint256 price = job.pricePerSecond;
        // unchecked: price < 2**128 and bps <= 10_000 cannot overflow, and the two fees add up to at most price
        // because the policy keeps coordinatorFeeBps + treasuryFeeBps <= 10_000.
        unchecked {
            return price - (price * job.coordinatorFeeBps) / _MAX_BPS - (price * job.treasuryFeeBps) / _MAX_BPS;
        }
    }

    /// @dev Credits the fees of a closing job's `paid` seconds; returns what was spent and what is left to refund.
    function _creditFees(
        JobRecord storage job,
        uint256 paid,
        uint256 total
    ) private returns (uint256 spent, uint256 unspent) {
        uint256 price = job.pricePerSecond;
        // unchecked: paid <= total < 2**32 and price < 2**128, so no product overflows, and paid <= total.
        unchecked {
            uint256 coordinatorFee = paid * ((price * job.coordinatorFeeBps) / _MAX_BPS);
            uint256 treasuryFee = paid * ((price * job.treasuryFeeBps) / _MAX_BPS);
            if (coordinatorFee != 0) _credit(job.coordinator, coordinatorFee);
            if (treasuryFee != 0) _treasuryBalance += treasuryFee;
            spent = paid * price;
            unspent = (total - paid) * price;
        }
    }

    /// @dev Checks that a claim comes after its assignment's deadline (or once the job is closing) and within the
    /// job's claim window; returns when its dispute window closes.
    function _checkClaimTime(JobRecord storage job, uint64 assignmentDeadline) private view returns (uint64 disputableUntil) {
        if (job.status == JobStatus.Open && block.timestamp <= assignmentDeadline) {
            revert JobEscrowDeadlineNotReached(assignmentDeadline);
        }
        uint256 claimWindowEnd = _claimWindowEnd(job);
        if (block.timestamp > claimWindowEnd) revert JobEscrowClaimWindowClosed(claimWindowEnd);
        return uint64(block.timestamp) + _termsOf(job).disputeWindow;
    }

    /// @dev The end of the job's claim window: the challenge window's once settled, else deadline + claim window.
    function _claimWindowEnd(JobRecord storage job) private view returns (uint256) {
        if (job.status == JobStatus.Closing) return job.closesAt;
        return uint256(job.deadline) + _termsOf(job).claimWindow;
    }

    /// @dev A policy window as a job stores it (a window beyond 2**32 s, 136 years, is as good as forever).
    function _window(uint64 seconds_) private pure returns (uint32) {
        return seconds_ > type(uint32).max ? type(uint32).max : uint32(seconds_);
    }

    function _withdraw(address account) private {
        Account storage stored = _accounts[account];
        uint256 amount = stored.balance;
        if (amount != 0) stored.balance = 0;
        if (account == _policy.treasury()) {
            uint256 fees = _treasuryBalance;
            if (fees != 0) {
                _treasuryBalance = 0;
                amount += fees;
            }
        }
        if (amount == 0) revert JobEscrowNothingToWithdraw(account);
        emit Withdrawn(account, amount);
        _token.safeTransfer(account, amount);
    }

    /// @dev Credits `account`'s escrow balance (the cast reverts only past 2**192 base units, beyond any supply).
    function _credit(address account, uint256 amount) private {
        _accounts[account].balance += SafeCast.toUint192(amount);
    }

    /// @dev Reverts unless the job is open or closing (settled uncooperatively, its challenge window running).
    function _requireLive(JobRecord storage job, bytes32 jobId) private view {
        JobStatus status = job.status;
        if (status != JobStatus.Open && status != JobStatus.Closing) {
            if (status == JobStatus.None) revert JobEscrowUnknownJob(jobId);
            revert JobEscrowJobNotOpen(jobId, status);
        }
    }

    /// @dev Reverts unless `signature` is `expected`'s signature of `digest`: ECDSA for a key, ERC-1271 for a contract
    /// (a Safe, an ERC-4337 account). OpenZeppelin's checker refuses malleable (high-s) ECDSA signatures.
    function _checkSigner(bytes32 digest, bytes calldata signature, address expected) private view {
        if (!SignatureChecker.isValidSignatureNowCalldata(expected, digest, signature)) {
            revert JobEscrowInvalidSigner(expected);
        }
    }

    function _max(uint32 a, uint32 b) private pure returns (uint32) {
        return a > b ? a : b;
    }
}
