// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Private immutables follow OpenZeppelin's `_name` convention; comparisons are written as the rules read.
// solhint-disable immutable-vars-naming, gas-strict-inequalities

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
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
contract JobEscrow is IJobEscrow, EIP712, Nonces, ReentrancyGuardTransient {
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
    struct Payment {
        uint32 voucherSeconds;
        uint32 claimedSeconds;
        uint32 pendingClaims;
    }

    IERC20 private immutable _token;
    IContentPolicy private immutable _policy;
    IProviderRegistry private immutable _registry;

    mapping(bytes32 jobId => Job) private _jobs;
    mapping(bytes32 jobId => mapping(address provider => Payment)) private _payments;
    mapping(bytes32 jobId => mapping(uint32 segment => Claim)) private _claims;
    mapping(address account => uint256) private _balances;
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
        return _openJob(specHash, coordinator, totalSeconds, pricePerSecond, deadline, policyVersion);
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
        return _openJob(specHash, coordinator, totalSeconds, pricePerSecond, deadline, policyVersion);
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
        Job storage job = _jobs[jobId];
        _requireLive(job, jobId);
        address provider = voucher.provider;
        if (provider == address(0)) revert JobEscrowZeroAddress();
        _checkSigner(_hashTypedDataV4(voucher.hash()), signature, job.client);
        uint32 voucherSeconds = voucher.totalSeconds;
        _checkAllocation(job, jobId, provider, voucherSeconds, allocated, allocationSig);

        Payment storage payment = _payments[jobId][provider];
        uint32 before = _max(payment.voucherSeconds, payment.claimedSeconds);
        if (voucherSeconds <= before) revert JobEscrowNothingOwed(jobId, provider, voucherSeconds, before);
        uint256 amount = _raiseVoucher(job, jobId, payment, voucherSeconds, before);
        _balances[provider] += amount;
        emit VoucherRedeemed(jobId, provider, voucherSeconds, amount);
    }

    /// @inheritdoc IJobEscrow
    function settle(bytes32 jobId, SettleEntry[] calldata entries) external nonReentrant {
        Job storage job = _jobs[jobId];
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
                paid += _settleAcknowledged(job, jobId, entries[i], net);
            }
            uint256 total = job.totalSeconds;
            if (paid > total) revert JobEscrowSecondsExceeded(jobId, paid - paidBefore, total - paidBefore);
            // the cast is safe: paid <= total, a uint32.
            job.paidSeconds = uint32(paid);
            if (paid == total) {
                job.status = JobStatus.Settled;
                (uint256 spent, uint256 unspent) = _creditFees(job, paid, total);
                emit JobSettled(jobId, spent, unspent);
                if (unspent != 0) _token.safeTransfer(client, unspent);
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
        uint64 closesAt = uint64(block.timestamp) + job.claimWindow;
        job.closesAt = closesAt;
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
        bytes32 jobId = assignment.jobId;
        uint32 segment = assignment.segment;
        if (
            delivery.jobId != jobId || delivery.segment != segment || delivery.frameCount != assignment.frameCount
        ) revert JobEscrowClaimMismatch();
        Job storage job = _jobs[jobId];
        _requireLive(job, jobId);
        uint32 total = job.totalSeconds;
        if (segment >= total) revert JobEscrowInvalidSegment(segment, total);
        disputableUntil = _checkClaimTime(job, assignment.deadline);
        _checkSigner(_hashTypedDataV4(assignment.hash()), coordinatorSig, job.coordinator);
        _checkSigner(_hashTypedDataV4(delivery.hash()), providerSig, assignment.provider);
    }

    /// @dev Records a verified claim: the segment's claim, the stake it locks and the second it may reserve.
    function _recordClaim(bytes32 jobId, uint32 segment, address provider, uint64 disputableUntil) private {
        Job storage job = _jobs[jobId];
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
        Job storage job = _jobs[jobId];
        uint256 amount = _payClaim(jobId, provider);
        // A dispute the arbiter left unresolved is the provider's: it gets the client's bond too.
        if (status == ClaimStatus.Disputed) amount += _releaseBond(job, provider);
        _registry.unlockStake(provider, job.pricePerSecond);
        emit ClaimFinalized(jobId, segment, provider, amount);
    }

    /// @inheritdoc IJobEscrow
    function dispute(bytes32 jobId, uint32 segment) external nonReentrant {
        Job storage job = _jobs[jobId];
        _disputeOne(job, jobId, segment);
        uint256 bond = job.disputeBond;
        if (bond != 0) _token.safeTransferFrom(msg.sender, address(this), bond);
    }

    /// @inheritdoc IJobEscrow
    function disputeMany(bytes32 jobId, uint32[] calldata segments) external nonReentrant {
        Job storage job = _jobs[jobId];
        for (uint256 i = 0; i < segments.length; ++i) {
            _disputeOne(job, jobId, segments[i]);
        }
        uint256 bonds = uint256(job.disputeBond) * segments.length;
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
        Job storage job = _jobs[jobId];
        _requireLive(job, jobId);
        uint256 claimWindowEnd = _claimWindowEnd(job);
        if (block.timestamp <= claimWindowEnd) revert JobEscrowRefundTooEarly(claimWindowEnd);
        uint32 pendingClaims = job.pendingClaims;
        if (pendingClaims != 0) revert JobEscrowClaimsPending(jobId, pendingClaims);
        job.status = JobStatus.Refunded;
        (, uint256 unspent) = _creditFees(job, job.paidSeconds, job.totalSeconds);
        emit JobRefunded(jobId, unspent);
        if (unspent != 0) _token.safeTransfer(job.client, unspent);
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
        return _jobs[jobId];
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
        uint256 balance = _balances[account];
        if (account == _policy.treasury()) balance += _treasuryBalance;
        return balance;
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
        uint64 policyVersion
    ) private returns (bytes32 jobId) {
        if (specHash == bytes32(0)) revert JobEscrowZeroSpecHash();
        if (coordinator == address(0)) revert JobEscrowZeroAddress();
        if (totalSeconds == 0) revert JobEscrowZeroSeconds();
        if (pricePerSecond == 0) revert JobEscrowZeroPrice();
        if (deadline <= block.timestamp) revert JobEscrowDeadlineInPast(deadline, block.timestamp);
        (uint64 currentVersion, uint32 maxSeconds, uint16 coordinatorFeeBps, uint16 treasuryFeeBps) = _policy
            .openJobTerms();
        if (policyVersion != currentVersion) revert JobEscrowPolicyVersionMismatch(policyVersion, currentVersion);
        if (totalSeconds > maxSeconds) revert JobEscrowTooManySeconds(totalSeconds, maxSeconds);

        jobId = keccak256(abi.encode(block.chainid, address(this), msg.sender, _useNonce(msg.sender)));
        _jobs[jobId] = Job({
            client: msg.sender,
            totalSeconds: totalSeconds,
            paidSeconds: 0,
            reservedSeconds: 0,
            coordinator: coordinator,
            deadline: deadline,
            pendingClaims: 0,
            pricePerSecond: pricePerSecond,
            policyVersion: policyVersion,
            coordinatorFeeBps: coordinatorFeeBps,
            treasuryFeeBps: treasuryFeeBps,
            status: JobStatus.Open,
            specHash: specHash,
            closesAt: 0,
            disputeWindow: 0,
            claimWindow: 0,
            arbiterWindow: 0,
            disputeBond: 0
        });
        _snapshotEscrowTerms(_jobs[jobId], deadline);
        emit JobOpened(jobId, msg.sender, coordinator, specHash, totalSeconds, pricePerSecond, deadline, policyVersion);
        _token.safeTransferFrom(msg.sender, address(this), uint256(totalSeconds) * pricePerSecond);
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
        Job storage job,
        bytes32 jobId,
        SettleEntry calldata entry,
        uint256 net
    ) private returns (uint256 delta) {
        address provider = entry.provider;
        if (provider == address(0)) revert JobEscrowZeroAddress();
        uint32 totalSeconds = entry.totalSeconds;
        _checkAllocation(job, jobId, provider, totalSeconds, entry.allocated, entry.allocationSig);
        _checkSigner(
            _hashTypedDataV4(MessageHashes.hashAcknowledgement(jobId, provider, totalSeconds)),
            entry.acknowledgementSig,
            provider
        );
        Payment storage payment = _payments[jobId][provider];
        _markSeen(payment, provider);
        uint32 before = _max(payment.voucherSeconds, payment.claimedSeconds);
        if (totalSeconds <= before) return 0;
        // unchecked: totalSeconds > before was checked just above.
        unchecked {
            delta = totalSeconds - before;
        }
        uint256 amount = delta * net;
        _balances[provider] += amount;
        emit VoucherRedeemed(jobId, provider, totalSeconds, amount);
    }

    /// @dev Pays one settle entry as a redeem of a client voucher would (the client sends it), recording it.
    function _settleEntry(Job storage job, bytes32 jobId, SettleEntry calldata entry) private {
        address provider = entry.provider;
        if (provider == address(0)) revert JobEscrowZeroAddress();
        uint32 totalSeconds = entry.totalSeconds;
        _checkAllocation(job, jobId, provider, totalSeconds, entry.allocated, entry.allocationSig);
        Payment storage payment = _payments[jobId][provider];
        _markSeen(payment, provider);
        uint32 before = _max(payment.voucherSeconds, payment.claimedSeconds);
        if (totalSeconds <= before) return;
        uint256 amount = _raiseVoucher(job, jobId, payment, totalSeconds, before);
        _balances[provider] += amount;
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
        Job storage job,
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

    /// @dev Reverts unless the coordinator allocated `provider` at least `totalSeconds` of the job.
    function _checkAllocation(
        Job storage job,
        bytes32 jobId,
        address provider,
        uint32 totalSeconds,
        uint32 allocated,
        bytes calldata allocationSig
    ) private view {
        if (totalSeconds > allocated) revert JobEscrowOverAllocation(provider, totalSeconds, allocated);
        _checkSigner(
            _hashTypedDataV4(MessageHashes.hashAllocation(jobId, provider, allocated)),
            allocationSig,
            job.coordinator
        );
    }

    function _disputeOne(Job storage job, bytes32 jobId, uint32 segment) private {
        _requireLive(job, jobId);
        address client = job.client;
        if (msg.sender != client) revert JobEscrowUnauthorized(msg.sender, client);
        Claim storage segmentClaim = _claims[jobId][segment];
        ClaimStatus status = segmentClaim.status;
        if (status != ClaimStatus.Pending) revert JobEscrowClaimNotPending(jobId, segment, status);
        uint64 disputableUntil = segmentClaim.deadlineAt;
        if (block.timestamp > disputableUntil) revert JobEscrowDisputeWindowClosed(disputableUntil);
        uint64 resolvableUntil = uint64(block.timestamp) + job.arbiterWindow;
        segmentClaim.status = ClaimStatus.Disputed;
        segmentClaim.deadlineAt = resolvableUntil;
        emit ClaimDisputed(jobId, segment, job.disputeBond, resolvableUntil);
    }

    function _resolveOne(bytes32 jobId, uint32 segment, bool pay, uint256 slashAmount) private {
        Claim storage segmentClaim = _claims[jobId][segment];
        ClaimStatus status = segmentClaim.status;
        if (status != ClaimStatus.Disputed) revert JobEscrowClaimNotDisputed(jobId, segment, status);
        uint64 resolvableUntil = segmentClaim.deadlineAt;
        if (block.timestamp > resolvableUntil) revert JobEscrowArbiterWindowClosed(resolvableUntil);
        address provider = segmentClaim.provider;
        Job storage job = _jobs[jobId];
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
            if (compensation != 0) _balances[client] += compensation;
            if (slashed != compensation) _treasuryBalance += slashed - compensation;
            emit DisputeResolved(jobId, segment, false, slashed, compensation);
        }
    }

    /// @dev Credits a disputed claim's bond to `to`; returns it.
    function _releaseBond(Job storage job, address to) private returns (uint256 bond) {
        bond = job.disputeBond;
        if (bond != 0) _balances[to] += bond;
    }

    function _lockStake(address provider, uint256 amount) private {
        if (!_registry.isActive(provider)) revert JobEscrowProviderNotActive(provider);
        _registry.lockStake(provider, amount);
    }

    /// @dev Checks the deadline's distance and fixes the policy's windows and bond for the job.
    function _snapshotEscrowTerms(Job storage job, uint64 deadline) private {
        (
            uint64 disputeWindow,
            uint64 claimWindow,
            uint64 arbiterWindow,
            uint64 maxDeadlineDistance,
            uint256 disputeBond
        ) = _policy.escrowTerms();
        uint256 latest = block.timestamp + maxDeadlineDistance;
        if (deadline > latest) revert JobEscrowDeadlineTooFar(deadline, latest);
        job.disputeWindow = _window(disputeWindow);
        job.claimWindow = _window(claimWindow);
        job.arbiterWindow = _window(arbiterWindow);
        // the cast is safe: the policy keeps the bond below 2**96.
        job.disputeBond = uint96(disputeBond);
    }

    /// @dev Pays one finalised claim (a pending one): one more claimed second, which is a paid second only if it
    /// exceeds the provider's voucher seconds. Returns the amount credited.
    function _payClaim(bytes32 jobId, address provider) private returns (uint256 amount) {
        Job storage job = _jobs[jobId];
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
                _balances[provider] += amount;
            }
        }
    }

    /// @dev Drops one refused (pending) claim of `provider`, releasing the second it could have added, if any.
    function _refuseClaim(bytes32 jobId, address provider) private {
        Job storage job = _jobs[jobId];
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

    function _addPaidSeconds(Job storage job, bytes32 jobId, uint32 delta) private {
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
        Job storage job,
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
    function _available(Job storage job) private view returns (uint256) {
        return uint256(job.totalSeconds) - job.paidSeconds - job.reservedSeconds;
    }

    /// @dev The provider's share of one second: the price less both fees, each rounded down.
    function _netPerSecond(Job storage job) private view returns (uint256) {
        uint256 price = job.pricePerSecond;
        // unchecked: price < 2**128 and bps <= 10_000 cannot overflow, and the two fees add up to at most price
        // because the policy keeps coordinatorFeeBps + treasuryFeeBps <= 10_000.
        unchecked {
            return price - (price * job.coordinatorFeeBps) / _MAX_BPS - (price * job.treasuryFeeBps) / _MAX_BPS;
        }
    }

    /// @dev Credits the fees of a closing job's `paid` seconds; returns what was spent and what is left to refund.
    function _creditFees(
        Job storage job,
        uint256 paid,
        uint256 total
    ) private returns (uint256 spent, uint256 unspent) {
        uint256 price = job.pricePerSecond;
        // unchecked: paid <= total < 2**32 and price < 2**128, so no product overflows, and paid <= total.
        unchecked {
            uint256 coordinatorFee = paid * ((price * job.coordinatorFeeBps) / _MAX_BPS);
            uint256 treasuryFee = paid * ((price * job.treasuryFeeBps) / _MAX_BPS);
            if (coordinatorFee != 0) _balances[job.coordinator] += coordinatorFee;
            if (treasuryFee != 0) _treasuryBalance += treasuryFee;
            spent = paid * price;
            unspent = (total - paid) * price;
        }
    }

    /// @dev Checks that a claim comes after its assignment's deadline (or once the job is closing) and within the
    /// job's claim window; returns when its dispute window closes.
    function _checkClaimTime(Job storage job, uint64 assignmentDeadline) private view returns (uint64 disputableUntil) {
        if (job.status == JobStatus.Open && block.timestamp <= assignmentDeadline) {
            revert JobEscrowDeadlineNotReached(assignmentDeadline);
        }
        uint256 claimWindowEnd = _claimWindowEnd(job);
        if (block.timestamp > claimWindowEnd) revert JobEscrowClaimWindowClosed(claimWindowEnd);
        return uint64(block.timestamp) + job.disputeWindow;
    }

    /// @dev The end of the job's claim window: the challenge window's once settled, else deadline + claim window.
    function _claimWindowEnd(Job storage job) private view returns (uint256) {
        if (job.status == JobStatus.Closing) return job.closesAt;
        return uint256(job.deadline) + job.claimWindow;
    }

    /// @dev A policy window as a job stores it (a window beyond 2**32 s, 136 years, is as good as forever).
    function _window(uint64 seconds_) private pure returns (uint32) {
        return seconds_ > type(uint32).max ? type(uint32).max : uint32(seconds_);
    }

    function _withdraw(address account) private {
        uint256 amount = _balances[account];
        if (amount != 0) _balances[account] = 0;
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

    /// @dev Reverts unless the job is open or closing (settled uncooperatively, its challenge window running).
    function _requireLive(Job storage job, bytes32 jobId) private view {
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
