// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ContentPolicy} from "../../src/ContentPolicy.sol";
import {JobEscrow} from "../../src/JobEscrow.sol";
import {MeshToken} from "../../src/MeshToken.sol";
import {ProviderRegistry} from "../../src/ProviderRegistry.sol";
import {IContentPolicy} from "../../src/interfaces/IContentPolicy.sol";
import {IJobEscrow} from "../../src/interfaces/IJobEscrow.sol";
import {Voucher, Assignment, Delivery} from "../../src/types/Messages.sol";
import {CheatCodes} from "./Vm.sol";

/// @dev Deploys token, policy (owned by the test), escrow and registry, with keys for the actors, and signs the
/// protocol's messages the way a wallet would (EIP-712 digest computed here, independently of the contracts).
abstract contract EscrowBase is CheatCodes {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 jobId,address provider,uint32 seconds)");
    bytes32 internal constant ASSIGNMENT_TYPEHASH = keccak256(
        "Assignment(bytes32 jobId,uint32 segment,uint32 firstFrame,uint32 frameCount,address provider,uint64 deadline)"
    );
    bytes32 internal constant DELIVERY_TYPEHASH =
        keccak256("Delivery(bytes32 jobId,uint32 segment,bytes cid,bytes32 sha256,uint32 frameCount,bytes trace)");
    bytes32 internal constant ACK_TYPEHASH = keccak256("Acknowledgement(bytes32 jobId,address provider,uint32 seconds)");
    bytes32 internal constant ALLOCATION_TYPEHASH = keccak256("Allocation(bytes32 jobId,address provider,uint32 seconds)");

    uint256 internal constant MESH = 1e18;
    uint256 internal constant MIN_STAKE = 100 * MESH;
    bytes32 internal constant MODEL = keccak256("model");
    bytes32 internal constant SPEC = keccak256("spec");

    uint256 internal constant CLIENT_KEY = 0xC11E;
    uint256 internal constant COORDINATOR_KEY = 0xC00D;
    uint256 internal constant PROVIDER_KEY_BASE = 0x9000;

    MeshToken internal token;
    ContentPolicy internal policy;
    JobEscrow internal escrow;
    ProviderRegistry internal registry;
    address internal client;
    address internal coordinator;
    address internal treasury = address(0x7EA5);
    address[] internal providers;

    function _deploy(address arbiter, uint256 providerCount) internal {
        token = new MeshToken(address(this), 1e30);
        bytes32[] memory models = new bytes32[](1);
        models[0] = MODEL;
        policy = new ContentPolicy(
            address(this),
            IContentPolicy.PolicyParams({
                allowedModels: models,
                blockedTerms: new bytes32[](0),
                maxSeconds: 3600,
                maxWidth: 1920,
                maxHeight: 1080,
                maxFps: 60,
                minProviderStake: MIN_STAKE,
                coordinatorFeeBps: 500,
                treasuryFeeBps: 100,
                disputeWindow: 60,
                claimWindow: 120,
                arbiter: arbiter,
                treasury: treasury
            })
        );
        escrow = new JobEscrow(IERC20(address(token)), policy, 1 days);
        registry = ProviderRegistry(escrow.registry());
        client = vm.addr(CLIENT_KEY);
        coordinator = vm.addr(COORDINATOR_KEY);
        token.transfer(client, 1e27);
        vm.prank(client);
        token.approve(address(escrow), type(uint256).max);
        for (uint256 i = 0; i < providerCount; ++i) {
            address p = vm.addr(PROVIDER_KEY_BASE + i);
            providers.push(p);
            token.transfer(p, 10 * MIN_STAKE);
            vm.startPrank(p);
            token.approve(address(registry), type(uint256).max);
            registry.register(abi.encodePacked(bytes2(0x0024), uint16(i)), 1, models, 10 * MIN_STAKE);
            vm.stopPrank();
        }
    }

    function _domainSeparator(address verifyingContract) internal view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("Rendermesh"), keccak256("1"), block.chainid, verifyingContract)
        );
    }

    function _sign(uint256 key, address verifyingContract, bytes32 structHash) internal view returns (bytes memory) {
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", _domainSeparator(verifyingContract), structHash));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _voucher(
        bytes32 jobId,
        address provider,
        uint32 totalSeconds
    ) internal view returns (Voucher memory voucher, bytes memory signature) {
        voucher = Voucher(jobId, provider, totalSeconds);
        signature = _sign(
            CLIENT_KEY,
            address(escrow),
            keccak256(abi.encode(VOUCHER_TYPEHASH, jobId, provider, totalSeconds))
        );
    }

    function _claimArgs(
        bytes32 jobId,
        uint32 segment,
        uint256 providerIndex
    ) internal view returns (Assignment memory a, bytes memory coordinatorSig, Delivery memory d, bytes memory providerSig) {
        address provider = providers[providerIndex];
        // Its deadline has just passed, so the claim is open.
        a = Assignment(jobId, segment, segment * 12, 12, provider, uint64(block.timestamp) - 1);
        d = Delivery(
            jobId,
            segment,
            abi.encodePacked(bytes4(0x01551220), keccak256(abi.encode(segment))),
            keccak256("x"),
            12,
            ""
        );
        coordinatorSig = _sign(
            COORDINATOR_KEY,
            address(escrow),
            keccak256(
                abi.encode(ASSIGNMENT_TYPEHASH, a.jobId, a.segment, a.firstFrame, a.frameCount, a.provider, a.deadline)
            )
        );
        providerSig = _sign(
            PROVIDER_KEY_BASE + providerIndex,
            address(escrow),
            keccak256(
                abi.encode(
                    DELIVERY_TYPEHASH,
                    d.jobId,
                    d.segment,
                    keccak256(d.cid),
                    d.sha256,
                    d.frameCount,
                    keccak256(d.trace)
                )
            )
        );
    }

    /// @dev The coordinator's allocation of `seconds_` seconds of the job to `provider`.
    function _allocation(bytes32 jobId, address provider, uint32 seconds_) internal view returns (bytes memory) {
        return _sign(COORDINATOR_KEY, address(escrow), keccak256(abi.encode(ALLOCATION_TYPEHASH, jobId, provider, seconds_)));
    }

    /// @dev Redeems a voucher with an allocation of exactly its seconds.
    function _redeem(Voucher memory v, bytes memory sig) internal {
        escrow.redeem(v, sig, v.totalSeconds, _allocation(v.jobId, v.provider, v.totalSeconds));
    }

    /// @dev Settle entries for `list`, allocated their seconds and acknowledged by providers[index] when `ack`.
    function _entries(
        bytes32 jobId,
        address[] memory list,
        uint32[] memory secs,
        bool ack
    ) internal view returns (IJobEscrow.SettleEntry[] memory entries) {
        entries = new IJobEscrow.SettleEntry[](list.length);
        for (uint256 i = 0; i < list.length; ++i) {
            bytes memory ackSig;
            if (ack) {
                ackSig = _sign(
                    _providerKey(list[i]),
                    address(escrow),
                    keccak256(abi.encode(ACK_TYPEHASH, jobId, list[i], secs[i]))
                );
            }
            entries[i] = IJobEscrow.SettleEntry(list[i], secs[i], secs[i], _allocation(jobId, list[i], secs[i]), ackSig);
        }
    }

    function _providerKey(address provider) internal view returns (uint256) {
        for (uint256 i = 0; i < providers.length; ++i) {
            if (providers[i] == provider) return PROVIDER_KEY_BASE + i;
        }
        revert("not a provider");
    }

    function _open(uint32 totalSeconds, uint128 price, uint64 deadlineIn) internal returns (bytes32 jobId) {
        uint64 version = policy.version();
        vm.prank(client);
        jobId = escrow.openJob(SPEC, coordinator, totalSeconds, price, uint64(block.timestamp) + deadlineIn, version);
    }

    function _net(uint256 price, uint256 cBps, uint256 tBps) internal pure returns (uint256) {
        return price - (price * cBps) / 10_000 - (price * tBps) / 10_000;
    }
}
