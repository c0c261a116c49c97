// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";

/// @title Permits
/// @notice Uses an ERC-2612 permit without letting a front-runner grief the transaction.
library Permits {
    /// @dev Anyone who sees the permit in the mempool can submit it first, which makes our own `permit` call revert
    /// although the allowance is now in place. So a failed permit is ignored when the allowance suffices, and its
    /// revert reason (expired, invalid signer, ...) is bubbled up otherwise.
    function tryPermit(
        address token,
        address owner,
        address spender,
        uint256 value,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) internal {
        try IERC20Permit(token).permit(owner, spender, value, deadline, v, r, s) {
            // allowance set
        } catch (bytes memory reason) {
            if (IERC20(token).allowance(owner, spender) < value) {
                // solhint-disable-next-line no-inline-assembly
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
    }
}
