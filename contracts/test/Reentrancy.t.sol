// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ContentPolicy} from "../src/ContentPolicy.sol";
import {JobEscrow} from "../src/JobEscrow.sol";
import {ProviderRegistry} from "../src/ProviderRegistry.sol";
import {IContentPolicy} from "../src/interfaces/IContentPolicy.sol";
import {IJobEscrow} from "../src/interfaces/IJobEscrow.sol";
import {ReentrantReceiver, ReentrantToken} from "./mocks/ReentrantToken.sol";
import {CheatCodes} from "./utils/Vm.sol";

/// @dev A malicious token or a malicious receiver cannot re-enter the escrow or the registry.
contract ReentrancyTest is CheatCodes {
    bytes4 internal constant REENTRANT = bytes4(keccak256("ReentrancyGuardReentrantCall()"));
    bytes32 internal constant MODEL = keccak256("model");

    ReentrantToken internal token;
    ContentPolicy internal policy;
    JobEscrow internal escrow;
    ProviderRegistry internal registry;
    ReentrantReceiver internal attacker;
    uint256 internal constant COORDINATOR_KEY = 0xC00D;
    address internal coordinator;

    function setUp() public {
        coordinator = vm.addr(COORDINATOR_KEY);
        token = new ReentrantToken(address(this), 1e30);
        bytes32[] memory models = new bytes32[](1);
        models[0] = MODEL;
        policy = new ContentPolicy(
            address(this),
            IContentPolicy.PolicyParams({
                allowedModels: models,
                blockedTerms: new bytes32[](0),
                maxSeconds: 600,
                maxWidth: 64,
                maxHeight: 64,
                maxFps: 24,
                minProviderStake: 1e18,
                coordinatorFeeBps: 500,
                treasuryFeeBps: 100,
                disputeWindow: 60,
                claimWindow: 120,
                arbiter: address(this),
                treasury: address(0x7EA5)
            })
        );
        escrow = new JobEscrow(IERC20(address(token)), policy, 60);
        registry = ProviderRegistry(escrow.registry());
        attacker = new ReentrantReceiver();
        token.approve(address(escrow), type(uint256).max);
    }

    /// This contract is the client; `attacker` is paid 10 seconds.
    function _paidJob() internal returns (bytes32 jobId) {
        jobId = escrow.openJob(keccak256("spec"), coordinator, 20, 1e18, uint64(block.timestamp + 100), 1);
        address[] memory list = new address[](1);
        list[0] = address(attacker);
        uint32[] memory secs = new uint32[](1);
        secs[0] = 10;
        IJobEscrow.SettleEntry[] memory entries = new IJobEscrow.SettleEntry[](1);
        entries[0] = IJobEscrow.SettleEntry(address(attacker), 10, 10, _allocation(jobId, address(attacker), 10), "");
        escrow.settle(jobId, entries);
    }

    /// The coordinator's EIP-712 allocation of `seconds_` to `provider`.
    function _allocation(bytes32 jobId, address provider, uint32 seconds_) internal view returns (bytes memory) {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Rendermesh"),
                keccak256("1"),
                block.chainid,
                address(escrow)
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(keccak256("Allocation(bytes32 jobId,address provider,uint32 seconds)"), jobId, provider, seconds_)
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(COORDINATOR_KEY, keccak256(abi.encodePacked("\x19\x01", domain, structHash)));
        return abi.encodePacked(r, s, v);
    }

    function _selector(bytes memory revertData) internal pure returns (bytes4 selector) {
        require(revertData.length >= 4, "no revert data");
        // solhint-disable-next-line no-inline-assembly
        assembly {
            selector := mload(add(revertData, 0x20))
        }
    }

    function test_maliciousToken_cannotReenterWithdraw() public {
        _paidJob();
        uint256 owed = escrow.balanceOf(address(attacker));
        token.arm(address(escrow), abi.encodeCall(IJobEscrow.withdrawFor, (address(attacker))));
        escrow.withdrawFor(address(attacker));
        require(token.callbacks() == 1, "the token called back");
        require(_selector(token.lastRevert()) == REENTRANT, "re-entry refused by the guard");
        require(token.balanceOf(address(attacker)) == owed, "paid once");
        require(escrow.balanceOf(address(attacker)) == 0, "balance cleared");
    }

    function test_maliciousToken_cannotReenterSettleDuringOpen() public {
        // While the deposit is pulled, the token tries to settle the job being opened (and refund itself).
        uint256 nonce = escrow.nonces(address(this));
        bytes32 expectedId = keccak256(abi.encode(block.chainid, address(escrow), address(this), nonce));
        token.arm(address(escrow), abi.encodeCall(IJobEscrow.settle, (expectedId, new IJobEscrow.SettleEntry[](0))));
        bytes32 jobId = escrow.openJob(keccak256("spec"), coordinator, 5, 1e18, uint64(block.timestamp + 100), 1);
        require(jobId == expectedId, "job id");
        require(_selector(token.lastRevert()) == REENTRANT, "re-entry refused by the guard");
        require(escrow.getJob(jobId).status == IJobEscrow.JobStatus.Open, "still open");
        require(token.balanceOf(address(escrow)) == 5e18, "deposit held");
    }

    function test_maliciousToken_cannotReenterRefund() public {
        bytes32 jobId = escrow.openJob(keccak256("spec"), coordinator, 5, 1e18, uint64(block.timestamp + 10), 1);
        vm.warp(block.timestamp + 10 + 120 + 1);
        token.arm(address(escrow), abi.encodeCall(IJobEscrow.refund, (jobId)));
        uint256 before = token.balanceOf(address(this));
        escrow.refund(jobId);
        require(_selector(token.lastRevert()) == REENTRANT, "re-entry refused by the guard");
        require(token.balanceOf(address(this)) - before == 5e18, "refunded once");
    }

    function test_maliciousReceiver_cannotReenterWithdraw() public {
        _paidJob();
        uint256 owed = escrow.balanceOf(address(attacker));
        token.setNotifyReceivers(true);
        attacker.arm(address(escrow), abi.encodeCall(IJobEscrow.withdraw, ()));
        attacker.exec(address(escrow), abi.encodeCall(IJobEscrow.withdraw, ()));
        require(attacker.attempts() == 1, "the receiver re-entered");
        require(_selector(attacker.lastRevert()) == REENTRANT, "re-entry refused by the guard");
        require(token.balanceOf(address(attacker)) == owed, "paid once");
    }

    function test_maliciousReceiver_cannotReenterWithdrawStake() public {
        token.transfer(address(attacker), 10e18);
        attacker.exec(address(token), abi.encodeCall(IERC20.approve, (address(registry), type(uint256).max)));
        bytes32[] memory models = new bytes32[](1);
        models[0] = MODEL;
        attacker.exec(address(registry), abi.encodeCall(ProviderRegistry.register, (hex"0024aa", 1, models, 10e18)));
        attacker.exec(address(registry), abi.encodeCall(ProviderRegistry.requestUnstake, (4e18)));
        vm.warp(block.timestamp + 60);
        token.setNotifyReceivers(true);
        attacker.arm(address(registry), abi.encodeCall(ProviderRegistry.withdrawStake, ()));
        attacker.exec(address(registry), abi.encodeCall(ProviderRegistry.withdrawStake, ()));
        require(_selector(attacker.lastRevert()) == REENTRANT, "re-entry refused by the guard");
        require(token.balanceOf(address(attacker)) == 4e18, "withdrawn once");
        (, , uint256 stake, , , uint256 pending, ) = registry.getProvider(address(attacker));
        require(stake == 6e18 && pending == 0, "stake accounting");
    }
}
