/**
 * The messages between a `PipelineRunnerThread` and its inference thread,
 * and how an error crosses between them: structured cloning keeps an
 * error's message but not its class, code, hint or details, which callers
 * map to reason codes and show to users.
 */
import { BaseError, type BaseErrorOptions } from "../../errors.js";
import { CudaUnavailableError, ModelContractError, ModelLoadError, RenderError, RenderRequestError } from "../errors.js";
import type { CreatePipelineRunnerOptions, GenerateOptions } from "./runner.js";

/** `workerData` of the inference thread (`stepGate`: see `CreatePipelineRunnerThreadOptions`). */
export type ThreadInit = Omit<CreatePipelineRunnerOptions, "logger"> & { stepGate?: Int32Array | undefined };

export type GenerateRequest = Omit<GenerateOptions, "signal" | "onStep" | "onTensor">;

export type ToThread =
  | { type: "generate"; id: number; options: GenerateRequest }
  | { type: "abort"; id: number }
  /** Stop the renders, release the sessions, end. */
  | { type: "close" }
  /** End now, between two steps, as a crash would (`stopThread`). */
  | { type: "exit" };

export interface TraceMeta {
  pipeline: `0x${string}`;
  seed: number;
  segment: number;
  guidance: number;
  latentDims: readonly number[];
  textDims: readonly number[];
  /** The timestep of each step, in order. */
  timesteps: number[];
  classifierFree: boolean;
}

export type FromThread =
  | { type: "ready"; device: "cpu" | "cuda" }
  | { type: "failed"; error: WireError }
  | { type: "log"; level: "info" | "warn"; obj: Record<string, unknown>; msg: string }
  /** The trace tensors made since the last message, in the order `onTensor` saw them, then one step done. */
  | { type: "step"; id: number; tensors: Float32Array[]; done: number; total: number }
  | { type: "done"; id: number; tensors: Float32Array[]; frames: Uint8Array[]; meta: TraceMeta }
  | { type: "error"; id: number; error: WireError };

export interface WireError {
  name: string;
  message: string;
  stack?: string | undefined;
  /** Set for a `BaseError`. */
  base?: { shortMessage: string; hint?: string | undefined; details: string[] } | undefined;
  cause?: WireError | undefined;
}

export function errorToWire(err: unknown, depth = 0): WireError {
  if (!(err instanceof Error)) return { name: "Error", message: String(err) };
  const wire: WireError = { name: err.name, message: err.message, stack: err.stack };
  if (err instanceof BaseError) wire.base = { shortMessage: err.shortMessage, hint: err.hint, details: [...err.details] };
  if (err.cause !== undefined && depth < 4) wire.cause = errorToWire(err.cause, depth + 1);
  return wire;
}

const baseErrors: Record<string, (shortMessage: string, options: BaseErrorOptions) => BaseError> = {
  RenderError: (m, o) => new RenderError(m, o),
  RenderRequestError: (m, o) => new RenderRequestError(m, o),
  ModelContractError: (m, o) => new ModelContractError(m, o),
  ModelLoadError: (m, o) => new ModelLoadError(m, o),
  CudaUnavailableError: (_m, o) => new CudaUnavailableError(o),
};

const plainErrors: Record<string, new (message: string, options?: ErrorOptions) => Error> = {
  RangeError,
  TypeError,
  Error,
};

/** The error as the thread threw it: the same class for this package's model errors and the built-in ones. */
export function errorFromWire(wire: WireError): Error {
  const cause = wire.cause === undefined ? undefined : errorFromWire(wire.cause);
  let err: Error;
  const make = baseErrors[wire.name];
  if (make !== undefined && wire.base !== undefined) {
    const options: BaseErrorOptions = { details: wire.base.details };
    // An explicit `hint: undefined` would replace a class's default hint.
    if (wire.base.hint !== undefined) options.hint = wire.base.hint;
    if (cause !== undefined) options.cause = cause;
    err = make(wire.base.shortMessage, options);
  } else {
    err = new (plainErrors[wire.name] ?? Error)(wire.message, cause === undefined ? undefined : { cause });
    if (err.name !== wire.name) err.name = wire.name;
  }
  if (wire.stack !== undefined) err.stack = wire.stack;
  return err;
}
