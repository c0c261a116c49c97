// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IJobEscrow} from "../src/interfaces/IJobEscrow.sol";
import {Voucher, Assignment, Delivery} from "../src/types/Messages.sol";
import {CheatCodes} from "./utils/Vm.sol";
import {EscrowBase} from "./utils/EscrowBase.sol";

/// @dev Drives the escrow through random sequences of open, redeem, settle, claim, dispute, resolve, finalize,
/// refund, withdraw and time passing (and vouchers followed by claims of the same provider, overlapping the seconds
/// the vouchers paid), and keeps an independent model of what every account should have been credited: each
/// provider `max(voucher seconds, finalised claims)` per job, at the job's net price, and the fees of every paid
/// second when a job closes. It also models each provider's pending claims, so that it can tell whether a refusal
/// for want of seconds (`JobEscrowSecondsExceeded`) was due: a provider may be paid up to `max(voucher seconds,
/// finalised + pending claims)`, and only what all providers may be paid counts against the job's seconds.
contract EscrowHandler is EscrowBase {
    uint256 internal constant MAX_JOBS = 16;
    uint256 internal constant PROVIDERS = 3;

    bytes32[] public jobs;
    mapping(bytes32 jobId => mapping(address provider => uint32)) public modelVoucher;
    mapping(bytes32 jobId => mapping(address provider => uint32)) public modelClaims;
    mapping(bytes32 jobId => mapping(address provider => uint32)) public modelPending;
    mapping(bytes32 jobId => uint256) public modelPaidSeconds;
    mapping(address account => uint256) public modelCredited;
    mapping(address account => uint256) public withdrawn;
    uint256 public slashed;
    /// Tokens out of the client's wallet, less tokens back into it (refunds to the wallet, withdrawals).
    uint256 public clientSpent;
    /// Slash compensation credited to the client (not the client's own money).
    uint256 public compensation;
    /// Jobs opened from the client's escrow account: what they leave unspent goes back into it.
    mapping(bytes32 jobId => bool) public fromDeposit;
    mapping(bytes4 selector => uint256) public calls;
    /// The first way the escrow disagreed with the model inside an action ("" if none). A handler's revert does not
    /// fail an invariant run, so the disagreement is recorded here and `check_modelAgrees` checks it.
    string public modelViolation;

    constructor() {
        _deploy(address(this), PROVIDERS);
        token.transfer(client, 1e27);
        // No bond (the model tracks only the deposit) and an arbiter window the warps reach, so that disputes left
        // unresolved are finalised too.
        policy.setDisputeBond(0);
        policy.setArbiterWindow(100);
    }

    // --------------------------------------------------------------- views

    function jobCount() external view returns (uint256) {
        return jobs.length;
    }

    function providerAt(uint256 i) external view returns (address) {
        return providers[i];
    }

    function accounts() external view returns (address[] memory list) {
        list = new address[](PROVIDERS + 3);
        for (uint256 i = 0; i < PROVIDERS; ++i) list[i] = providers[i];
        list[PROVIDERS] = coordinator;
        list[PROVIDERS + 1] = treasury;
        // The client is credited half of every slash.
        list[PROVIDERS + 2] = client;
    }

    // ------------------------------------------------------------- actions

    function open(uint32 totalSeconds, uint128 price, uint64 deadlineIn) external {
        if (jobs.length >= MAX_JOBS) return;
        totalSeconds = uint32(bound(totalSeconds, 1, 8));
        price = uint128(bound(price, 1, 1e21));
        deadlineIn = uint64(bound(deadlineIn, 1, 300));
        uint256 before = token.balanceOf(client);
        bytes32 jobId = _open(totalSeconds, price, deadlineIn);
        clientSpent += before - token.balanceOf(client);
        jobs.push(jobId);
        ++calls[this.open.selector];
    }

    /// The client puts tokens into its escrow account.
    function deposit(uint256 amount) external {
        amount = bound(amount, 1, 1e23);
        vm.prank(client);
        escrow.deposit(amount);
        clientSpent += amount;
        modelCredited[client] += amount;
        ++calls[this.deposit.selector];
    }

    /// A job paid from the client's escrow account; refused (and nothing moves) when the account holds too little.
    function openFromDeposit(uint32 totalSeconds, uint128 price, uint64 deadlineIn) external {
        if (jobs.length >= MAX_JOBS) return;
        totalSeconds = uint32(bound(totalSeconds, 1, 8));
        price = uint128(bound(price, 1, 1e21));
        deadlineIn = uint64(bound(deadlineIn, 1, 300));
        uint256 amount = uint256(totalSeconds) * price;
        uint256 walletBefore = token.balanceOf(client);
        uint256 accountBefore = escrow.balanceOf(client);
        uint64 version = policy.version();
        vm.prank(client);
        try escrow.openJobFromDeposit(SPEC, coordinator, totalSeconds, price, uint64(block.timestamp) + deadlineIn, version) returns (
            bytes32 jobId
        ) {
            if (token.balanceOf(client) != walletBefore) _violate("model: an open from the deposit moved wallet tokens");
            if (accountBefore < amount) _violate("model: an open from the deposit overdrew the account");
            modelCredited[client] -= amount;
            fromDeposit[jobId] = true;
            jobs.push(jobId);
            ++calls[this.openFromDeposit.selector];
        } catch (bytes memory reason) {
            if (bytes4(reason) == IJobEscrow.JobEscrowInsufficientDeposit.selector && accountBefore >= amount) {
                _violate("model: an open from a deposit that covers it was refused");
            }
        }
    }

    /// The client takes back what its escrow account holds (deposits, refunds, compensation).
    function withdrawClient() external {
        uint256 before = token.balanceOf(client);
        vm.prank(client);
        try escrow.withdraw() {
            uint256 got = token.balanceOf(client) - before;
            // Counted apart from clientSpent: what the client withdraws may include compensation, not its own money.
            withdrawn[client] += got;
            ++calls[this.withdrawClient.selector];
        } catch {}
    }

    /// The client attributes a segment to a provider's vouchers (dropping another provider's claim on it), quoting the
    /// provider's latest voucher (already redeemed, so it pays nothing more).
    function attribute(uint256 jobSeed, uint32 segment, uint256 providerSeed) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        segment = uint32(bound(segment, 0, 7));
        uint256 index = providerSeed % PROVIDERS;
        address provider = providers[index];
        IJobEscrow.Claim memory previous = escrow.getClaim(jobId, segment);
        uint32 paidBefore = _paid(jobId, provider);
        (Voucher memory v, bytes memory sig) = _voucher(jobId, provider, modelVoucher[jobId][provider]);
        vm.prank(client);
        try escrow.attributeSegment(v, sig, 0, "", _attributions(jobId, segment, index)) {
            if (modelClaims[jobId][provider] + modelPending[jobId][provider] >= modelVoucher[jobId][provider]) {
                _violate("model: attributed a segment with no voucher second left for it");
            }
            ++modelClaims[jobId][provider];
            if (_paid(jobId, provider) != paidBefore) _violate("model: an attribution changed what was paid");
            _dropped(jobId, previous);
            ++calls[this.attribute.selector];
        } catch (bytes memory reason) {
            if (
                bytes4(reason) == IJobEscrow.JobEscrowNothingToAttribute.selector &&
                modelClaims[jobId][provider] + modelPending[jobId][provider] < modelVoucher[jobId][provider]
            ) _violate("model: an attribution with voucher seconds left was refused");
        }
    }

    /// The provider itself drops another provider's claim on a segment it delivered and redeems its voucher in the
    /// same call: allowed only when the voucher cannot be paid otherwise and the dropped claim frees a second.
    function attributeAndRedeem(uint256 jobSeed, uint32 segment, uint256 providerSeed, uint32 totalSeconds) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        segment = uint32(bound(segment, 0, 7));
        totalSeconds = uint32(bound(totalSeconds, 1, 8));
        uint256 index = providerSeed % PROVIDERS;
        address provider = providers[index];
        IJobEscrow.Claim memory previous = escrow.getClaim(jobId, segment);
        uint32 before = _paid(jobId, provider);
        // Whether the model says the voucher cannot be redeemed now (as in _redeem's check of a refusal).
        bool short = totalSeconds > before &&
            totalSeconds - before >
            escrow.getJob(jobId).totalSeconds - _committedSum(jobId) + (_committed(jobId, provider) - before);
        (Voucher memory v, bytes memory sig) = _voucher(jobId, provider, totalSeconds);
        bytes memory allocationSig = _allocation(jobId, provider, totalSeconds);
        IJobEscrow.Attribution[] memory list = _attributions(jobId, segment, index);
        vm.prank(provider);
        try escrow.attributeSegment(v, sig, totalSeconds, allocationSig, list) {
            bool live = previous.status == IJobEscrow.ClaimStatus.Pending ||
                previous.status == IJobEscrow.ClaimStatus.Disputed;
            if (!short || !live || previous.provider == provider) {
                _violate("model: a provider attributed a segment its voucher did not need");
            }
            _dropped(jobId, previous);
            if (totalSeconds > before) _credit(jobId, provider, totalSeconds - before);
            modelVoucher[jobId][provider] = totalSeconds;
            ++modelClaims[jobId][provider];
            if (modelClaims[jobId][provider] + modelPending[jobId][provider] > totalSeconds) {
                _violate("model: attributed a segment with no voucher second left for it");
            }
            ++calls[this.attributeAndRedeem.selector];
        } catch (bytes memory reason) {
            // A provider whose voucher is short, facing another provider's claim that holds a reserved second, may
            // always drop it.
            bool releases = modelClaims[jobId][previous.provider] + modelPending[jobId][previous.provider] >
                modelVoucher[jobId][previous.provider];
            if (
                bytes4(reason) == IJobEscrow.JobEscrowAttributionNotNeeded.selector &&
                short &&
                releases &&
                previous.provider != provider &&
                (previous.status == IJobEscrow.ClaimStatus.Pending || previous.status == IJobEscrow.ClaimStatus.Disputed)
            ) _violate("model: a short voucher could not drop a claim holding a reserved second");
        }
    }

    /// The client disputes two claims of one job in one transaction.
    function disputeMany(uint256 jobSeed, uint32 first, uint32 second) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        uint32[] memory segments = new uint32[](2);
        segments[0] = uint32(bound(first, 0, 7));
        segments[1] = uint32(bound(second, 0, 7));
        vm.prank(client);
        try escrow.disputeMany(jobId, segments) {
            ++calls[this.disputeMany.selector];
        } catch {}
    }

    /// The arbiter resolves two disputes of one job in one transaction (refusals without a slash: `resolve` slashes).
    function resolveMany(uint256 jobSeed, uint32 first, uint32 second, bool payFirst, bool paySecond) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        uint32[] memory segments = new uint32[](2);
        segments[0] = uint32(bound(first, 0, 7));
        segments[1] = uint32(bound(second, 0, 7));
        bool[] memory pays = new bool[](2);
        pays[0] = payFirst;
        pays[1] = paySecond;
        address[2] memory claimants = [
            escrow.getClaim(jobId, segments[0]).provider,
            escrow.getClaim(jobId, segments[1]).provider
        ];
        try escrow.resolveDisputes(jobId, segments, pays, new uint256[](2)) {
            for (uint256 i = 0; i < 2; ++i) {
                --modelPending[jobId][claimants[i]];
                if (pays[i]) _claimPaid(jobId, claimants[i]);
            }
            ++calls[this.resolveMany.selector];
        } catch {}
    }

    function _attributions(
        bytes32 jobId,
        uint32 segment,
        uint256 index
    ) internal view returns (IJobEscrow.Attribution[] memory list) {
        (Assignment memory a, bytes memory cs, Delivery memory d, bytes memory ps) = _claimArgs(jobId, segment, index);
        list = new IJobEscrow.Attribution[](1);
        list[0] = IJobEscrow.Attribution(a, cs, d, ps);
    }

    /// Another provider's live claim on an attributed segment was dropped.
    function _dropped(bytes32 jobId, IJobEscrow.Claim memory previous) internal {
        bool live = previous.status == IJobEscrow.ClaimStatus.Pending ||
            previous.status == IJobEscrow.ClaimStatus.Disputed;
        if (live) --modelPending[jobId][previous.provider];
    }

    function redeem(uint256 jobSeed, uint256 providerSeed, uint32 totalSeconds) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        address provider = providers[providerSeed % PROVIDERS];
        totalSeconds = uint32(bound(totalSeconds, 1, 8));
        _redeem(jobId, provider, totalSeconds);
    }

    function _redeem(bytes32 jobId, address provider, uint32 totalSeconds) internal {
        (Voucher memory v, bytes memory sig) = _voucher(jobId, provider, totalSeconds);
        uint32 before = _paid(jobId, provider);
        try escrow.redeem(v, sig, totalSeconds, _allocation(jobId, provider, totalSeconds)) {
            if (totalSeconds <= before) _violate("model: redeem paid nothing new");
            _credit(jobId, provider, totalSeconds - before);
            modelVoucher[jobId][provider] = totalSeconds;
            ++calls[this.redeem.selector];
        } catch (bytes memory reason) {
            if (bytes4(reason) == IJobEscrow.JobEscrowSecondsExceeded.selector) {
                // Due only if the voucher needs more than the seconds no one may be paid plus the provider's own
                // reservation (committed - paid).
                uint256 free = escrow.getJob(jobId).totalSeconds - _committedSum(jobId);
                uint256 own = _committed(jobId, provider) - before;
                if (totalSeconds - before <= free + own) _violate("model: voucher refused though seconds were free");
            }
        }
    }

    /// Bit 3 of `mask` makes the settle acknowledged by every listed provider: it closes the job at once when it pays
    /// every second; any other settle leaves the job closing (its records written, claims and redeems still open).
    function settle(uint256 jobSeed, uint32[3] memory totals, uint8 mask) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        uint256 n;
        for (uint256 i = 0; i < PROVIDERS; ++i) if (mask & (1 << i) != 0) ++n;
        address[] memory list = new address[](n);
        uint32[] memory secs = new uint32[](n);
        uint256 k;
        for (uint256 i = 0; i < PROVIDERS; ++i) {
            if (mask & (1 << i) == 0) continue;
            list[k] = providers[i];
            secs[k++] = uint32(bound(totals[i], 0, 8));
        }
        uint256 before = token.balanceOf(client);
        vm.prank(client);
        try escrow.settle(jobId, _entries(jobId, list, secs, mask & 8 != 0)) {
            for (uint256 i = 0; i < n; ++i) {
                uint32 paid = _paid(jobId, list[i]);
                if (secs[i] > paid) {
                    _credit(jobId, list[i], secs[i] - paid);
                    modelVoucher[jobId][list[i]] = secs[i];
                }
            }
            IJobEscrow.Job memory job = escrow.getJob(jobId);
            if (job.status == IJobEscrow.JobStatus.Settled) {
                _creditFees(jobId);
                _refundToAccount(jobId);
            } else if (mask & 8 != 0 && job.pendingClaims == 0 && job.paidSeconds == job.totalSeconds) {
                _violate("model: a cooperative settle paying every second did not close the job");
            }
            clientSpent -= token.balanceOf(client) - before;
            ++calls[this.settle.selector];
        } catch {}
    }

    function claim(uint256 jobSeed, uint32 segment, uint256 providerSeed) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        if (block.timestamp <= job.deadline) vm.warp(uint256(job.deadline) + 1);
        segment = uint32(bound(segment, 0, 7));
        (Assignment memory a, bytes memory cs, Delivery memory d, bytes memory ps) = _claimArgs(
            jobId,
            segment,
            providerSeed % PROVIDERS
        );
        _claim(jobId, a, cs, d, ps);
    }

    /// A provider paid by a voucher then claims segments from 0 (they overlap the seconds the voucher paid), as a
    /// sole provider whose client disappeared after paying part of the job does.
    function redeemThenClaim(uint256 jobSeed, uint256 providerSeed, uint32 totalSeconds, uint8 count) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        address provider = providers[providerSeed % PROVIDERS];
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        _redeem(jobId, provider, uint32(bound(totalSeconds, 1, 8)));
        if (block.timestamp <= job.deadline) vm.warp(uint256(job.deadline) + 1);
        count = uint8(bound(count, 1, 8));
        for (uint32 segment = 0; segment < count; ++segment) {
            (Assignment memory a, bytes memory cs, Delivery memory d, bytes memory ps) = _claimArgs(
                jobId,
                segment,
                providerSeed % PROVIDERS
            );
            _claim(jobId, a, cs, d, ps);
        }
        ++calls[this.redeemThenClaim.selector];
    }

    function _claim(
        bytes32 jobId,
        Assignment memory a,
        bytes memory cs,
        Delivery memory d,
        bytes memory ps
    ) internal {
        try escrow.claim(a, cs, d, ps) {
            ++modelPending[jobId][a.provider];
            ++calls[this.claim.selector];
        } catch (bytes memory reason) {
            if (bytes4(reason) == IJobEscrow.JobEscrowSecondsExceeded.selector) {
                // Due only if the claim could add a paid second and every second of the job may be paid already.
                uint32 v = modelVoucher[jobId][a.provider];
                uint32 cp = modelClaims[jobId][a.provider] + modelPending[jobId][a.provider];
                if (cp < v) _violate("model: a claim that cannot add a paid second needed a free one");
                if (_committedSum(jobId) < escrow.getJob(jobId).totalSeconds) {
                    _violate("model: a claim was refused though seconds were free");
                }
            }
        }
    }

    function dispute(uint256 jobSeed, uint32 segment) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        vm.prank(client);
        try escrow.dispute(jobId, uint32(bound(segment, 0, 7))) {
            ++calls[this.dispute.selector];
        } catch {}
    }

    function finalize(uint256 jobSeed, uint32 segment) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        segment = uint32(bound(segment, 0, 7));
        address provider = escrow.getClaim(jobId, segment).provider;
        try escrow.finalizeClaim(jobId, segment) {
            --modelPending[jobId][provider];
            _claimPaid(jobId, provider);
            ++calls[this.finalize.selector];
        } catch {}
    }

    function resolve(uint256 jobSeed, uint32 segment, bool pay, uint256 slashAmount) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        segment = uint32(bound(segment, 0, 7));
        address provider = escrow.getClaim(jobId, segment).provider;
        slashAmount = pay ? 0 : bound(slashAmount, 0, 20 * MIN_STAKE);
        uint256 stakeBefore = token.balanceOf(address(registry));
        try escrow.resolveDispute(jobId, segment, pay, slashAmount) {
            --modelPending[jobId][provider];
            if (pay) _claimPaid(jobId, provider);
            uint256 taken = stakeBefore - token.balanceOf(address(registry));
            slashed += taken;
            modelCredited[client] += taken / 2;
            compensation += taken / 2;
            modelCredited[treasury] += taken - taken / 2;
            ++calls[this.resolve.selector];
        } catch {}
    }

    function refund(uint256 jobSeed) external {
        if (jobs.length == 0) return;
        bytes32 jobId = jobs[jobSeed % jobs.length];
        uint256 before = token.balanceOf(client);
        try escrow.refund(jobId) {
            _creditFees(jobId);
            _refundToAccount(jobId);
            clientSpent -= token.balanceOf(client) - before;
            ++calls[this.refund.selector];
        } catch {}
    }

    function withdraw(uint256 accountSeed) external {
        address account = accountSeed % 5 < PROVIDERS
            ? providers[accountSeed % 5]
            : (accountSeed % 5 == PROVIDERS ? coordinator : treasury);
        uint256 before = token.balanceOf(account);
        try escrow.withdrawFor(account) {
            withdrawn[account] += token.balanceOf(account) - before;
            ++calls[this.withdraw.selector];
        } catch {}
    }

    function warp(uint32 dt) external {
        vm.warp(block.timestamp + bound(dt, 0, 150));
        ++calls[this.warp.selector];
    }

    // --------------------------------------------------------------- model

    function _paid(bytes32 jobId, address provider) internal view returns (uint32) {
        uint32 v = modelVoucher[jobId][provider];
        uint32 c = modelClaims[jobId][provider];
        return v > c ? v : c;
    }

    function _violate(string memory what) internal {
        if (bytes(modelViolation).length == 0) modelViolation = what;
    }

    /// What the provider would have been paid were every pending claim of it paid.
    function _committed(bytes32 jobId, address provider) internal view returns (uint32) {
        uint32 v = modelVoucher[jobId][provider];
        uint32 c = modelClaims[jobId][provider] + modelPending[jobId][provider];
        return v > c ? v : c;
    }

    function _committedSum(bytes32 jobId) internal view returns (uint256 sum) {
        for (uint256 p = 0; p < PROVIDERS; ++p) sum += _committed(jobId, providers[p]);
    }

    function _claimPaid(bytes32 jobId, address provider) internal {
        uint32 before = _paid(jobId, provider);
        ++modelClaims[jobId][provider];
        uint32 after_ = _paid(jobId, provider);
        if (after_ > before) _credit(jobId, provider, after_ - before);
    }

    function _credit(bytes32 jobId, address provider, uint256 secs) internal {
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        modelCredited[provider] += secs * _net(job.pricePerSecond, job.coordinatorFeeBps, job.treasuryFeeBps);
        modelPaidSeconds[jobId] += secs;
    }

    /// A closed job opened from the deposit returns what it did not spend into the client's account.
    function _refundToAccount(bytes32 jobId) internal {
        if (!fromDeposit[jobId]) return;
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        modelCredited[client] += uint256(job.totalSeconds - modelPaidSeconds[jobId]) * job.pricePerSecond;
    }

    function _creditFees(bytes32 jobId) internal {
        IJobEscrow.Job memory job = escrow.getJob(jobId);
        uint256 paid = modelPaidSeconds[jobId];
        modelCredited[coordinator] += paid * ((uint256(job.pricePerSecond) * job.coordinatorFeeBps) / 10_000);
        modelCredited[treasury] += paid * ((uint256(job.pricePerSecond) * job.treasuryFeeBps) / 10_000);
    }

    // The escrow reads these through the base; expose them to the invariant contract.
    function contracts() external view returns (address, address, address, address) {
        return (address(token), address(escrow), address(registry), client);
    }
}

contract JobEscrowInvariantTest is CheatCodes {
    EscrowHandler internal handler;

    function setUp() public {
        handler = new EscrowHandler();
        targetContract(address(handler));
    }

    /// One campaign checks every rule after each call (one invariant function, not five, so that the runs and depth
    /// the config sets are paid once; `hardhat.config.ts` sets them, 5,000 runs on CI).
    function invariant_escrowRules() public view {
        check_tokensConserved();
        check_creditsMatchModel();
        check_jobsWithinDeposit();
        check_slashesGoToTreasury();
        check_modelAgrees();
    }

    /// Tokens are conserved: the escrow holds exactly the unspent part of every open job plus every balance it owes,
    /// and the client spent exactly what was paid out of its deposits.
    function check_tokensConserved() public view {
        (address tokenAddress, address escrowAddress, , address clientAddress) = handler.contracts();
        IJobEscrow escrow = IJobEscrow(escrowAddress);
        uint256 held;
        uint256 paidOut;
        for (uint256 i = 0; i < handler.jobCount(); ++i) {
            IJobEscrow.Job memory job = escrow.getJob(handler.jobs(i));
            uint256 spent = uint256(job.paidSeconds) * job.pricePerSecond;
            paidOut += spent;
            if (job.status == IJobEscrow.JobStatus.Open || job.status == IJobEscrow.JobStatus.Closing) {
                uint256 net = job.pricePerSecond -
                    (uint256(job.pricePerSecond) * job.coordinatorFeeBps) / 10_000 -
                    (uint256(job.pricePerSecond) * job.treasuryFeeBps) / 10_000;
                held += uint256(job.totalSeconds) * job.pricePerSecond - uint256(job.paidSeconds) * net;
                // An open job has not refunded anything: all of its deposit still counts as spent by the client.
                paidOut += uint256(job.totalSeconds - job.paidSeconds) * job.pricePerSecond;
            }
        }
        address[] memory accounts = handler.accounts();
        for (uint256 i = 0; i < accounts.length; ++i) held += escrow.balanceOf(accounts[i]);
        require(_balanceOf(tokenAddress, escrowAddress) == held, "escrow holds exactly what it owes");
        // What left the client's wallet is what its jobs spent or hold, plus its own money in its escrow account: what
        // the account holds and gave back by withdrawals, less the slash compensation credited to it.
        require(
            handler.clientSpent() + handler.compensation() ==
                paidOut + escrow.balanceOf(clientAddress) + handler.withdrawn(clientAddress),
            "client spent exactly the paid seconds, the open deposits and what its account holds"
        );
    }

    /// No second is paid twice and every payment is exact: each account's credits equal the model's.
    function check_creditsMatchModel() public view {
        (, address escrowAddress, , ) = handler.contracts();
        address[] memory accounts = handler.accounts();
        for (uint256 i = 0; i < accounts.length; ++i) {
            uint256 credited = IJobEscrow(escrowAddress).balanceOf(accounts[i]) + handler.withdrawn(accounts[i]);
            require(credited == handler.modelCredited(accounts[i]), "credits match the model");
        }
    }

    /// A job never pays out more than its deposit: paid plus reserved seconds stay within its seconds, and while it
    /// is open each provider's paid seconds are max(voucher seconds, finalised claims).
    function check_jobsWithinDeposit() public view {
        (, address escrowAddress, , ) = handler.contracts();
        IJobEscrow escrow = IJobEscrow(escrowAddress);
        for (uint256 i = 0; i < handler.jobCount(); ++i) {
            bytes32 jobId = handler.jobs(i);
            IJobEscrow.Job memory job = escrow.getJob(jobId);
            require(uint256(job.paidSeconds) + job.reservedSeconds <= job.totalSeconds, "within the job's seconds");
            require(job.paidSeconds == handler.modelPaidSeconds(jobId), "paid seconds match the model");
            if (job.status != IJobEscrow.JobStatus.Open && job.status != IJobEscrow.JobStatus.Closing) {
                require(job.reservedSeconds == 0, "a closed job reserves nothing");
                require(job.pendingClaims == 0, "a closed job has no pending claim");
                continue;
            }
            uint256 sum;
            uint256 reserved;
            uint256 pending;
            for (uint256 p = 0; p < 3; ++p) {
                address provider = handler.providerAt(p);
                uint32 v = handler.modelVoucher(jobId, provider);
                uint32 c = handler.modelClaims(jobId, provider);
                uint32 pc = handler.modelPending(jobId, provider);
                uint32 paid = escrow.paidSeconds(jobId, provider);
                require(paid == (v > c ? v : c), "max(voucher, claims)");
                sum += paid;
                // Reserved for the provider: what its pending claims could still add to what it was paid.
                reserved += (v > c + pc ? v : c + pc) - paid;
                pending += pc;
            }
            require(sum == job.paidSeconds, "providers' seconds add up to the job's");
            require(reserved == job.reservedSeconds, "reserved = what pending claims could still add");
            require(pending == job.pendingClaims, "pending claims add up to the job's");
        }
    }

    /// The escrow never refused a voucher or a claim for want of seconds that the model says were free to it (a claim
    /// overlapping seconds its provider's vouchers paid needs none), nor paid a voucher for nothing new.
    function check_modelAgrees() public view {
        require(bytes(handler.modelViolation()).length == 0, handler.modelViolation());
    }

    /// Stake leaves the registry only as a slash, which the escrow credits to the client and the treasury.
    function check_slashesGoToTreasury() public view {
        (address tokenAddress, , address registryAddress, ) = handler.contracts();
        require(_balanceOf(tokenAddress, registryAddress) + handler.slashed() == 3 * 10 * 100e18, "stake conserved");
    }

    /// The handler's actions can all succeed (so the random sequences reach every path), and the model agrees.
    function test_handler_reachesEveryAction() public {
        uint32[3] memory totals = [uint32(2), 2, 0];
        handler.open(4, 1e18, 100); // job 0
        handler.open(4, 3e18, 100); // job 1
        handler.open(2, 5e18, 100); // job 2
        handler.redeem(0, 0, 2);
        handler.settle(0, totals, 3);
        handler.redeem(1, 1, 1);
        handler.claim(1, 1, 1); // warps past job 1's deadline
        handler.claim(1, 2, 1);
        handler.claim(1, 3, 2);
        handler.dispute(1, 2);
        handler.dispute(1, 3);
        handler.resolve(1, 2, true, 0);
        handler.resolve(1, 3, false, 50e18);
        handler.warp(61);
        handler.finalize(1, 1);
        handler.warp(150);
        handler.refund(1);
        handler.refund(2);
        handler.withdraw(0);
        handler.withdraw(4);
        require(handler.calls(handler.claim.selector) == 3, "three claims");
        handler.open(5, 2e18, 100); // job 3: the regression, a sole provider paid 3 of 5 by voucher claims all 5
        handler.redeemThenClaim(3, 0, 3, 5);
        require(handler.calls(handler.claim.selector) == 8, "all five claims accepted");
        handler.warp(61);
        for (uint32 s = 0; s < 5; ++s) handler.finalize(3, 4 - s);
        require(handler.calls(handler.finalize.selector) == 6, "six finalised claims");
        require(IJobEscrow(_escrow()).paidSeconds(handler.jobs(3), handler.providerAt(0)) == 5, "paid all five seconds");
        // The deposit account: a job opened from it, a speculative copy's claim on a segment its voucher paid dropped
        // by the client's attribution, the unspent deposit back into the account, and the account withdrawn.
        handler.deposit(8e18);
        handler.openFromDeposit(4, 1e18, 100); // job 4
        require(handler.calls(handler.openFromDeposit.selector) == 1, "opened from the deposit");
        handler.redeem(4, 0, 2);
        handler.claim(4, 1, 1); // provider 1's copy of segment 1; warps past job 4's deadline
        handler.attribute(4, 1, 0); // the client paid provider 0 for it by voucher
        require(handler.calls(handler.attribute.selector) == 1, "attributed");
        handler.attribute(4, 2, 0); // provider 0's voucher paid two seconds: a second attribution is due
        handler.attribute(4, 3, 0); // a third is not (NothingToAttribute, which the model checks was due)
        require(handler.calls(handler.attribute.selector) == 2, "two attributions for a two-second voucher");
        // The provider protects itself: job 5, a 3-second voucher of provider 0, provider 1's copy of segment 2 claimed
        // first, taking the last free second; provider 0 drops it and is paid its voucher in one call. Then two
        // claims disputed and resolved in one transaction each.
        handler.open(3, 1e18, 100); // job 5
        handler.claim(5, 2, 1); // warps past job 5's deadline
        handler.attributeAndRedeem(5, 1, 0, 3); // segment 1 has no claim to drop: refused (not needed)
        handler.attributeAndRedeem(5, 2, 0, 3);
        require(handler.calls(handler.attributeAndRedeem.selector) == 1, "the provider attributed and redeemed");
        require(IJobEscrow(_escrow()).paidSeconds(handler.jobs(5), handler.providerAt(0)) == 3, "voucher paid in full");
        handler.open(4, 1e18, 100); // job 6
        handler.claim(6, 0, 1);
        handler.claim(6, 1, 2);
        handler.disputeMany(6, 0, 1);
        handler.resolveMany(6, 0, 1, true, false);
        require(handler.calls(handler.resolveMany.selector) == 1, "batched resolution");
        handler.warp(150);
        handler.refund(4);
        handler.withdrawClient();
        bytes4[18] memory selectors = [
            handler.open.selector,
            handler.redeem.selector,
            handler.settle.selector,
            handler.claim.selector,
            handler.dispute.selector,
            handler.resolve.selector,
            handler.finalize.selector,
            handler.refund.selector,
            handler.withdraw.selector,
            handler.warp.selector,
            handler.redeemThenClaim.selector,
            handler.deposit.selector,
            handler.openFromDeposit.selector,
            handler.attribute.selector,
            handler.withdrawClient.selector,
            handler.attributeAndRedeem.selector,
            handler.disputeMany.selector,
            handler.resolveMany.selector
        ];
        for (uint256 i = 0; i < selectors.length; ++i) require(handler.calls(selectors[i]) > 0, "action reached");
        require(handler.calls(handler.refund.selector) == 3, "three refunds");
        require(handler.slashed() == 50e18, "slashed");
        check_tokensConserved();
        check_creditsMatchModel();
        check_jobsWithinDeposit();
        check_slashesGoToTreasury();
        check_modelAgrees();
    }

    function _escrow() private view returns (address escrowAddress) {
        (, escrowAddress, , ) = handler.contracts();
    }

    function _balanceOf(address tokenAddress, address account) private view returns (uint256) {
        (bool ok, bytes memory data) = tokenAddress.staticcall(abi.encodeWithSignature("balanceOf(address)", account));
        require(ok, "balanceOf");
        return abi.decode(data, (uint256));
    }
}
