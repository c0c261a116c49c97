import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import type { Logger } from "../../logger.js";
import { CudaUnavailableError, ModelLoadError } from "../errors.js";
import { SESSION_THREADING } from "../ort.js";

export type PipelineDevice = "cpu" | "cuda" | "auto";

export interface SessionOptions {
  device: PipelineDevice;
  deviceId?: number | undefined;
  threads: number;
  logger: Pick<Logger, "warn">;
  /** For error messages: which component this is. */
  what: string;
}

/**
 * One ONNX Runtime session on CUDA when asked and present, else the CPU,
 * with the same fallback rule as the field renderer: `auto` falls back
 * with a warning, `cuda` refuses.
 */
export async function openSession(
  bytes: Uint8Array,
  options: SessionOptions,
): Promise<{ session: ort.InferenceSession; device: "cpu" | "cuda" }> {
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: options.threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
    logSeverityLevel: 3,
    ...SESSION_THREADING,
  };
  const cpu = async () => {
    try {
      return await ort.InferenceSession.create(bytes, { ...base, executionProviders: ["cpu"] });
    } catch (cause) {
      throw new ModelLoadError(`ONNX Runtime cannot load the ${options.what}.`, { cause, details: [firstLine(cause)] });
    }
  };
  if (options.device === "cpu") return { session: await cpu(), device: "cpu" };
  try {
    const library = cudaProviderLibrary();
    if (library && !existsSync(library)) throw new Error(`${library} is not installed`);
    const session = await ort.InferenceSession.create(bytes, {
      ...base,
      executionProviders: [{ name: "cuda", deviceId: options.deviceId ?? 0 }],
    });
    return { session, device: "cuda" };
  } catch (cause) {
    if (options.device === "cuda") throw new CudaUnavailableError({ cause, details: [`onnxruntime: ${firstLine(cause)}`] });
    options.logger.warn({ reason: firstLine(cause), component: options.what }, "CUDA execution provider unavailable; running on CPU");
    return { session: await cpu(), device: "cpu" };
  }
}

function cudaProviderLibrary(): string | undefined {
  if (process.platform !== "linux") return undefined;
  try {
    const entry = createRequire(import.meta.url).resolve("onnxruntime-node");
    return join(dirname(entry), "..", "bin", "napi-v6", process.platform, process.arch, "libonnxruntime_providers_cuda.so");
  } catch {
    return undefined;
  }
}

export function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // eslint-disable-next-line no-control-regex
  return (message.replace(/\u001b\[[0-9;]*m/g, "").split("\n")[0] ?? "").slice(0, 300);
}
