/**
 * @rendermesh/shared — what every Rendermesh part must agree on: errors,
 * configuration, logging, and (as the network grows) protocol schemas, the
 * canonical job spec, EIP-712 types, policy evaluation, ABIs and the model
 * pipeline. Client, coordinator and provider-node depend on this; it depends
 * on none of them.
 */
export * from "./errors.js";
export * from "./config.js";
export * from "./logger.js";
