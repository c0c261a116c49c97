// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

interface ITokenReceiver {
    function onTokenReceived(address from, uint256 amount) external;
}

/// @dev A hostile token for tests. On every balance change it can (1) call back into a target with chosen calldata,
/// as a malicious token would, and (2) notify a contract recipient, as ERC-777/1363-style tokens do, letting a
/// malicious receiver re-enter. It records the revert data of its own callback.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public callData;
    bytes public lastRevert;
    uint256 public callbacks;
    bool public notifyReceivers;

    constructor(address holder, uint256 supply) ERC20("Hostile", "HOST") {
        _mint(holder, supply);
    }

    /// Calls `target` with `data` once, on the next transfer.
    function arm(address target_, bytes calldata data) external {
        target = target_;
        callData = data;
    }

    function setNotifyReceivers(bool on) external {
        notifyReceivers = on;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address t = target;
        if (t != address(0)) {
            target = address(0);
            ++callbacks;
            (bool ok, bytes memory data) = t.call(callData);
            if (!ok) lastRevert = data;
        }
        if (notifyReceivers && to.code.length != 0 && from != address(0)) {
            ITokenReceiver(to).onTokenReceived(from, value);
        }
    }
}

/// @dev A provider contract that re-enters the escrow (or registry) from the token's receive hook.
contract ReentrantReceiver is ITokenReceiver {
    address public target;
    bytes public callData;
    bytes public lastRevert;
    uint256 public attempts;

    function arm(address target_, bytes calldata data) external {
        target = target_;
        callData = data;
    }

    /// Lets the test act as this contract.
    function exec(address to, bytes calldata data) external returns (bytes memory) {
        (bool ok, bytes memory result) = to.call(data);
        if (!ok) {
            // solhint-disable-next-line no-inline-assembly
            assembly {
                revert(add(result, 0x20), mload(result))
            }
        }
        return result;
    }

    function onTokenReceived(address, uint256) external {
        address t = target;
        if (t == address(0)) return;
        target = address(0);
        ++attempts;
        (bool ok, bytes memory data) = t.call(callData);
        if (!ok) lastRevert = data;
    }
}
