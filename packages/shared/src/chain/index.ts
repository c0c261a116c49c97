/**
 * Chain bindings: the contracts' ABIs (generated from the Hardhat artifacts),
 * the deployment file lookup, typed ethers contracts, the escrow's EIP-712
 * domain and the three signed messages (Voucher, Assignment, Delivery) with
 * helpers to sign and verify them, and a one-block read of the content policy.
 */
export * from "./abis.js";
export * from "./contracts.js";
export * from "./deployment.js";
export * from "./eip712.js";
export * from "./errors.js";
export * from "./gas.js";
export * from "./policy.js";
export * from "./signatures.js";
export * from "./types.js";
export type * from "./typed.js";
export * from "./signature-checker.js";
