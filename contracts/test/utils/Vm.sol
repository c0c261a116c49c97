// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @dev The few Hardhat 3 / Foundry cheatcodes our Solidity tests use. The npm
/// `forge-std` is too old for Hardhat 3's test runner, so we declare them here.
interface Vm {
    function prank(address sender) external;
    function startPrank(address sender) external;
    function stopPrank() external;
    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function deal(address who, uint256 amount) external;
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 selector) external;
    function expectRevert() external;
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function assume(bool condition) external pure;
    function label(address who, string calldata name) external;
    function chainId(uint256 newChainId) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData) external;
    function expectEmit() external;
    function mockCall(address callee, bytes calldata data, bytes calldata returnData) external;
    function clearMockedCalls() external;
    function getBlockTimestamp() external view returns (uint256);
}

/// @dev Base for Solidity tests: `vm` at the address `hevm cheat code` hashes to.
abstract contract CheatCodes {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev Foundry-style invariant targeting: the invariant fuzzer calls only these contracts.
    address[] private _targetContracts;

    function targetContract(address target) internal {
        _targetContracts.push(target);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min + 1;
        return min + (x % size);
    }
}
