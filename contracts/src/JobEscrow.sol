// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Private immutables follow OpenZeppelin's `_name` convention; comparisons are written as the rules read.
// solhint-disable immutable-vars-naming, gas-strict-inequalities

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IContentPolicy} from "./interfaces/IContentPolicy.sol";
import {IJobEscrow} from "./interfaces/IJobEscrow.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {Permits} from "./libraries/Permits.sol";
import {ProviderRegistry} from "./ProviderRegistry.sol";
import {Voucher, Assignment, Delivery} from "./types/Messages.sol";

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
    function redeem(Voucher calldata voucher, bytes calldata signature) external nonReentrant {
        bytes32 jobId = voucher.jobId;
        Job storage job = _jobs[jobId];
        _requireOpen(job, jobId);
        address provider = voucher.provider;
        if (provider == address(0)) revert JobEscrowZeroAddress();
        _checkSigner(_hashTypedDataV4(voucher.hash()), signature, job.client);

        Payment storage payment = _payments[jobId][provider];
        uint32 voucherSeconds = voucher.totalSeconds;
        uint32 claimed = payment.claimedSeconds;
        uint32 pending = payment.pendingClaims;
        uint32 before = _max(payment.voucherSeconds, claimed);
        if (voucherSeconds <= before) revert JobEscrowNothingOwed(jobId, provider, voucherSeconds, before);
        uint32 delta;
        // unchecked: voucherSeconds > before was checked just above.
        unchecked {
            delta = voucherSeconds - before;
        }
        if (pending == 0) {
            _addPaidSeconds(job, jobId, delta);
        } else {
            _addPaidSecondsOverClaims(job, jobId, delta, before, uint256(claimed) + pending);
        }
        payment.voucherSeconds = voucherSeconds;

        uint256 amount = delta * _netPerSecond(job);
        _balances[provider] += amount;
        emit VoucherRedeemed(jobId, provider, voucherSeconds, amount);
    }

    /// @inheritdoc IJobEscrow
    function settle(
        bytes32 jobId,
        address[] calldata providers,
        uint32[] calldata totalSeconds
    ) external nonReentrant {
        Job storage job = _jobs[jobId];
        _requireOpen(job, jobId);
        address client = job.client;
        if (msg.sender != client) revert JobEscrowUnauthorized(msg.sender, client);
        if (providers.length != totalSeconds.length) {
            revert JobEscrowLengthMismatch(providers.length, totalSeconds.length);
        }
        // No claim pending means nothing reserved either (each provider reserves at most its pending claims).
        uint32 pendingClaims = job.pendingClaims;
        if (pendingClaims != 0) revert JobEscrowClaimsPending(jobId, pendingClaims);

        uint256 net = _netPerSecond(job);
        uint256 paidBefore = job.paidSeconds;
        uint256 paid = paidBefore;
        for (uint256 i = 0; i < providers.length; ++i) {
            paid += _settleProvider(jobId, providers[i], totalSeconds[i], net);
        }
        uint256 total = job.totalSeconds;
        if (paid > total) revert JobEscrowSecondsExceeded(jobId, paid - paidBefore, total - paidBefore);

        // the cast is safe: paid <= total, a uint32.
        job.paidSeconds = uint32(paid);
        job.status = JobStatus.Settled;
        (uint256 spent, uint256 unspent) = _creditFees(job, paid, total);
        emit JobSettled(jobId, spent, unspent);
        if (unspent != 0) _token.safeTransfer(client, unspent);
    }

    // ----------------------------------------------------------------- claim

    /// @inheritdoc IJobEscrow
    function claim(
        Assignment calldata assignment,
        bytes calldata coordinatorSig,
        Delivery calldata delivery,
        bytes calldata providerSig
    ) external nonReentrant {
        bytes32 jobId = assignment.jobId;
        uint32 segment = assignment.segment;
        if (
            delivery.jobId != jobId || delivery.segment != segment || delivery.frameCount != assignment.frameCount
        ) revert JobEscrowClaimMismatch();
        Job storage job = _jobs[jobId];
        _requireOpen(job, jobId);
        uint32 total = job.totalSeconds;
        if (segment >= total) revert JobEscrowInvalidSegment(segment, total);
        uint64 disputableUntil = _checkClaimTime(job);

        _checkSigner(_hashTypedDataV4(assignment.hash()), coordinatorSig, job.coordinator);
        address provider = assignment.provider;
        _checkSigner(_hashTypedDataV4(delivery.hash()), providerSig, provider);
        if (!_registry.isActive(provider)) revert JobEscrowProviderNotActive(provider);

        Claim storage segmentClaim = _claims[jobId][segment];
        if (segmentClaim.status != ClaimStatus.None) revert JobEscrowSegmentAlreadyClaimed(jobId, segment);
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
        segmentClaim.disputableUntil = disputableUntil;
        segmentClaim.status = ClaimStatus.Pending;
        emit SegmentClaimed(jobId, segment, provider, delivery.cid, disputableUntil);
    }

    /// @inheritdoc IJobEscrow
    function finalizeClaim(bytes32 jobId, uint32 segment) external nonReentrant {
        Claim storage segmentClaim = _claims[jobId][segment];
        ClaimStatus status = segmentClaim.status;
        if (status != ClaimStatus.Pending) revert JobEscrowClaimNotPending(jobId, segment, status);
        uint64 disputableUntil = segmentClaim.disputableUntil;
        if (block.timestamp <= disputableUntil) revert JobEscrowDisputeWindowOpen(disputableUntil);
        segmentClaim.status = ClaimStatus.Paid;
        address provider = segmentClaim.provider;
        uint256 amount = _payClaim(jobId, provider);
        emit ClaimFinalized(jobId, segment, provider, amount);
    }

    /// @inheritdoc IJobEscrow
    function dispute(bytes32 jobId, uint32 segment) external nonReentrant {
        Job storage job = _jobs[jobId];
        _requireOpen(job, jobId);
        address client = job.client;
        if (msg.sender != client) revert JobEscrowUnauthorized(msg.sender, client);
        Claim storage segmentClaim = _claims[jobId][segment];
        ClaimStatus status = segmentClaim.status;
        if (status != ClaimStatus.Pending) revert JobEscrowClaimNotPending(jobId, segment, status);
        uint64 disputableUntil = segmentClaim.disputableUntil;
        if (block.timestamp > disputableUntil) revert JobEscrowDisputeWindowClosed(disputableUntil);
        segmentClaim.status = ClaimStatus.Disputed;
        emit ClaimDisputed(jobId, segment);
    }

    /// @inheritdoc IJobEscrow
    function resolveDispute(bytes32 jobId, uint32 segment, bool pay, uint256 slashAmount) external nonReentrant {
        address arbiter = _policy.arbiter();
        if (msg.sender != arbiter) revert JobEscrowUnauthorized(msg.sender, arbiter);
        Claim storage segmentClaim = _claims[jobId][segment];
        ClaimStatus status = segmentClaim.status;
        if (status != ClaimStatus.Disputed) revert JobEscrowClaimNotDisputed(jobId, segment, status);
        address provider = segmentClaim.provider;
        if (pay) {
            if (slashAmount != 0) revert JobEscrowSlashOnPay();
            segmentClaim.status = ClaimStatus.Paid;
            uint256 amount = _payClaim(jobId, provider);
            emit ClaimFinalized(jobId, segment, provider, amount);
            emit DisputeResolved(jobId, segment, true, 0);
        } else {
            segmentClaim.status = ClaimStatus.Refused;
            _refuseClaim(jobId, provider);
            uint256 slashed = slashAmount == 0 ? 0 : _registry.slash(provider, slashAmount, _policy.treasury());
            emit DisputeResolved(jobId, segment, false, slashed);
        }
    }

    // ---------------------------------------------------------------- refund

    /// @inheritdoc IJobEscrow
    function refund(bytes32 jobId) external nonReentrant {
        Job storage job = _jobs[jobId];
        _requireOpen(job, jobId);
        uint256 claimWindowEnd = uint256(job.deadline) + _policy.claimWindow();
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
            specHash: specHash
        });
        emit JobOpened(jobId, msg.sender, coordinator, specHash, totalSeconds, pricePerSecond, deadline, policyVersion);
        _token.safeTransferFrom(msg.sender, address(this), uint256(totalSeconds) * pricePerSecond);
    }

    /// @dev Pays one settle entry; returns the seconds it added to the job's paid seconds.
    function _settleProvider(
        bytes32 jobId,
        address provider,
        uint32 totalSeconds,
        uint256 net
    ) private returns (uint256 delta) {
        if (provider == address(0)) revert JobEscrowZeroAddress();
        Payment storage payment = _payments[jobId][provider];
        // A provider listed twice would be paid twice from the same stale record, as settle does not write it
        // (the job closes). Mark the record's slot in transient storage, which is separate from storage.
        bool seen;
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            seen := tload(payment.slot)
            tstore(payment.slot, 1)
        }
        if (seen) revert JobEscrowDuplicateProvider(provider);
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

    /// @dev Checks that a claim comes after the deadline and within the claim window; returns when its dispute
    /// window closes.
    function _checkClaimTime(Job storage job) private view returns (uint64 disputableUntil) {
        uint64 deadline = job.deadline;
        if (block.timestamp <= deadline) revert JobEscrowDeadlineNotReached(deadline);
        (uint64 disputeWindow, uint64 claimWindow) = _policy.windows();
        uint256 claimWindowEnd = uint256(deadline) + claimWindow;
        if (block.timestamp > claimWindowEnd) revert JobEscrowClaimWindowClosed(claimWindowEnd);
        return uint64(block.timestamp) + disputeWindow;
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

    function _requireOpen(Job storage job, bytes32 jobId) private view {
        JobStatus status = job.status;
        if (status != JobStatus.Open) {
            if (status == JobStatus.None) revert JobEscrowUnknownJob(jobId);
            revert JobEscrowJobNotOpen(jobId, status);
        }
    }

    /// @dev Reverts unless `signature` is a well-formed signature of `digest` by `expected`.
    function _checkSigner(bytes32 digest, bytes calldata signature, address expected) private pure {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || signer != expected) revert JobEscrowInvalidSigner(signer, expected);
    }

    function _max(uint32 a, uint32 b) private pure returns (uint32) {
        return a > b ? a : b;
    }
}
