/** The coordinator's narrow view of the chain (escrow, registry, policy, EIP-712), and its ethers implementation. */
export * from "./types.js";
