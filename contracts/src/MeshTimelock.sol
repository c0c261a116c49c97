// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";

/// @title MeshTimelock
/// @notice OpenZeppelin's TimelockController, unchanged, as an artifact of this project. It executes the DAO's passed
/// proposals, owns the content policy and holds the treasury.
contract MeshTimelock is TimelockController {
    constructor(
        uint256 minDelay,
        address[] memory proposers,
        address[] memory executors,
        address admin
    ) TimelockController(minDelay, proposers, executors, admin) {}
}
