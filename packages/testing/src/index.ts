// @rendermesh/testing: the one test toolkit of the repo (private, never published).
export * from "./accounts.js";
export * from "./chain-events.js";
export * from "./contract-wallet.js";
export * from "./deploy.js";
export * from "./events.js";
export * from "./fake-coordinator.js";
export * from "./hardhat-node.js";
export * from "./hold.js";
export * from "./temp.js";
export * from "./test-chain.js";
export * from "./test-provider.js";
export * from "./ts-node.js";
