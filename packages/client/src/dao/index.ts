/**
 * DAO and content-policy actions: delegate, propose policy changes, vote,
 * queue, execute, read proposals and the policy — against the OpenZeppelin
 * Governor + TimelockController that owns `ContentPolicy` — and
 * `runGovernanceCycle`, which runs a whole cycle on a local Hardhat node for
 * tests and demos.
 */
export * from "./types.js";
export * from "./errors.js";
export * from "./policyActions.js";
export { hashProposal, readStoredProposals, storeProposal } from "./store.js";
export * from "./delegate.js";
export * from "./propose.js";
export * from "./castVote.js";
export * from "./queueProposal.js";
export * from "./executeProposal.js";
export * from "./getProposal.js";
export * from "./getProposalRecord.js";
export * from "./listProposals.js";
export * from "./getGovernance.js";
export * from "./getPolicy.js";
export * from "./cycle.js";
