// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Events index what logs are searched by (job, provider, segment, account), not amounts.
// solhint-disable gas-indexed-events

/// @title IProviderRegistry
/// @notice The on-chain directory of GPU providers: each binds its libp2p peer id to its address, stakes MESH, and
/// publishes its ask per second and the models it serves. Every change emits an event, so the directory can be
/// rebuilt from logs alone.
/// @dev Stake accounting, so logs can be replayed: `register` and `addStake` add to the active stake;
/// `requestUnstake(a)` moves `a` from the active stake to the pending amount and restarts the cooldown;
/// `withdrawStake` pays out the pending amount; `slash` takes from the active stake first, then from the pending
/// amount. A provider is active while registered with an active stake at or above the policy minimum.
interface IProviderRegistry {
    /// @notice The caller is already registered.
    error ProviderRegistryAlreadyRegistered(address provider);
    /// @notice The address is not registered.
    error ProviderRegistryNotRegistered(address provider);
    /// @notice The peer id is empty or longer than `MAX_PEER_ID_LENGTH` bytes.
    error ProviderRegistryInvalidPeerId();
    /// @notice Another provider (or the caller itself) already uses this peer id.
    error ProviderRegistryPeerIdTaken(bytes peerId, address owner);
    /// @notice The ask per second is zero.
    error ProviderRegistryZeroAsk();
    /// @notice The model list is empty or longer than `MAX_MODELS`.
    error ProviderRegistryInvalidModels(uint256 count);
    /// @notice An amount is zero.
    error ProviderRegistryZeroAmount();
    /// @notice The stake is below the policy minimum.
    error ProviderRegistryStakeTooLow(uint256 stake, uint256 minimum);
    /// @notice More is requested than the active stake holds.
    error ProviderRegistryInsufficientStake(uint256 stake, uint256 requested);
    /// @notice No unstake is pending.
    error ProviderRegistryNoUnstakePending(address provider);
    /// @notice The unstake cooldown has not passed yet.
    error ProviderRegistryUnstakeNotReady(uint64 availableAt);
    /// @notice `locked` of the stake backs open claims and cannot be unstaked until they are finalised.
    error ProviderRegistryStakeLocked(uint256 stake, uint256 locked, uint256 requested);
    /// @notice Only the escrow may slash.
    error ProviderRegistryUnauthorized(address caller);

    event ProviderRegistered(
        address indexed provider,
        bytes peerId,
        uint256 askPerSecond,
        bytes32[] models,
        uint256 stake
    );
    event ProviderUpdated(address indexed provider, uint256 askPerSecond, bytes32[] models);
    event PeerIdChanged(address indexed provider, bytes peerId);
    event StakeAdded(address indexed provider, uint256 amount, uint256 total);
    /// @param amount The amount of this request (added to any amount already pending).
    /// @param availableAt When the whole pending amount can be withdrawn.
    event UnstakeRequested(address indexed provider, uint256 amount, uint64 availableAt);
    event StakeWithdrawn(address indexed provider, uint256 amount);
    event ProviderSlashed(address indexed provider, uint256 amount, address to);
    /// @notice `amount` of the provider's stake now backs a claim (`locked` in total).
    event StakeLocked(address indexed provider, uint256 amount, uint256 locked);
    /// @notice `amount` of the provider's stake no longer backs a claim (`locked` left).
    event StakeUnlocked(address indexed provider, uint256 amount, uint256 locked);

    /// @notice Registers `msg.sender` (the transaction is its signature binding `peerId` to it) and pulls `stake`.
    /// @param peerId The libp2p peer id bytes (multihash); unique across providers.
    /// @param askPerSecond The lowest price per generated second it accepts (MESH base units).
    /// @param models The model hashes it serves.
    /// @param stake MESH to stake (approve first); must reach the policy minimum.
    function register(bytes calldata peerId, uint256 askPerSecond, bytes32[] calldata models, uint256 stake) external;

    /// @notice {register} with an ERC-2612 permit for the stake, in one transaction.
    function registerWithPermit(
        bytes calldata peerId,
        uint256 askPerSecond,
        bytes32[] calldata models,
        uint256 stake,
        uint256 permitDeadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Changes the caller's ask and model list.
    function update(uint256 askPerSecond, bytes32[] calldata models) external;

    /// @notice Binds a new peer id to the caller and frees the old one.
    function setPeerId(bytes calldata peerId) external;

    /// @notice Pulls `amount` more MESH into the caller's active stake.
    function addStake(uint256 amount) external;

    /// @notice Moves `amount` of the active stake to pending; it can be withdrawn after the cooldown. Stake locked
    /// behind open claims ({lockedStake}) cannot be moved.
    function requestUnstake(uint256 amount) external;

    /// @notice Sends the caller its pending amount once the cooldown has passed.
    function withdrawStake() external;

    /// @notice Takes up to `amount` of a provider's stake (active first, then pending) and sends it to `to`.
    /// @dev Only the escrow, when its arbiter refuses a disputed claim.
    /// @return slashed What was taken (less than `amount` if the provider had less).
    function slash(address provider, uint256 amount, address to) external returns (uint256 slashed);

    /// @notice Locks `amount` more of the provider's active stake behind a claim. Only the escrow.
    /// @dev Reverts {ProviderRegistryStakeTooLow} unless the active stake covers everything locked, this amount
    /// included, and the policy minimum: past the minimum, the stake a provider needs grows with the claims it backs.
    function lockStake(address provider, uint256 amount) external;

    /// @notice Releases up to `amount` of the provider's locked stake (its claim was finalised). Only the escrow.
    function unlockStake(address provider, uint256 amount) external;

    /// @notice The part of the provider's stake backing open claims.
    function lockedStake(address provider) external view returns (uint256);

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
        );

    /// @notice The provider bound to a peer id, or the zero address.
    function providerOfPeer(bytes calldata peerId) external view returns (address);

    /// @notice Registered with an active stake at or above the policy minimum.
    function isActive(address provider) external view returns (bool);

    // solhint-disable-next-line func-name-mixedcase
    function UNSTAKE_COOLDOWN() external view returns (uint64);

    /// @notice The escrow allowed to slash.
    function escrow() external view returns (address);

    function token() external view returns (address);

    function policy() external view returns (address);
}
