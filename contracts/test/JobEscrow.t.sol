// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IJobEscrow} from "../src/interfaces/IJobEscrow.sol";
import {JobEscrow} from "../src/JobEscrow.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Voucher, Assignment, Delivery} from "../src/types/Messages.sol";
import {EscrowBase} from "./utils/EscrowBase.sol";

/// @dev Fuzz tests of the escrow's payment arithmetic (5,000 runs on CI), and signature replay.
contract JobEscrowTest is EscrowBase {
    function setUp() public {
        _deploy(address(this), 3);
    }

    struct SettleCase {
        uint32 totalSeconds;
        uint128 price;
        uint16 coordinatorFeeBps;
        uint16 treasuryFeeBps;
        bytes32 jobId;
        uint256 clientBefore;
        uint256[3] paid;
        uint256 paidSeconds;
    }

    /// Everything that left the client's deposit is exactly what providers, the coordinator and the treasury were
    /// credited, plus the refund; each provider got its seconds times the price less both fees.
    function test_fuzz_settle_conservesTokensAndPaysExactShares(
        uint32 totalSeconds,
        uint128 price,
        uint16 coordinatorFeeBps,
        uint16 treasuryFeeBps,
        uint32[3] memory redeemed,
        uint32[3] memory settled
    ) public {
        SettleCase memory c;
        c.totalSeconds = uint32(bound(totalSeconds, 1, 3600));
        c.price = uint128(bound(price, 1, 1e24));
        c.coordinatorFeeBps = uint16(bound(coordinatorFeeBps, 0, 10_000));
        c.treasuryFeeBps = uint16(bound(treasuryFeeBps, 0, 10_000 - c.coordinatorFeeBps));
        policy.setFees(c.coordinatorFeeBps, c.treasuryFeeBps);
        token.transfer(client, uint256(c.totalSeconds) * c.price);

        c.clientBefore = token.balanceOf(client);
        c.jobId = _open(c.totalSeconds, c.price, 1 days);
        _redeemAndSettle(c, redeemed, settled);
        _checkSettled(c);
    }

    function _redeemAndSettle(SettleCase memory c, uint32[3] memory redeemed, uint32[3] memory settled) private {
        // Vouchers first, within the job's seconds.
        uint256 left = c.totalSeconds;
        for (uint256 i = 0; i < 3; ++i) {
            uint32 secs = uint32(bound(redeemed[i], 0, left));
            if (secs == 0) continue;
            (Voucher memory v, bytes memory sig) = _voucher(c.jobId, providers[i], secs);
            _redeem(v, sig);
            left -= secs;
            c.paid[i] = secs;
        }
        // Then settle with cumulative totals: at most what is left on top of each voucher.
        address[] memory list = new address[](3);
        uint32[] memory totals = new uint32[](3);
        for (uint256 i = 0; i < 3; ++i) {
            uint256 extra = bound(settled[i], 0, left);
            left -= extra;
            list[i] = providers[i];
            c.paid[i] += extra;
            totals[i] = uint32(c.paid[i]);
        }
        vm.prank(client);
        escrow.settle(c.jobId, _entries(c.jobId, list, totals, true));
        c.paidSeconds = c.paid[0] + c.paid[1] + c.paid[2];
        // A settle that pays fewer than all seconds waits out its challenge window; the rest is refunded after it.
        IJobEscrow.Job memory job = escrow.getJob(c.jobId);
        if (job.status == IJobEscrow.JobStatus.Closing) {
            vm.warp(job.closesAt + 1);
            escrow.refund(c.jobId);
        }
    }

    function _checkSettled(SettleCase memory c) private view {
        uint256 net = _net(c.price, c.coordinatorFeeBps, c.treasuryFeeBps);
        for (uint256 i = 0; i < 3; ++i) {
            require(escrow.balanceOf(providers[i]) == c.paid[i] * net, "provider share");
        }
        uint256 coordinatorFees = c.paidSeconds * ((uint256(c.price) * c.coordinatorFeeBps) / 10_000);
        uint256 treasuryFees = c.paidSeconds * ((uint256(c.price) * c.treasuryFeeBps) / 10_000);
        require(escrow.balanceOf(coordinator) == coordinatorFees, "coordinator fee");
        require(escrow.balanceOf(treasury) == treasuryFees, "treasury fee");
        uint256 spent = c.paidSeconds * uint256(c.price);
        require(c.clientBefore - token.balanceOf(client) == spent, "client paid exactly the seconds");
        require(token.balanceOf(address(escrow)) == c.paidSeconds * net + coordinatorFees + treasuryFees, "escrow holds exactly the credits");
        require(c.paidSeconds * net + coordinatorFees + treasuryFees == spent, "fees and shares add up to the price");
        require(escrow.getJob(c.jobId).paidSeconds == c.paidSeconds, "paid seconds");
        IJobEscrow.JobStatus closed = c.paidSeconds == c.totalSeconds
            ? IJobEscrow.JobStatus.Settled
            : IJobEscrow.JobStatus.Refunded;
        require(escrow.getJob(c.jobId).status == closed, "settled at once when all is paid, else refunded");
    }

    /// A provider redeeming cumulative vouchers in any order is paid its highest voucher, once.
    function test_fuzz_redeem_paysHighestVoucherOnce(uint32 a, uint32 b, uint32 c, uint128 price) public {
        price = uint128(bound(price, 1, 1e24));
        uint32 total = 1000;
        token.transfer(client, uint256(total) * price);
        bytes32 jobId = _open(total, price, 1 days);
        uint32[3] memory seq = [uint32(bound(a, 1, total)), uint32(bound(b, 1, total)), uint32(bound(c, 1, total))];
        uint32 highest;
        for (uint256 i = 0; i < 3; ++i) {
            (Voucher memory v, bytes memory sig) = _voucher(jobId, providers[0], seq[i]);
            if (seq[i] <= highest) {
                vm.expectRevert(
                    abi.encodeWithSelector(IJobEscrow.JobEscrowNothingOwed.selector, jobId, providers[0], seq[i], highest)
                );
                _redeem(v, sig);
            } else {
                _redeem(v, sig);
                highest = seq[i];
            }
        }
        require(escrow.paidSeconds(jobId, providers[0]) == highest, "paid seconds");
        require(escrow.balanceOf(providers[0]) == highest * _net(price, 500, 100), "paid once");
    }

    /// Vouchers and finalised claims together pay max(voucher seconds, claimed segments), also when the claims
    /// overlap the seconds the voucher paid (a sole provider claims every segment it delivered).
    function test_fuzz_claims_payMaxOfVouchersAndClaims(uint8 voucherSeconds, uint8 claims) public {
        uint32 total = 8;
        voucherSeconds = uint8(bound(voucherSeconds, 0, total));
        claims = uint8(bound(claims, 0, total));
        bytes32 jobId = _open(total, uint128(MESH), 100);
        if (voucherSeconds != 0) {
            (Voucher memory v, bytes memory sig) = _voucher(jobId, providers[0], voucherSeconds);
            _redeem(v, sig);
        }
        vm.warp(block.timestamp + 101);
        for (uint32 s = 0; s < claims; ++s) {
            (Assignment memory a, bytes memory cs, Delivery memory d, bytes memory ps) = _claimArgs(jobId, s, 0);
            escrow.claim(a, cs, d, ps);
        }
        vm.warp(block.timestamp + 61);
        for (uint32 s = 0; s < claims; ++s) escrow.finalizeClaim(jobId, s);
        uint256 expected = voucherSeconds > claims ? voucherSeconds : claims;
        require(escrow.paidSeconds(jobId, providers[0]) == expected, "max rule");
        require(escrow.balanceOf(providers[0]) == expected * _net(MESH, 500, 100), "paid the max");
        require(escrow.getJob(jobId).paidSeconds == expected, "job paid");
        require(escrow.getJob(jobId).reservedSeconds == 0, "nothing reserved");
    }

    struct OverlapCase {
        bytes32 jobId;
        uint32 voucherSeconds;
        uint32 claims;
        uint32 late;
        uint32 refused;
        uint32 finalisedBeforeLate;
        uint32[] order;
    }

    /// The regression of claims overlapping voucher seconds, in every interleaving: a provider paid `voucherSeconds`
    /// by voucher claims `claims` segments after the deadline, some are disputed and refused, the rest finalised in
    /// any order, with a later voucher redeemed part-way. It ends paid exactly max(vouchers, claims not refused),
    /// each second once; nothing stays reserved, and another provider can then be paid exactly the rest of the job.
    function test_fuzz_claims_overlappingVouchers_payEachSecondOnce(
        uint8 voucherSeconds,
        uint8 claims,
        uint8 late,
        uint8 refuseMask,
        uint8 finalisedBeforeLate,
        uint256 orderSeed
    ) public {
        OverlapCase memory c;
        uint32 total = 8;
        c.voucherSeconds = uint32(bound(voucherSeconds, 0, total));
        c.claims = uint32(bound(claims, 0, total));
        c.late = uint32(bound(late, 0, total));
        c.jobId = _open(total, uint128(MESH), 100);
        if (c.voucherSeconds != 0) {
            (Voucher memory v, bytes memory sig) = _voucher(c.jobId, providers[0], c.voucherSeconds);
            _redeem(v, sig);
        }
        vm.warp(block.timestamp + 101);
        for (uint32 s = 0; s < c.claims; ++s) {
            (Assignment memory a, bytes memory cs, Delivery memory d, bytes memory ps) = _claimArgs(c.jobId, s, 0);
            escrow.claim(a, cs, d, ps);
        }
        require(escrow.getJob(c.jobId).pendingClaims == c.claims, "every claim accepted and pending");
        // Disputes within the window; the arbiter (this contract) refuses them.
        for (uint32 s = 0; s < c.claims; ++s) {
            if (refuseMask & (1 << s) == 0) continue;
            vm.prank(client);
            escrow.dispute(c.jobId, s);
            escrow.resolveDispute(c.jobId, s, false, 0);
            ++c.refused;
        }
        vm.warp(block.timestamp + 61);
        c.order = _shuffledUnrefused(c.claims, refuseMask, orderSeed);
        c.finalisedBeforeLate = uint32(bound(finalisedBeforeLate, 0, c.order.length));
        for (uint256 i = 0; i < c.order.length; ++i) {
            if (i == c.finalisedBeforeLate) _redeemLate(c);
            escrow.finalizeClaim(c.jobId, c.order[i]);
        }
        if (c.finalisedBeforeLate == c.order.length) _redeemLate(c);
        _checkOverlap(c, total);
    }

    function _redeemLate(OverlapCase memory c) private {
        if (c.late == 0) return;
        (Voucher memory v, bytes memory sig) = _voucher(c.jobId, providers[0], c.late);
        uint32 paid = escrow.paidSeconds(c.jobId, providers[0]);
        if (c.late <= paid) {
            vm.expectRevert(
                abi.encodeWithSelector(IJobEscrow.JobEscrowNothingOwed.selector, c.jobId, providers[0], c.late, paid)
            );
        }
        _redeem(v, sig);
    }

    function _checkOverlap(OverlapCase memory c, uint32 total) private {
        uint256 expected = c.voucherSeconds;
        if (c.late > expected) expected = c.late;
        if (c.claims - c.refused > expected) expected = c.claims - c.refused;
        require(escrow.paidSeconds(c.jobId, providers[0]) == expected, "max rule");
        require(escrow.balanceOf(providers[0]) == expected * _net(MESH, 500, 100), "each second paid once");
        IJobEscrow.Job memory job = escrow.getJob(c.jobId);
        require(job.paidSeconds == expected, "job paid");
        require(job.reservedSeconds == 0 && job.pendingClaims == 0, "nothing reserved or pending");
        // The rest of the job is free, no more.
        if (expected < total) {
            (Voucher memory v, bytes memory sig) = _voucher(c.jobId, providers[1], uint32(total - expected + 1));
            vm.expectRevert(
                abi.encodeWithSelector(
                    IJobEscrow.JobEscrowSecondsExceeded.selector,
                    c.jobId,
                    total - expected + 1,
                    total - expected
                )
            );
            _redeem(v, sig);
            (v, sig) = _voucher(c.jobId, providers[1], uint32(total - expected));
            _redeem(v, sig);
        }
        require(escrow.getJob(c.jobId).paidSeconds == total, "the whole job paid");
    }

    /// @dev The segments below `claims` whose bit in `refuseMask` is clear, shuffled by `seed`.
    function _shuffledUnrefused(uint32 claims, uint8 refuseMask, uint256 seed) private pure returns (uint32[] memory order) {
        uint256 n;
        for (uint32 s = 0; s < claims; ++s) if (refuseMask & (1 << s) == 0) ++n;
        order = new uint32[](n);
        uint256 k;
        for (uint32 s = 0; s < claims; ++s) if (refuseMask & (1 << s) == 0) order[k++] = s;
        for (uint256 i = n; i > 1; --i) {
            uint256 j = uint256(keccak256(abi.encode(seed, i))) % i;
            (order[i - 1], order[j]) = (order[j], order[i - 1]);
        }
    }

    /// After the claim window the client gets back exactly what was not paid.
    function test_fuzz_refund_returnsUnspent(uint32 totalSeconds, uint32 used, uint128 price) public {
        totalSeconds = uint32(bound(totalSeconds, 1, 3600));
        used = uint32(bound(used, 0, totalSeconds));
        price = uint128(bound(price, 1, 1e24));
        token.transfer(client, uint256(totalSeconds) * price);
        bytes32 jobId = _open(totalSeconds, price, 100);
        if (used != 0) {
            (Voucher memory v, bytes memory sig) = _voucher(jobId, providers[1], used);
            _redeem(v, sig);
        }
        vm.warp(block.timestamp + 100 + 120 + 1);
        uint256 before = token.balanceOf(client);
        escrow.refund(jobId);
        require(token.balanceOf(client) - before == uint256(totalSeconds - used) * price, "refund");
        uint256 credits = escrow.balanceOf(providers[1]) + escrow.balanceOf(coordinator) + escrow.balanceOf(treasury);
        require(token.balanceOf(address(escrow)) == credits, "escrow holds exactly the credits");
        require(credits == uint256(used) * price, "all of the used seconds, no more");
    }

    /// A returning client's deposit account: jobs opened from it take exactly their deposits, what they do not
    /// spend comes back into it (by a cooperative settle or a refund), and one withdraw returns the rest; no token
    /// moves at open, and the escrow holds exactly what it owes.
    function test_fuzz_depositAccount_opensRefundsAndWithdrawsExactly(
        uint32 seconds1,
        uint32 used1,
        uint32 seconds2,
        uint128 price,
        uint256 extra
    ) public {
        seconds1 = uint32(bound(seconds1, 1, 3600));
        used1 = uint32(bound(used1, 0, seconds1));
        seconds2 = uint32(bound(seconds2, 1, 3600));
        price = uint128(bound(price, 1, 1e21));
        extra = bound(extra, 0, 1e24);
        uint256 deposit1 = uint256(seconds1) * price;
        uint256 deposit2 = uint256(seconds2) * price;
        uint256 wallet = token.balanceOf(client);
        vm.prank(client);
        escrow.deposit(deposit1 + deposit2 + extra);
        uint64 version = policy.version();
        uint256 held = token.balanceOf(address(escrow));
        vm.startPrank(client);
        bytes32 job1 = escrow.openJobFromDeposit(SPEC, coordinator, seconds1, price, uint64(block.timestamp) + 100, version);
        bytes32 job2 = escrow.openJobFromDeposit(SPEC, coordinator, seconds2, price, uint64(block.timestamp) + 100, version);
        vm.stopPrank();
        require(token.balanceOf(address(escrow)) == held, "opens from the deposit move no token");
        require(escrow.balanceOf(client) == extra, "each open took exactly its deposit");
        // Job 2: one provider paid every second, cooperatively (acknowledged): it closes at once, nothing unspent.
        _settleWholly(job2, seconds2);
        // Job 1: `used1` seconds redeemed, the rest refunded into the account after the claim window.
        if (used1 != 0) _redeemFor(job1, providers[1], used1);
        vm.warp(block.timestamp + 100 + 120 + 1);
        escrow.refund(job1);
        uint256 back = uint256(seconds1 - used1) * price;
        require(escrow.balanceOf(client) == extra + back, "the unspent deposit is back in the account");
        require(token.balanceOf(client) == wallet - deposit1 - deposit2 - extra, "and not in the wallet");
        vm.prank(client);
        if (extra + back != 0) escrow.withdraw();
        require(token.balanceOf(client) == wallet - uint256(used1) * price - deposit2, "one withdraw returns the rest");
        uint256 credits = escrow.balanceOf(providers[0]) + escrow.balanceOf(providers[1]) + escrow.balanceOf(coordinator) +
            escrow.balanceOf(treasury);
        require(token.balanceOf(address(escrow)) == credits, "escrow holds exactly the credits");
        require(credits == uint256(used1) * price + deposit2, "all of the used seconds, no more");
    }

    function _settleWholly(bytes32 jobId, uint32 seconds_) private {
        address[] memory list = new address[](1);
        list[0] = providers[0];
        uint32[] memory secs = new uint32[](1);
        secs[0] = seconds_;
        vm.prank(client);
        escrow.settle(jobId, _entries(jobId, list, secs, true));
        require(escrow.getJob(jobId).status == IJobEscrow.JobStatus.Settled, "settled");
    }

    function _redeemFor(bytes32 jobId, address provider, uint32 seconds_) private {
        (Voucher memory v, bytes memory sig) = _voucher(jobId, provider, seconds_);
        _redeem(v, sig);
    }

    // ------------------------------------------------------------- replay

    function test_redeem_replayOnAnotherChain_isRefused() public {
        bytes32 jobId = _open(10, uint128(MESH), 1 days);
        (Voucher memory v, bytes memory sig) = _voucher(jobId, providers[0], 3);
        uint256 snapshot = block.chainid;
        vm.chainId(snapshot + 1);
        // Under the new chain id the same signature recovers to some other address.
        address signer = _recover(address(escrow), v, sig);
        require(signer != client, "different signer");
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.JobEscrowInvalidSigner.selector, client));
        _redeem(v, sig);
        vm.chainId(snapshot);
        _redeem(v, sig);
        require(escrow.paidSeconds(jobId, providers[0]) == 3, "accepted on its own chain");
    }

    function test_redeem_replayOnAnotherEscrow_isRefused() public {
        JobEscrow other = new JobEscrow(IERC20(address(token)), policy, 1 days);
        vm.prank(client);
        token.approve(address(other), type(uint256).max);
        bytes32 jobId = _open(10, uint128(MESH), 1 days);
        vm.prank(client);
        bytes32 otherJob = other.openJob(SPEC, coordinator, 10, uint128(MESH), uint64(block.timestamp + 1 days), 1);
        require(otherJob != jobId, "job ids differ across escrows");
        (Voucher memory v, bytes memory sig) = _voucher(jobId, providers[0], 3);
        // The job does not exist on the other escrow...
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.JobEscrowUnknownJob.selector, jobId));
        other.redeem(v, sig, 3, "");
        // ...and a signature under this escrow's domain does not sign the other escrow's job either.
        (Voucher memory forOther, bytes memory sigHere) = _voucher(otherJob, providers[0], 3);
        address signer = _recover(address(other), forOther, sigHere);
        require(signer != client, "different signer");
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.JobEscrowInvalidSigner.selector, client));
        other.redeem(forOther, sigHere, 3, "");
    }

    function test_redeem_replayOnAnotherJob_isRefused() public {
        bytes32 jobA = _open(10, uint128(MESH), 1 days);
        bytes32 jobB = _open(10, uint128(MESH), 1 days);
        (, bytes memory sig) = _voucher(jobA, providers[0], 3);
        Voucher memory replayed = Voucher(jobB, providers[0], 3);
        address signer = _recover(address(escrow), replayed, sig);
        require(signer != client, "different signer");
        vm.expectRevert(abi.encodeWithSelector(IJobEscrow.JobEscrowInvalidSigner.selector, client));
        escrow.redeem(replayed, sig, 3, _allocation(jobB, providers[0], 3));
    }

    /// @dev Who signed `sig`, read as a signature of the voucher under `verifyingContract`'s domain at the current
    /// chain id (what that escrow would recover).
    function _recover(address verifyingContract, Voucher memory v, bytes memory sig) private view returns (address) {
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                _domainSeparator(verifyingContract),
                keccak256(abi.encode(VOUCHER_TYPEHASH, v.jobId, v.provider, v.totalSeconds))
            )
        );
        bytes32 r;
        bytes32 s;
        // solhint-disable-next-line no-inline-assembly
        assembly {
            r := mload(add(sig, 0x20))
            s := mload(add(sig, 0x40))
        }
        return ecrecover(digest, uint8(sig[64]), r, s);
    }
}
