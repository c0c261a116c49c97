/**
 * net/ — how Rendermesh nodes talk: a libp2p 3 node (TCP, Noise, Yamux,
 * identify, ping) with a persistent identity; length-prefixed, zod-validated,
 * size-capped JSON messages with typed errors; protocol handlers with
 * per-peer limits and deadlines. The segment
 * store that moves video bytes over IPFS is in ipfs/.
 */
export * from "./constants.js";
export * from "./errors.js";
export * from "./json.js";
export * from "./message-stream.js";
export * from "./node.js";
export * from "./peer-key.js";
export * from "./protocol.js";
export * from "./signals.js";
