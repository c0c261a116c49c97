// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title MeshToken
/// @notice The token clients pay providers in. Whole supply minted once.
contract MeshToken is ERC20, ERC20Permit {
    constructor(address holder, uint256 supply) ERC20("Rendermesh", "MESH") ERC20Permit("Rendermesh") {
        _mint(holder, supply);
    }
}
