// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {MeshToken} from "../src/MeshToken.sol";
import {CheatCodes} from "./utils/Vm.sol";

contract MeshTokenTest is CheatCodes {
    function test_constructor_mintsWholeSupplyToHolder() public {
        MeshToken token = new MeshToken(address(0xBEEF), 1_000e18);
        require(token.balanceOf(address(0xBEEF)) == 1_000e18, "holder balance");
        require(token.totalSupply() == 1_000e18, "supply");
    }

    function test_fuzz_transfer_conservesSupply(uint256 amount, address to) public {
        vm.assume(to != address(0) && to != address(this));
        MeshToken token = new MeshToken(address(this), 1_000e18);
        amount = bound(amount, 0, 1_000e18);
        token.transfer(to, amount);
        require(token.balanceOf(to) + token.balanceOf(address(this)) == 1_000e18, "conserved");
    }
}
