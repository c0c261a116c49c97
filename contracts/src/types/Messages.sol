// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// The type strings are the protocol's and longer than 32 bytes; the field order is the protocol's.
// solhint-disable gas-small-strings, gas-struct-packing

// The EIP-712 messages of the protocol, signed under the escrow's domain
// (name "Rendermesh", version "1", chainId, JobEscrow address).
//
// `seconds` is a reserved word in Solidity, so the Voucher field the type string calls `seconds` is
// `totalSeconds` here; the type strings, and so the signatures, are exactly the protocol's.

/// @notice Signed by a job's client: `provider` has been paid for, or may redeem, `totalSeconds` seconds of the job
/// in total (cumulative, not a delta).
struct Voucher {
    bytes32 jobId;
    address provider;
    uint32 totalSeconds;
}

/// @notice Signed by a job's coordinator: `provider` is to render `segment` (`frameCount` frames from `firstFrame`)
/// by `deadline`.
struct Assignment {
    bytes32 jobId;
    uint32 segment;
    uint32 firstFrame;
    uint32 frameCount;
    address provider;
    uint64 deadline;
}

/// @notice Signed by a provider: it delivered `segment` as the file with binary CIDv1 `cid` and this `sha256`;
/// `trace` is the binary CIDv1 of the segment's render-trace root (empty for models without one).
struct Delivery {
    bytes32 jobId;
    uint32 segment;
    bytes cid;
    bytes32 sha256;
    uint32 frameCount;
    bytes trace;
}

using MessageHashes for Voucher global;
using MessageHashes for Assignment global;
using MessageHashes for Delivery global;

/// @title MessageHashes
/// @notice EIP-712 struct hashes of the protocol messages.
library MessageHashes {
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256("Voucher(bytes32 jobId,address provider,uint32 seconds)");
    bytes32 internal constant ASSIGNMENT_TYPEHASH = keccak256(
        "Assignment(bytes32 jobId,uint32 segment,uint32 firstFrame,uint32 frameCount,address provider,uint64 deadline)"
    );
    bytes32 internal constant DELIVERY_TYPEHASH =
        keccak256("Delivery(bytes32 jobId,uint32 segment,bytes cid,bytes32 sha256,uint32 frameCount,bytes trace)");
    /// @dev Signed by a provider: it is owed `seconds` seconds of the job in total, no more (cumulative).
    bytes32 internal constant ACKNOWLEDGEMENT_TYPEHASH =
        keccak256("Acknowledgement(bytes32 jobId,address provider,uint32 seconds)");
    /// @dev Signed by the job's coordinator: it assigned `provider` segments worth `seconds` seconds of the job in total
    /// (cumulative), so vouchers and a settle may pay `provider` up to that many seconds.
    bytes32 internal constant ALLOCATION_TYPEHASH = keccak256("Allocation(bytes32 jobId,address provider,uint32 seconds)");

    function hashAcknowledgement(bytes32 jobId, address provider, uint32 seconds_) internal pure returns (bytes32) {
        return keccak256(abi.encode(ACKNOWLEDGEMENT_TYPEHASH, jobId, provider, seconds_));
    }

    function hashAllocation(bytes32 jobId, address provider, uint32 seconds_) internal pure returns (bytes32) {
        return keccak256(abi.encode(ALLOCATION_TYPEHASH, jobId, provider, seconds_));
    }

    function hash(Voucher calldata voucher) internal pure returns (bytes32) {
        return keccak256(abi.encode(VOUCHER_TYPEHASH, voucher.jobId, voucher.provider, voucher.totalSeconds));
    }

    function hash(Assignment calldata assignment) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                ASSIGNMENT_TYPEHASH,
                assignment.jobId,
                assignment.segment,
                assignment.firstFrame,
                assignment.frameCount,
                assignment.provider,
                assignment.deadline
            )
        );
    }

    function hash(Delivery calldata delivery) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                DELIVERY_TYPEHASH,
                delivery.jobId,
                delivery.segment,
                keccak256(delivery.cid),
                delivery.sha256,
                delivery.frameCount,
                keccak256(delivery.trace)
            )
        );
    }
}
