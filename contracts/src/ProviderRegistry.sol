// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Private immutables follow OpenZeppelin's `_name` convention; comparisons are written as the rules read.
// solhint-disable immutable-vars-naming, gas-strict-inequalities

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IContentPolicy} from "./interfaces/IContentPolicy.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";
import {Permits} from "./libraries/Permits.sol";

/// @title ProviderRegistry
/// @notice The directory of staked providers. Stake can only leave through the cooldown or the escrow's slash.
contract ProviderRegistry is IProviderRegistry, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Longest accepted peer id in bytes (an Ed25519 identity peer id is 38 bytes, RSA ones ~300).
    uint256 public constant MAX_PEER_ID_LENGTH = 512;
    /// @notice Most model hashes one provider may list.
    uint256 public constant MAX_MODELS = 32;

    struct ProviderInfo {
        bool registered;
        uint64 unstakeAvailableAt;
        uint256 stake;
        uint256 askPerSecond;
        uint256 unstakeAmount;
        bytes peerId;
        bytes32[] models;
    }

    IERC20 private immutable _token;
    IContentPolicy private immutable _policy;
    address private immutable _escrow;
    uint64 private immutable _unstakeCooldown;

    mapping(address provider => ProviderInfo) private _providers;
    mapping(bytes32 peerIdHash => address provider) private _peerOwners;
    mapping(address provider => uint256) private _locked;

    modifier onlyRegistered() {
        if (!_providers[msg.sender].registered) revert ProviderRegistryNotRegistered(msg.sender);
        _;
    }

    /// @param token_ MESH.
    /// @param policy_ Where the minimum stake is read.
    /// @param unstakeCooldown Seconds between `requestUnstake` and `withdrawStake` (7 days in production).
    /// @param escrow_ The only address allowed to slash (the `JobEscrow` that deploys this registry).
    constructor(IERC20 token_, IContentPolicy policy_, uint64 unstakeCooldown, address escrow_) {
        _token = token_;
        _policy = policy_;
        _unstakeCooldown = unstakeCooldown;
        _escrow = escrow_;
    }

    // ------------------------------------------------------------- actions

    /// @inheritdoc IProviderRegistry
    function register(
        bytes calldata peerId,
        uint256 askPerSecond,
        bytes32[] calldata models,
        uint256 stake
    ) external nonReentrant {
        _register(peerId, askPerSecond, models, stake);
    }

    /// @inheritdoc IProviderRegistry
    function registerWithPermit(
        bytes calldata peerId,
        uint256 askPerSecond,
        bytes32[] calldata models,
        uint256 stake,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant {
        Permits.tryPermit(address(_token), msg.sender, address(this), stake, permitDeadline, v, r, s);
        _register(peerId, askPerSecond, models, stake);
    }

    /// @inheritdoc IProviderRegistry
    function update(uint256 askPerSecond, bytes32[] calldata models) external onlyRegistered {
        _checkOffer(askPerSecond, models);
        ProviderInfo storage info = _providers[msg.sender];
        info.askPerSecond = askPerSecond;
        info.models = models;
        emit ProviderUpdated(msg.sender, askPerSecond, models);
    }

    /// @inheritdoc IProviderRegistry
    function setPeerId(bytes calldata peerId) external onlyRegistered {
        _claimPeerId(peerId);
        ProviderInfo storage info = _providers[msg.sender];
        delete _peerOwners[keccak256(info.peerId)];
        info.peerId = peerId;
        emit PeerIdChanged(msg.sender, peerId);
    }

    /// @inheritdoc IProviderRegistry
    function addStake(uint256 amount) external nonReentrant onlyRegistered {
        if (amount == 0) revert ProviderRegistryZeroAmount();
        ProviderInfo storage info = _providers[msg.sender];
        uint256 total = info.stake + amount;
        info.stake = total;
        emit StakeAdded(msg.sender, amount, total);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IProviderRegistry
    function requestUnstake(uint256 amount) external onlyRegistered {
        if (amount == 0) revert ProviderRegistryZeroAmount();
        ProviderInfo storage info = _providers[msg.sender];
        uint256 stake = info.stake;
        if (amount > stake) revert ProviderRegistryInsufficientStake(stake, amount);
        uint256 locked = _locked[msg.sender];
        // unchecked: amount <= stake was checked just above.
        unchecked {
            if (stake - amount < locked) revert ProviderRegistryStakeLocked(stake, locked, amount);
        }
        uint64 availableAt = uint64(block.timestamp) + _unstakeCooldown;
        // unchecked: amount <= stake was checked just above.
        unchecked {
            info.stake = stake - amount;
        }
        info.unstakeAmount += amount;
        info.unstakeAvailableAt = availableAt;
        emit UnstakeRequested(msg.sender, amount, availableAt);
    }

    /// @inheritdoc IProviderRegistry
    function withdrawStake() external nonReentrant {
        ProviderInfo storage info = _providers[msg.sender];
        uint256 amount = info.unstakeAmount;
        if (amount == 0) revert ProviderRegistryNoUnstakePending(msg.sender);
        uint64 availableAt = info.unstakeAvailableAt;
        if (block.timestamp < availableAt) revert ProviderRegistryUnstakeNotReady(availableAt);
        info.unstakeAmount = 0;
        info.unstakeAvailableAt = 0;
        emit StakeWithdrawn(msg.sender, amount);
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IProviderRegistry
    function slash(address provider, uint256 amount, address to) external nonReentrant returns (uint256 slashed) {
        if (msg.sender != _escrow) revert ProviderRegistryUnauthorized(msg.sender);
        if (amount == 0) revert ProviderRegistryZeroAmount();
        ProviderInfo storage info = _providers[provider];
        uint256 stake = info.stake;
        uint256 pending = info.unstakeAmount;
        // unchecked: each subtraction is guarded by the comparison that selects it.
        unchecked {
            if (amount <= stake) {
                info.stake = stake - amount;
                slashed = amount;
            } else {
                uint256 fromPending = amount - stake;
                if (fromPending > pending) fromPending = pending;
                info.stake = 0;
                info.unstakeAmount = pending - fromPending;
                slashed = stake + fromPending;
            }
        }
        emit ProviderSlashed(provider, slashed, to);
        if (slashed != 0) _token.safeTransfer(to, slashed);
    }

    /// @inheritdoc IProviderRegistry
    function lockStake(address provider, uint256 amount) external {
        if (msg.sender != _escrow) revert ProviderRegistryUnauthorized(msg.sender);
        ProviderInfo storage info = _providers[provider];
        if (!info.registered) revert ProviderRegistryNotRegistered(provider);
        uint256 locked = _locked[provider] + amount;
        // The stake must cover everything it backs, and never less than the policy minimum.
        uint256 minimum = _policy.minProviderStake();
        uint256 required = locked > minimum ? locked : minimum;
        uint256 stake = info.stake;
        if (stake < required) revert ProviderRegistryStakeTooLow(stake, required);
        _locked[provider] = locked;
        emit StakeLocked(provider, amount, locked);
    }

    /// @inheritdoc IProviderRegistry
    function unlockStake(address provider, uint256 amount) external {
        if (msg.sender != _escrow) revert ProviderRegistryUnauthorized(msg.sender);
        uint256 locked = _locked[provider];
        // A slash may have taken stake below what was locked; never release more than is locked.
        uint256 released = amount < locked ? amount : locked;
        // unchecked: released <= locked.
        unchecked {
            locked -= released;
        }
        _locked[provider] = locked;
        emit StakeUnlocked(provider, released, locked);
    }

    // --------------------------------------------------------------- views

    /// @inheritdoc IProviderRegistry
    function lockedStake(address provider) external view returns (uint256) {
        return _locked[provider];
    }

    /// @inheritdoc IProviderRegistry
    function getProvider(address provider)
        external
        view
        returns (
            bool registered,
            bytes memory peerId,
            uint256 stake,
            uint256 askPerSecond,
            bytes32[] memory models,
            uint256 unstakeAmount,
            uint64 unstakeAvailableAt
        )
    {
        ProviderInfo storage info = _providers[provider];
        return (
            info.registered,
            info.peerId,
            info.stake,
            info.askPerSecond,
            info.models,
            info.unstakeAmount,
            info.unstakeAvailableAt
        );
    }

    /// @inheritdoc IProviderRegistry
    function providerOfPeer(bytes calldata peerId) external view returns (address) {
        return _peerOwners[keccak256(peerId)];
    }

    /// @inheritdoc IProviderRegistry
    function isActive(address provider) external view returns (bool) {
        ProviderInfo storage info = _providers[provider];
        return info.registered && info.stake >= _policy.minProviderStake();
    }

    /// @inheritdoc IProviderRegistry
    // solhint-disable-next-line func-name-mixedcase
    function UNSTAKE_COOLDOWN() external view returns (uint64) {
        return _unstakeCooldown;
    }

    /// @inheritdoc IProviderRegistry
    function escrow() external view returns (address) {
        return _escrow;
    }

    /// @inheritdoc IProviderRegistry
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IProviderRegistry
    function policy() external view returns (address) {
        return address(_policy);
    }

    // ------------------------------------------------------------ internal

    function _register(bytes calldata peerId, uint256 askPerSecond, bytes32[] calldata models, uint256 stake) private {
        ProviderInfo storage info = _providers[msg.sender];
        if (info.registered) revert ProviderRegistryAlreadyRegistered(msg.sender);
        _checkOffer(askPerSecond, models);
        uint256 minimum = _policy.minProviderStake();
        if (stake < minimum) revert ProviderRegistryStakeTooLow(stake, minimum);
        _claimPeerId(peerId);
        info.registered = true;
        info.peerId = peerId;
        info.askPerSecond = askPerSecond;
        info.models = models;
        info.stake = stake;
        emit ProviderRegistered(msg.sender, peerId, askPerSecond, models, stake);
        _token.safeTransferFrom(msg.sender, address(this), stake);
    }

    function _claimPeerId(bytes calldata peerId) private {
        if (peerId.length == 0 || peerId.length > MAX_PEER_ID_LENGTH) revert ProviderRegistryInvalidPeerId();
        bytes32 key = keccak256(peerId);
        address owner = _peerOwners[key];
        if (owner != address(0)) revert ProviderRegistryPeerIdTaken(peerId, owner);
        _peerOwners[key] = msg.sender;
    }

    function _checkOffer(uint256 askPerSecond, bytes32[] calldata models) private pure {
        if (askPerSecond == 0) revert ProviderRegistryZeroAsk();
        if (models.length == 0 || models.length > MAX_MODELS) revert ProviderRegistryInvalidModels(models.length);
    }
}
