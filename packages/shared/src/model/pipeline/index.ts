/**
 * The diffusion-pipeline model family: its manifest, the generic ONNX
 * runner, schedulers, the segment noise, the trace a provider commits to and
 * the verifier that re-executes sampled steps of it.
 */
export * from "./manifest.js";
export * from "./scheduler.js";
export * from "./noise.js";
export * from "./tokenizer.js";
export * from "./load.js";
export * from "./runner.js";
export { PipelineRunnerThread, type SegmentGenerator } from "./runner-thread.js";
export type { PipelineDevice } from "./session.js";
export * from "./trace.js";
export * from "./verify.js";
export * from "./frame-source.js";
