/**
 * @rendermesh/shared — the light core every Rendermesh part must agree on:
 * errors, configuration, logging, the canonical job spec and its hash, the
 * content policy's matching rules, the wire protocol's ids, messages and
 * reason codes, the wallet and the dev-chain file. Heavy pieces live behind
 * subpaths so a part loads only what it uses: `@rendermesh/shared/chain`
 * (ABIs, EIP-712, deployment, chain types), `/net` (libp2p), `/ipfs` (Helia,
 * Kubo), `/model` (ONNX Runtime) and `/media` (ffmpeg). This module must not
 * import any of them.
 */
export * from "./errors.js";
export * from "./config.js";
export * from "./logger.js";
export * from "./spec/index.js";
export * from "./policy/index.js";
export * from "./protocol/index.js";
export * from "./wallet/index.js";
export * from "./devnet.js";
