// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Events index what logs are searched by (job, provider, segment, account), not amounts.
// solhint-disable gas-indexed-events

/// @title IContentPolicy
/// @notice The network's content policy, owned by the DAO's timelock: what may be rendered (blocked terms, allowed
/// models), how big a job may be, what a provider must stake, the fees, and the windows and arbiter of the escrow's
/// claim and dispute path. Every change bumps {version}; a job records the version it was accepted under.
/// @dev A term hash is `keccak256(utf8(normalise(term)))`; a model hash is the sha256 of the model's ONNX bytes.
interface IContentPolicy {
    /// @notice Everything the policy holds, as given to the constructor.
    // solhint-disable-next-line gas-struct-packing
    struct PolicyParams {
        bytes32[] allowedModels;
        bytes32[] blockedTerms;
        uint32 maxSeconds;
        uint32 maxWidth;
        uint32 maxHeight;
        uint32 maxFps;
        uint256 minProviderStake;
        uint16 coordinatorFeeBps;
        uint16 treasuryFeeBps;
        uint64 disputeWindow;
        uint64 claimWindow;
        address arbiter;
        address treasury;
    }

    /// @notice The fee rates add up to more than 100 %.
    error ContentPolicyInvalidFees(uint16 coordinatorFeeBps, uint16 treasuryFeeBps);
    /// @notice A limit (seconds, width, height, fps) is zero.
    error ContentPolicyZeroLimit();
    /// @notice A value that must be positive (minimum stake, a window) is zero.
    error ContentPolicyZeroValue();
    /// @notice The dispute bond does not fit 96 bits.
    error ContentPolicyBondTooLarge(uint256 disputeBond);
    /// @notice The arbiter or treasury would be the zero address.
    error ContentPolicyZeroAddress();
    /// @notice A batch of terms is empty.
    error ContentPolicyEmptyList();
    /// @notice The term is blocked already.
    error ContentPolicyTermAlreadyBlocked(bytes32 term);
    /// @notice The term is not blocked.
    error ContentPolicyTermNotBlocked(bytes32 term);
    /// @notice The model is allowed already.
    error ContentPolicyModelAlreadyAllowed(bytes32 model);
    /// @notice The model is not allowed.
    error ContentPolicyModelNotAllowed(bytes32 model);

    event TermsBlocked(bytes32[] terms);
    event TermsUnblocked(bytes32[] terms);
    event ModelAllowed(bytes32 indexed model);
    event ModelDisallowed(bytes32 indexed model);
    event LimitsChanged(uint32 maxSeconds, uint32 maxWidth, uint32 maxHeight, uint32 maxFps);
    event FeesChanged(uint16 coordinatorFeeBps, uint16 treasuryFeeBps);
    event MinProviderStakeChanged(uint256 minProviderStake);
    event DisputeWindowChanged(uint64 disputeWindow);
    event ClaimWindowChanged(uint64 claimWindow);
    event ArbiterWindowChanged(uint64 arbiterWindow);
    event MaxDeadlineDistanceChanged(uint64 maxDeadlineDistance);
    event DisputeBondChanged(uint256 disputeBond);
    event ArbiterChanged(address indexed arbiter);
    event TreasuryChanged(address indexed treasury);
    /// @notice Emitted after every change, with the new version.
    event PolicyVersionChanged(uint64 version);

    /// @notice The policy version: 1 after deployment, bumped by every change.
    function version() external view returns (uint64);

    /// @notice Whether a (normalised, hashed) term is blocked.
    function isBlockedTerm(bytes32 term) external view returns (bool);

    /// @notice All blocked term hashes, in no particular order.
    function blockedTerms() external view returns (bytes32[] memory);

    /// @notice How many terms are blocked.
    function blockedTermCount() external view returns (uint256);

    /// @notice Whether jobs may use the model with this hash.
    function isModelAllowed(bytes32 model) external view returns (bool);

    /// @notice All allowed model hashes, in no particular order.
    function allowedModels() external view returns (bytes32[] memory);

    /// @notice The largest job: seconds, frame width and height in pixels, frames per second.
    function limits() external view returns (uint32 maxSeconds, uint32 maxWidth, uint32 maxHeight, uint32 maxFps);

    /// @notice The stake (MESH base units) a provider must keep in the registry to be active.
    function minProviderStake() external view returns (uint256);

    /// @notice Fee rates in basis points, taken from every payment to a provider.
    function fees() external view returns (uint16 coordinatorFeeBps, uint16 treasuryFeeBps);

    /// @notice Seconds a client has, after a claim, to dispute it.
    function disputeWindow() external view returns (uint64);

    /// @notice Seconds after a job's deadline during which providers may claim; the client's refund waits for it.
    function claimWindow() external view returns (uint64);

    /// @notice Who resolves disputed claims.
    function arbiter() external view returns (address);

    /// @notice Who receives the treasury fee (the timelock).
    function treasury() external view returns (address);

    /// @notice What the escrow reads when a job opens, in one call (one storage slot).
    function openJobTerms()
        external
        view
        returns (uint64 policyVersion, uint32 maxSeconds, uint16 coordinatorFeeBps, uint16 treasuryFeeBps);

    /// @notice Both claim-path windows in one call (one storage slot).
    function windows() external view returns (uint64 disputeSeconds, uint64 claimSeconds);

    /// @notice Seconds the arbiter has to resolve a dispute; past it anyone may finalise the claim in the provider's
    /// favour. Defaults to 3 days; snapshotted into a job when it opens.
    function arbiterWindow() external view returns (uint64);

    /// @notice The furthest a job's deadline may lie from its opening (defaults to 30 days), so a client cannot keep
    /// claims closed indefinitely.
    function maxDeadlineDistance() external view returns (uint64);

    /// @notice MESH a client deposits with each dispute (defaults to 1 MESH); returned when the claim is refused, paid
    /// to the provider otherwise. Snapshotted into a job when it opens.
    function disputeBond() external view returns (uint256);

    /// @notice What the escrow snapshots into a job when it opens, besides {openJobTerms}: the windows, the furthest
    /// deadline and the dispute bond.
    function escrowTerms()
        external
        view
        returns (
            uint64 disputeSeconds,
            uint64 claimSeconds,
            uint64 arbiterSeconds,
            uint64 maxDeadlineSeconds,
            uint256 bond
        );

    function setArbiterWindow(uint64 arbiterWindow) external;

    function setMaxDeadlineDistance(uint64 maxDeadlineDistance) external;

    /// @dev At most 2**96 - 1 (a job stores it in 96 bits).
    function setDisputeBond(uint256 disputeBond) external;

    function blockTerms(bytes32[] calldata terms) external;

    function unblockTerms(bytes32[] calldata terms) external;

    function allowModel(bytes32 model) external;

    function disallowModel(bytes32 model) external;

    function setLimits(uint32 maxSeconds, uint32 maxWidth, uint32 maxHeight, uint32 maxFps) external;

    function setFees(uint16 coordinatorFeeBps, uint16 treasuryFeeBps) external;

    function setMinProviderStake(uint256 minProviderStake) external;

    function setDisputeWindow(uint64 disputeWindow) external;

    function setClaimWindow(uint64 claimWindow) external;

    function setArbiter(address arbiter) external;

    function setTreasury(address treasury) external;
}
