/**
 * @rendermesh/shared — what every Rendermesh part must agree on: errors,
 * configuration, logging, the canonical job spec and its hash, the content
 * policy's matching rules, the wire protocol's ids and messages, chain
 * bindings (ABIs, EIP-712), networking and IPFS, the model pipeline and video
 * media. Client, coordinator and provider-node depend on this package; it
 * depends on none of them.
 */
export * from "./errors.js";
export * from "./config.js";
export * from "./logger.js";
export * from "./spec/index.js";
export * from "./policy/index.js";
export * from "./protocol/index.js";
export * from "./wallet/index.js";
export * from "./devnet.js";
export * from "./net/index.js";
export * from "./chain/index.js";
export * from "./model/index.js";
export * from "./media/index.js";
