import { BaseError, type BaseErrorOptions } from "../errors.js";

/** `device: "cuda"` was asked for but ONNX Runtime could not create a CUDA session. */
export class CudaUnavailableError extends BaseError {
  override name = "CudaUnavailableError";
  constructor(options: BaseErrorOptions = {}) {
    super("CUDA_UNAVAILABLE", "ONNX Runtime could not start the CUDA execution provider.", {
      hint:
        "onnxruntime-node is installed as its CPU build (its install script, which downloads the CUDA libraries, is switched off in pnpm-workspace.yaml). " +
        "On a machine with an NVIDIA GPU and CUDA 12, run that script with `ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js` inside the onnxruntime-node package directory " +
        '(or set `onnxruntime-node: true` under allowBuilds and reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12), or render with device "auto" or "cpu".',
      ...options,
    });
  }
}

/** A model file or its manifest cannot be read, parsed or loaded by ONNX Runtime. */
export class ModelLoadError extends BaseError {
  override name = "ModelLoadError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("MODEL_LOAD", shortMessage, options);
  }
}

/** The sha256 of the ONNX bytes is not the id the manifest claims. */
export class ModelIntegrityError extends BaseError {
  override name = "ModelIntegrityError";
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string, options: BaseErrorOptions = {}) {
    super("MODEL_INTEGRITY", "The model file does not match its manifest id.", {
      details: [`manifest id: ${expected}`, `sha256 of file: 0x${actual.replace(/^0x/, "")}`, ...(options.details ?? [])],
      hint: "Fetch the model again, or regenerate the manifest if you built this model yourself.",
      ...options,
    });
    this.expected = expected;
    this.actual = actual;
  }
}

/** The model does not offer the inputs/outputs the renderer needs. */
export class ModelContractError extends BaseError {
  override name = "ModelContractError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("MODEL_CONTRACT", shortMessage, {
      hint: "A Rendermesh model takes coords [N,2], t [B], latent [1,L] and returns rgb [B,N,3].",
      ...options,
    });
  }
}

/** A render request is outside the model's limits or malformed (size, fps, frame range). */
export class RenderRequestError extends BaseError {
  override name = "RenderRequestError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("RENDER_REQUEST", shortMessage, options);
  }
}

/** ONNX Runtime failed while running the model. */
export class RenderError extends BaseError {
  override name = "RenderError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("RENDER_FAILED", shortMessage, options);
  }
}
