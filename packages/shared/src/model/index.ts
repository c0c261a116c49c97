/**
 * The model pipeline shared by providers (to render) and clients (to
 * spot-check): the default ONNX model built from code, model manifests and
 * loading, the prompt latent, the ONNX Runtime renderer and PSNR.
 */
export {
  buildDefaultModel,
  defaultModel,
  defaultManifest,
  DEFAULT_ARCHITECTURE,
  DEFAULT_MODEL_ID,
  DEFAULT_LIMITS,
  DEFAULT_MODEL_NAME,
  DEFAULT_MODEL_VERSION,
  DEFAULT_OPSET,
  DEFAULT_REFERENCE,
} from "./default-model.js";
export type { FieldArchitecture } from "./default-model.js";
export { ModelManifest, TensorContract, modelId } from "./manifest.js";
export type { Model } from "./manifest.js";
export { loadModel, saveModel, manifestPath } from "./load.js";
export type { LoadModelOptions } from "./load.js";
export { promptLatent, promptWords, COLOUR_WORDS, SPEED_WORDS, SPIN_WORDS, DRIFT_WORDS, CONTRAST_WORDS } from "./latent.js";
export { LATENT_LAYOUT, DEFAULT_LATENT_DIM, PROMPT_ENCODING } from "./latent-layout.js";
export { pixelCoords } from "./coords.js";
export { createRenderer, DEFAULT_MAX_PIXELS_PER_RUN } from "./renderer.js";
export type {
  CreateRendererOptions,
  Device,
  Renderer,
  RenderFrameEvent,
  RenderFramesOptions,
  RenderProgressEvent,
  RenderSpec,
} from "./renderer.js";
export { SESSION_THREADING } from "./ort.js";
export { RenderPool, pooledRenderer, pooledGenerator } from "./render-pool.js";
export { psnr, framePsnrs, meanRgb, meanAbsDiff } from "./psnr.js";
export { benchmarkRenderer } from "./benchmark.js";
export type { BenchmarkOptions, BenchmarkResult } from "./benchmark.js";
export {
  CudaUnavailableError,
  ModelContractError,
  ModelIntegrityError,
  ModelLoadError,
  RenderError,
  RenderRequestError,
} from "./errors.js";
export { Xoshiro128 } from "./prng.js";
export * from "./pipeline/index.js";
export { mapFloatInitializers, quantiseWeights } from "./onnx-weights.js";
export { createSpotRenderer, ModelUnavailableError } from "./spot-renderer.js";
export type { CreateSpotRendererOptions, SpotRenderer } from "./spot-renderer.js";
