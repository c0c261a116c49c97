/**
 * @rendermesh/provider-node — the GPU owner's daemon: checks its on-chain
 * standing (and registers), renders assigned segments with the shared ONNX
 * model pipeline, encodes them with ffmpeg, pins them to IPFS, answers with
 * signed delivery receipts, journals everything, and turns vouchers and
 * receipts into tokens by itself.
 */
export * from "./errors.js";
export * from "./config.js";
export * from "./metrics.js";
export * from "./models.js";
export * from "./provider.js";
export * from "./journal/index.js";
export * from "./render/acceptance.js";
export * from "./render/pipeline.js";
export * from "./render/overlap.js";
export * from "./render/service.js";
export * from "./render/handler.js";
export * from "./render/constants.js";
export * from "./voucher/index.js";
export * from "./voucher/handler.js";
export * from "./announce/index.js";
export * from "./chain/types.js";
export * from "./chain/standing.js";
export * from "./chain/payments.js";
export * from "./chain/ethers-chain.js";
export { buildCli, runCli } from "./cli.js";
