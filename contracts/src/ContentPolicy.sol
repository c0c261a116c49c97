// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IContentPolicy} from "./interfaces/IContentPolicy.sol";

/// @title ContentPolicy
/// @notice The content policy of the network. Owned by the DAO's timelock, so only an executed proposal changes it.
contract ContentPolicy is IContentPolicy, Ownable {
    using EnumerableSet for EnumerableSet.Bytes32Set;

    uint16 private constant _MAX_BPS = 10_000;

    // One slot: everything `openJobTerms` returns plus the frame limits.
    uint64 private _version;
    uint32 private _maxSeconds;
    uint32 private _maxWidth;
    uint32 private _maxHeight;
    uint32 private _maxFps;
    uint16 private _coordinatorFeeBps;
    uint16 private _treasuryFeeBps;

    /// @dev One slot: the claim-path windows and the furthest deadline.
    struct Windows {
        uint64 dispute;
        uint64 claim;
        uint64 arbiter;
        uint64 maxDeadlineDistance;
    }

    Windows private _windows;
    uint256 private _disputeBond;

    address private _arbiter;
    address private _treasury;
    uint256 private _minProviderStake;

    EnumerableSet.Bytes32Set private _blockedTerms;
    EnumerableSet.Bytes32Set private _allowedModels;

    /// @param initialOwner The timelock.
    /// @param params The initial policy; every value is validated as by its setter and announced by its event.
    constructor(address initialOwner, PolicyParams memory params) Ownable(initialOwner) {
        for (uint256 i = 0; i < params.allowedModels.length; ++i) {
            _allowModel(params.allowedModels[i]);
        }
        if (params.blockedTerms.length != 0) _blockTerms(params.blockedTerms);
        _setLimits(params.maxSeconds, params.maxWidth, params.maxHeight, params.maxFps);
        _setFees(params.coordinatorFeeBps, params.treasuryFeeBps);
        _setMinProviderStake(params.minProviderStake);
        _setDisputeWindow(params.disputeWindow);
        _setClaimWindow(params.claimWindow);
        _setArbiter(params.arbiter);
        _setTreasury(params.treasury);
        // Not constructor parameters (existing deployments' scripts keep working): sensible defaults the DAO may change.
        _setArbiterWindow(3 days);
        _setMaxDeadlineDistance(30 days);
        _setDisputeBond(1e18);
        _version = 1;
        emit PolicyVersionChanged(1);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IContentPolicy
    function version() external view returns (uint64) {
        return _version;
    }

    /// @inheritdoc IContentPolicy
    function isBlockedTerm(bytes32 term) external view returns (bool) {
        return _blockedTerms.contains(term);
    }

    /// @inheritdoc IContentPolicy
    function blockedTerms() external view returns (bytes32[] memory) {
        return _blockedTerms.values();
    }

    /// @inheritdoc IContentPolicy
    function blockedTermCount() external view returns (uint256) {
        return _blockedTerms.length();
    }

    /// @inheritdoc IContentPolicy
    function isModelAllowed(bytes32 model) external view returns (bool) {
        return _allowedModels.contains(model);
    }

    /// @inheritdoc IContentPolicy
    function allowedModels() external view returns (bytes32[] memory) {
        return _allowedModels.values();
    }

    /// @inheritdoc IContentPolicy
    function limits() external view returns (uint32 maxSeconds, uint32 maxWidth, uint32 maxHeight, uint32 maxFps) {
        return (_maxSeconds, _maxWidth, _maxHeight, _maxFps);
    }

    /// @inheritdoc IContentPolicy
    function minProviderStake() external view returns (uint256) {
        return _minProviderStake;
    }

    /// @inheritdoc IContentPolicy
    function fees() external view returns (uint16 coordinatorFeeBps, uint16 treasuryFeeBps) {
        return (_coordinatorFeeBps, _treasuryFeeBps);
    }

    /// @inheritdoc IContentPolicy
    function disputeWindow() external view returns (uint64) {
        return _windows.dispute;
    }

    /// @inheritdoc IContentPolicy
    function claimWindow() external view returns (uint64) {
        return _windows.claim;
    }

    /// @inheritdoc IContentPolicy
    function arbiterWindow() external view returns (uint64) {
        return _windows.arbiter;
    }

    /// @inheritdoc IContentPolicy
    function maxDeadlineDistance() external view returns (uint64) {
        return _windows.maxDeadlineDistance;
    }

    /// @inheritdoc IContentPolicy
    function disputeBond() external view returns (uint256) {
        return _disputeBond;
    }

    /// @inheritdoc IContentPolicy
    function escrowTerms()
        external
        view
        returns (
            uint64 disputeSeconds,
            uint64 claimSeconds,
            uint64 arbiterSeconds,
            uint64 maxDeadlineSeconds,
            uint256 bond
        )
    {
        return (_windows.dispute, _windows.claim, _windows.arbiter, _windows.maxDeadlineDistance, _disputeBond);
    }

    /// @inheritdoc IContentPolicy
    function arbiter() external view returns (address) {
        return _arbiter;
    }

    /// @inheritdoc IContentPolicy
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc IContentPolicy
    function openJobTerms()
        external
        view
        returns (uint64 policyVersion, uint32 maxSeconds, uint16 coordinatorFeeBps, uint16 treasuryFeeBps)
    {
        return (_version, _maxSeconds, _coordinatorFeeBps, _treasuryFeeBps);
    }

    /// @inheritdoc IContentPolicy
    function windows() external view returns (uint64 disputeSeconds, uint64 claimSeconds) {
        return (_windows.dispute, _windows.claim);
    }

    // ---------------------------------------------------------- owner only

    /// @inheritdoc IContentPolicy
    function blockTerms(bytes32[] calldata terms) external onlyOwner {
        _blockTerms(terms);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function unblockTerms(bytes32[] calldata terms) external onlyOwner {
        if (terms.length == 0) revert ContentPolicyEmptyList();
        for (uint256 i = 0; i < terms.length; ++i) {
            if (!_blockedTerms.remove(terms[i])) revert ContentPolicyTermNotBlocked(terms[i]);
        }
        emit TermsUnblocked(terms);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function allowModel(bytes32 model) external onlyOwner {
        _allowModel(model);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function disallowModel(bytes32 model) external onlyOwner {
        if (!_allowedModels.remove(model)) revert ContentPolicyModelNotAllowed(model);
        emit ModelDisallowed(model);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function setLimits(uint32 maxSeconds, uint32 maxWidth, uint32 maxHeight, uint32 maxFps) external onlyOwner {
        _setLimits(maxSeconds, maxWidth, maxHeight, maxFps);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function setFees(uint16 coordinatorFeeBps, uint16 treasuryFeeBps) external onlyOwner {
        _setFees(coordinatorFeeBps, treasuryFeeBps);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function setMinProviderStake(uint256 minProviderStake_) external onlyOwner {
        _setMinProviderStake(minProviderStake_);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function setDisputeWindow(uint64 disputeWindow_) external onlyOwner {
        _setDisputeWindow(disputeWindow_);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function setClaimWindow(uint64 claimWindow_) external onlyOwner {
        _setClaimWindow(claimWindow_);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function setArbiterWindow(uint64 arbiterWindow_) external onlyOwner {
        _setArbiterWindow(arbiterWindow_);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function setMaxDeadlineDistance(uint64 maxDeadlineDistance_) external onlyOwner {
        _setMaxDeadlineDistance(maxDeadlineDistance_);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function setDisputeBond(uint256 disputeBond_) external onlyOwner {
        _setDisputeBond(disputeBond_);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function setArbiter(address arbiter_) external onlyOwner {
        _setArbiter(arbiter_);
        _bumpVersion();
    }

    /// @inheritdoc IContentPolicy
    function setTreasury(address treasury_) external onlyOwner {
        _setTreasury(treasury_);
        _bumpVersion();
    }

    // ------------------------------------------------------------ internal

    function _bumpVersion() private {
        uint64 next = _version + 1;
        _version = next;
        emit PolicyVersionChanged(next);
    }

    function _blockTerms(bytes32[] memory terms) private {
        if (terms.length == 0) revert ContentPolicyEmptyList();
        for (uint256 i = 0; i < terms.length; ++i) {
            if (!_blockedTerms.add(terms[i])) revert ContentPolicyTermAlreadyBlocked(terms[i]);
        }
        emit TermsBlocked(terms);
    }

    function _allowModel(bytes32 model) private {
        if (!_allowedModels.add(model)) revert ContentPolicyModelAlreadyAllowed(model);
        emit ModelAllowed(model);
    }

    function _setLimits(uint32 maxSeconds, uint32 maxWidth, uint32 maxHeight, uint32 maxFps) private {
        if (maxSeconds == 0 || maxWidth == 0 || maxHeight == 0 || maxFps == 0) revert ContentPolicyZeroLimit();
        _maxSeconds = maxSeconds;
        _maxWidth = maxWidth;
        _maxHeight = maxHeight;
        _maxFps = maxFps;
        emit LimitsChanged(maxSeconds, maxWidth, maxHeight, maxFps);
    }

    function _setFees(uint16 coordinatorFeeBps, uint16 treasuryFeeBps) private {
        if (uint256(coordinatorFeeBps) + treasuryFeeBps > _MAX_BPS) {
            revert ContentPolicyInvalidFees(coordinatorFeeBps, treasuryFeeBps);
        }
        _coordinatorFeeBps = coordinatorFeeBps;
        _treasuryFeeBps = treasuryFeeBps;
        emit FeesChanged(coordinatorFeeBps, treasuryFeeBps);
    }

    function _setMinProviderStake(uint256 minProviderStake_) private {
        if (minProviderStake_ == 0) revert ContentPolicyZeroValue();
        _minProviderStake = minProviderStake_;
        emit MinProviderStakeChanged(minProviderStake_);
    }

    function _setDisputeWindow(uint64 disputeWindow_) private {
        if (disputeWindow_ == 0) revert ContentPolicyZeroValue();
        _windows.dispute = disputeWindow_;
        emit DisputeWindowChanged(disputeWindow_);
    }

    function _setClaimWindow(uint64 claimWindow_) private {
        if (claimWindow_ == 0) revert ContentPolicyZeroValue();
        _windows.claim = claimWindow_;
        emit ClaimWindowChanged(claimWindow_);
    }

    function _setArbiterWindow(uint64 arbiterWindow_) private {
        if (arbiterWindow_ == 0) revert ContentPolicyZeroValue();
        _windows.arbiter = arbiterWindow_;
        emit ArbiterWindowChanged(arbiterWindow_);
    }

    function _setMaxDeadlineDistance(uint64 maxDeadlineDistance_) private {
        if (maxDeadlineDistance_ == 0) revert ContentPolicyZeroValue();
        _windows.maxDeadlineDistance = maxDeadlineDistance_;
        emit MaxDeadlineDistanceChanged(maxDeadlineDistance_);
    }

    function _setDisputeBond(uint256 disputeBond_) private {
        if (disputeBond_ > type(uint96).max) revert ContentPolicyBondTooLarge(disputeBond_);
        _disputeBond = disputeBond_;
        emit DisputeBondChanged(disputeBond_);
    }

    function _setArbiter(address arbiter_) private {
        if (arbiter_ == address(0)) revert ContentPolicyZeroAddress();
        _arbiter = arbiter_;
        emit ArbiterChanged(arbiter_);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert ContentPolicyZeroAddress();
        _treasury = treasury_;
        emit TreasuryChanged(treasury_);
    }
}
