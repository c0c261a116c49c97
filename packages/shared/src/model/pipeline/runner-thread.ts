import { Worker } from "node:worker_threads";
import { createLogger, type Logger } from "../../logger.js";
import { endThread, workerEntry } from "../../source-imports/worker-entry.js";
import { RenderError } from "../errors.js";
import { sharedBytes } from "../shared-bytes.js";
import type { Pipeline } from "./load.js";
import type { CreatePipelineRunnerOptions, GenerateOptions, Generation, PipelineRunner, PipelineTrace, TraceStep } from "./runner.js";
import { errorFromWire, type FromThread, type ThreadInit, type ToThread, type TraceMeta } from "./runner-thread-wire.js";

export interface CreatePipelineRunnerThreadOptions extends CreatePipelineRunnerOptions {
  /**
   * Test seam: after it reports each step, the thread waits (`Atomics.wait`)
   * while `stepGate[0]` is 0, so a test acts while a render is surely in
   * flight, then sets it to 1 and notifies. An `Int32Array` over a
   * `SharedArrayBuffer`.
   */
  stepGate?: Int32Array | undefined;
}

/** What renders a provider's segments: a `PipelineRunner`, or the same on a thread of its own. */
export type SegmentGenerator = Pick<PipelineRunner, "manifest" | "device" | "generate" | "close">;

interface Pending {
  options: GenerateOptions;
  tensors: Float32Array[];
  resolve: (gen: Generation) => void;
  reject: (err: unknown) => void;
}

/**
 * A `PipelineRunner` on a worker thread of its own (`runner-thread-entry.ts`):
 * the denoising loop, the scheduler and every `session.run` happen there, so
 * the caller's thread stays free for the network, the trace commit and the
 * encoder while a segment renders. `generate` takes and returns the same
 * things as `PipelineRunner.generate`: `onTensor` sees each trace tensor
 * (copied across once) in the same order, and the returned trace holds those
 * very arrays. If the thread dies, the renders in flight fail with a
 * `RenderError` and the next `generate` starts a new thread.
 */
export class PipelineRunnerThread implements SegmentGenerator {
  readonly manifest: PipelineRunner["manifest"];
  readonly device: "cpu" | "cuda";
  readonly #init: ThreadInit;
  readonly #logger: Pick<Logger, "info" | "warn">;
  readonly #pending = new Map<number, Pending>();
  #worker: Promise<Worker> | undefined;
  #current: Worker | undefined;
  #nextId = 0;
  #closed = false;

  private constructor(init: ThreadInit, logger: Pick<Logger, "info" | "warn">, worker: Worker, device: "cpu" | "cuda") {
    this.manifest = init.pipeline.manifest;
    this.#init = init;
    this.#logger = logger;
    this.device = device;
    this.#adopt(worker);
  }

  /** Opens the runner on a new thread; refuses as `PipelineRunner.create` does (same error classes). */
  static async create(options: CreatePipelineRunnerThreadOptions): Promise<PipelineRunnerThread> {
    const { logger: given, ...rest } = options;
    // Kept for a new thread after a crash, and shared with the thread rather than copied into it.
    const files = Object.fromEntries(Object.entries(rest.pipeline.files).map(([role, bytes]) => [role, sharedBytes(bytes)]));
    const init = { ...rest, pipeline: { ...rest.pipeline, files: files as Pipeline["files"] } };
    const logger = given ?? createLogger({ name: "model:pipeline" });
    const { worker, device } = await start(init, logger);
    return new PipelineRunnerThread(init, logger, worker, device);
  }

  async generate(options: GenerateOptions): Promise<Generation> {
    if (this.#closed) throw new RenderError("The pipeline runner is closed.");
    options.signal?.throwIfAborted();
    this.#worker ??= start(this.#init, this.#logger).then(({ worker }) => this.#adopt(worker));
    const worker = await this.#worker;
    const id = ++this.#nextId;
    const { signal } = options;
    const request = { ...options, signal: undefined, onStep: undefined, onTensor: undefined };
    return new Promise<Generation>((resolve, reject) => {
      const onAbort = () => {
        worker.postMessage({ type: "abort", id } satisfies ToThread);
        settle();
        reject(signal?.reason);
      };
      const settle = () => {
        signal?.removeEventListener("abort", onAbort);
        this.#pending.delete(id);
        if (this.#pending.size === 0) worker.unref();
      };
      this.#pending.set(id, {
        options,
        tensors: [],
        resolve: (gen) => (settle(), resolve(gen)),
        reject: (err) => (settle(), reject(err)),
      });
      signal?.addEventListener("abort", onAbort, { once: true });
      // A render in flight keeps the process alive; an idle thread does not.
      worker.ref();
      worker.postMessage({ type: "generate", id, options: request } satisfies ToThread);
    });
  }

  /**
   * Ends the inference thread between two of its steps, as if it had died:
   * the renders in flight fail with a `RenderError` and the next `generate`
   * starts a new thread. (Tests use it to stand for a crash. Never
   * `Worker.terminate()` this thread: onnxruntime-node aborts the whole
   * process when its thread is torn down inside a `session.run`.)
   */
  async stopThread(): Promise<void> {
    // Posted before the first await, so a test holding the thread (`stepGate`) knows it is queued.
    const worker = this.#current;
    if (worker === undefined) return;
    await endThread(worker, { type: "exit" } satisfies ToThread);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#current ?? (await this.#worker?.catch(() => undefined));
    if (worker === undefined) return;
    // The thread stops its renders and releases its sessions before it ends.
    await endThread(worker, { type: "close" } satisfies ToThread);
  }

  #adopt(worker: Worker): Worker {
    this.#worker = Promise.resolve(worker);
    worker.unref();
    worker.on("message", (message: FromThread) => this.#onMessage(message));
    this.#current = worker;
    const lost = (why: string, cause?: unknown) => {
      if (this.#current === worker) {
        this.#current = undefined;
        this.#worker = undefined;
      }
      const err = new RenderError(`The inference thread of pipeline ${this.manifest.name} stopped: ${why}.`, {
        cause,
        hint: "The next segment starts a new thread; if this repeats, check the provider's memory and its ONNX Runtime install.",
      });
      for (const p of [...this.#pending.values()]) p.reject(err);
    };
    worker.on("error", (err) => lost(err.message, err));
    worker.on("exit", (code) => {
      if (!this.#closed) lost(`it exited with code ${code}`);
      else for (const p of [...this.#pending.values()]) p.reject(new RenderError("The pipeline runner was closed during the render."));
    });
    return worker;
  }

  #onMessage(message: FromThread): void {
    if (message.type === "log") {
      this.#logger[message.level](message.obj, message.msg);
      return;
    }
    if (message.type !== "step" && message.type !== "done" && message.type !== "error") return;
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return; // aborted here already
    try {
      if (message.type === "error") {
        pending.reject(errorFromWire(message.error));
        return;
      }
      for (const t of message.tensors) {
        pending.tensors.push(t);
        pending.options.onTensor?.(t);
      }
      if (message.type === "step") pending.options.onStep?.({ type: "denoise:step", done: message.done, total: message.total });
      else pending.resolve({ frames: message.frames, trace: traceOf(message.meta, pending.tensors, this.manifest.name) });
    } catch (err) {
      // A callback threw (as it would out of PipelineRunner.generate): this render fails and the thread stops it.
      this.#current?.postMessage({ type: "abort", id: message.id } satisfies ToThread);
      pending.reject(err);
    }
  }
}

async function start(init: ThreadInit, logger: Pick<Logger, "info" | "warn">): Promise<{ worker: Worker; device: "cpu" | "cuda" }> {
  const entry = workerEntry(import.meta.url, "runner-thread-entry");
  const worker = new Worker(entry.url, { workerData: init, execArgv: entry.execArgv, name: "rendermesh inference" });
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromThread) => {
      if (message.type === "log") logger[message.level](message.obj, message.msg);
      else if (message.type === "ready") done(() => resolve({ worker, device: message.device }));
      else if (message.type === "failed") done(() => reject(errorFromWire(message.error)));
    };
    const onError = (err: Error) =>
      done(() =>
        reject(new RenderError(`The inference thread of pipeline ${init.pipeline.manifest.name} failed to start.`, { cause: err })),
      );
    const onExit = (code: number) =>
      done(() =>
        reject(
          new RenderError(`The inference thread of pipeline ${init.pipeline.manifest.name} exited with code ${code} before it was ready.`),
        ),
      );
    const done = (then: () => void) => {
      worker.off("message", onMessage).off("error", onError).off("exit", onExit);
      then();
    };
    worker.on("message", onMessage).on("error", onError).on("exit", onExit);
  });
}

/** The trace from its tensors in `onTensor` order: the text embeddings, each step's latent and outputs, the final latent. */
function traceOf(meta: TraceMeta, tensors: Float32Array[], name: string): PipelineTrace {
  const perStep = meta.classifierFree ? 3 : 2;
  const head = meta.classifierFree ? 2 : 1;
  if (tensors.length !== head + meta.timesteps.length * perStep + 1)
    throw new RenderError(
      `The inference thread of pipeline ${name} sent ${tensors.length} trace tensors for ${meta.timesteps.length} steps.`,
    );
  const at = (i: number) => tensors[i] as Float32Array;
  const steps: TraceStep[] = meta.timesteps.map((t, i) => {
    const base = head + i * perStep;
    return { t, latent: at(base), cond: at(base + 1), uncond: meta.classifierFree ? at(base + 2) : undefined };
  });
  return {
    pipeline: meta.pipeline,
    seed: meta.seed,
    segment: meta.segment,
    guidance: meta.guidance,
    latentDims: meta.latentDims,
    text: { dims: meta.textDims, cond: at(0), uncond: meta.classifierFree ? at(1) : undefined },
    steps,
    final: at(tensors.length - 1),
  };
}
