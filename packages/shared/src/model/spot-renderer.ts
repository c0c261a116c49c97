import type * as ort from "onnxruntime-node";
import { BaseError } from "../errors.js";
import type { JobSpec } from "../spec/index.js";
import { pixelCoords } from "./coords.js";
import { ModelContractError } from "./errors.js";
import { promptLatent } from "./latent.js";
import type { Model } from "./manifest.js";
import { loadOnnxRuntime, SESSION_THREADING, toRgb24 } from "./ort.js";

/**
 * Renders chosen pixels of chosen frames with a job's model, for the
 * client's content spot-check. The Rendermesh model contract maps each
 * pixel's coordinates, the frame time and the prompt latent to RGB
 * independently of every other pixel, so a verifier can re-render a random
 * subset of a frame's pixels at a fraction of the cost of the whole frame:
 * the same ONNX graph, inputs and rounding as `createRenderer`, fed with
 * `coords` for those pixels only.
 */
export interface SpotRenderer {
  renderPixels(spec: JobSpec, frame: number, pixels: Uint32Array, options?: { signal?: AbortSignal | undefined }): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** The verifier was asked about a job whose model it does not have. */
export class ModelUnavailableError extends BaseError {
  override name = "ModelUnavailableError";
  constructor(model: string, known: string[]) {
    super("MODEL_UNAVAILABLE", `The client does not have model ${model}, so it cannot spot-check the job's frames.`, {
      hint: "Use the network's default model (omit --model), or give the model file with --model-file.",
      details: [`models available: ${known.join(", ") || "none"}`],
    });
  }
}

export interface CreateSpotRendererOptions {
  /** Models the verifier can check, by id. */
  models: Model[];
  /** CPU threads for one run (default 1: verification must stay cheap next to rendering). */
  threads?: number;
}

/**
 * @example
 * const spot = await createSpotRenderer({ models: [defaultModel()] });
 * const rgb = await spot.renderPixels(spec, 12, Uint32Array.of(0, 1, 2));
 */
export async function createSpotRenderer(options: CreateSpotRendererOptions): Promise<SpotRenderer> {
  const sessions = new Map<string, Promise<ort.InferenceSession>>();
  const byId = new Map(options.models.map((m) => [m.manifest.id.toLowerCase(), m]));
  const coordsCache = new Map<string, Float32Array>();
  const latentCache = new Map<string, Float32Array>();

  const session = (id: string): Promise<ort.InferenceSession> => {
    let s = sessions.get(id);
    if (!s) {
      const model = byId.get(id);
      if (!model) throw new ModelUnavailableError(id, [...byId.keys()]);
      s = loadOnnxRuntime().then((runtime) =>
        runtime.InferenceSession.create(model.bytes, {
          intraOpNumThreads: options.threads ?? 1,
          interOpNumThreads: 1,
          executionMode: "sequential",
          graphOptimizationLevel: "all",
          executionProviders: ["cpu"],
          logSeverityLevel: 3,
          ...SESSION_THREADING,
        }),
      );
      sessions.set(id, s);
    }
    return s;
  };

  return {
    async renderPixels(spec, frame, pixels, opts = {}) {
      const id = spec.model.toLowerCase();
      const model = byId.get(id);
      if (!model) throw new ModelUnavailableError(spec.model, [...byId.keys()]);
      const s = await session(id);
      const runtime = await loadOnnxRuntime();
      opts.signal?.throwIfAborted();

      const sizeKey = `${spec.width}x${spec.height}`;
      let all = coordsCache.get(sizeKey);
      if (!all) coordsCache.set(sizeKey, (all = pixelCoords(spec.width, spec.height)));
      const coords = new Float32Array(pixels.length * 2);
      for (let i = 0; i < pixels.length; i++) {
        const p = (pixels[i] as number) * 2;
        coords[i * 2] = all[p] as number;
        coords[i * 2 + 1] = all[p + 1] as number;
      }
      const dim = model.manifest.latent.dim;
      const latentKey = `${dim}:${spec.seed}:${spec.prompt}`;
      let latent = latentCache.get(latentKey);
      if (!latent) latentCache.set(latentKey, (latent = promptLatent(spec.prompt, spec.seed, dim)));

      const out = await s.run(
        {
          coords: new runtime.Tensor("float32", coords, [pixels.length, 2]),
          t: new runtime.Tensor("float32", Float32Array.of(frame / spec.fps), [1]),
          latent: new runtime.Tensor("float32", latent, [1, dim]),
        },
        ["rgb"],
      );
      const data = out.rgb?.data as Float32Array | undefined;
      if (!data || data.length !== pixels.length * 3) {
        throw new ModelContractError(`Model ${spec.model} returned ${data?.length ?? 0} values for ${pixels.length} pixels.`);
      }
      const rgb = new Uint8Array(data.length);
      toRgb24(data, 0, data.length, rgb, 0);
      return rgb;
    },
    async close() {
      for (const s of sessions.values()) await (await s.catch(() => undefined))?.release();
      sessions.clear();
    },
  };
}
