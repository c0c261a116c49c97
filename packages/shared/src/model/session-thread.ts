import { Worker } from "node:worker_threads";
import type * as ort from "onnxruntime-node";
import { endThread, workerEntry } from "../source-imports/worker-entry.js";
import { sharedBytes } from "./shared-bytes.js";

/** A tensor as it crosses to and from the thread (structured clone keeps typed arrays, not `ort.Tensor`). */
export interface WireTensor {
  type: ort.Tensor.Type;
  data: ort.Tensor.DataType;
  dims: readonly number[];
}

export interface SessionThreadInit {
  bytes: Uint8Array;
  options: ort.InferenceSession.SessionOptions;
  /**
   * Test seam: when `dieOnRun[0]` is 1, the thread sets it to 0 and exits on
   * the next run it receives, before running it, as a crash inside a run
   * would: that run (and any queued behind it) is surely in flight. An
   * `Int32Array` over a `SharedArrayBuffer`.
   */
  dieOnRun?: Int32Array | undefined;
}

export type ToSessionThread =
  | { type: "run"; id: number; feeds: Record<string, WireTensor>; fetches: string[] }
  | { type: "release" }
  /** End now, between two runs, as a crash would (`stopThread`). */
  | { type: "exit" };

export type FromSessionThread =
  | { type: "ready"; inputNames: string[]; outputNames: string[] }
  | { type: "failed"; message: string }
  | { type: "result"; id: number; outputs: Record<string, WireTensor> }
  | { type: "error"; id: number; message: string };

/** The part of an `ort.InferenceSession` a renderer uses: what `openSessionThread` gives too. */
export interface RunnableSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, ort.Tensor>, fetches: string[]): Promise<Record<string, WireTensor>>;
  release(): Promise<void>;
}

/**
 * One ONNX Runtime session on a worker thread of its own
 * (`session-thread-entry.ts`): `run` posts the feeds there and resolves with
 * the outputs (their buffers moved, not copied), so the caller's thread
 * converts and encodes one batch while the next one runs. If the thread
 * dies, its runs in flight fail and the next `run` opens the session again
 * on a new thread. Never `Worker.terminate()` it: onnxruntime-node aborts
 * the process when its thread is torn down inside a run.
 */
export class SessionThread implements RunnableSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  readonly #init: SessionThreadInit;
  readonly #pending = new Map<number, { resolve: (o: Record<string, WireTensor>) => void; reject: (e: Error) => void }>();
  #worker: Promise<Worker> | undefined;
  #current: Worker | undefined;
  #nextId = 0;
  #released = false;

  private constructor(init: SessionThreadInit, worker: Worker, names: { inputNames: string[]; outputNames: string[] }) {
    this.#init = init;
    this.inputNames = names.inputNames;
    this.outputNames = names.outputNames;
    this.#adopt(worker);
  }

  /** Creates the session on a new thread; rejects with ONNX Runtime's own message when it cannot. */
  static async open(
    bytes: Uint8Array,
    options: ort.InferenceSession.SessionOptions,
    seams: Pick<SessionThreadInit, "dieOnRun"> = {},
  ): Promise<SessionThread> {
    const init = { bytes: sharedBytes(bytes), options, ...seams };
    const { worker, names } = await start(init);
    return new SessionThread(init, worker, names);
  }

  async run(feeds: Record<string, ort.Tensor>, fetches: string[]): Promise<Record<string, WireTensor>> {
    if (this.#released) throw new Error("The session is released.");
    this.#worker ??= start(this.#init).then(({ worker }) => this.#adopt(worker));
    const worker = await this.#worker;
    const id = ++this.#nextId;
    const wire: Record<string, WireTensor> = {};
    for (const [name, t] of Object.entries(feeds)) wire[name] = { type: t.type, data: t.data, dims: t.dims };
    return new Promise((resolve, reject) => {
      const settle = () => {
        this.#pending.delete(id);
        if (this.#pending.size === 0) worker.unref();
      };
      this.#pending.set(id, { resolve: (o) => (settle(), resolve(o)), reject: (e) => (settle(), reject(e)) });
      // A run in flight keeps the process alive; an idle thread does not.
      worker.ref();
      worker.postMessage({ type: "run", id, feeds: wire, fetches } satisfies ToSessionThread);
    });
  }

  /** Ends the thread between two runs, as if it had died (tests stand it for a crash). */
  async stopThread(): Promise<void> {
    const worker = await this.#worker?.catch(() => undefined);
    if (worker === undefined) return;
    await endThread(worker, { type: "exit" } satisfies ToSessionThread);
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const worker = await this.#worker?.catch(() => undefined);
    if (worker === undefined) return;
    // The runs queued before it finish; then the session is released and the thread ends.
    await endThread(worker, { type: "release" } satisfies ToSessionThread);
  }

  #adopt(worker: Worker): Worker {
    this.#worker = Promise.resolve(worker);
    this.#current = worker;
    worker.unref();
    worker.on("message", (message: FromSessionThread) => {
      if (message.type !== "result" && message.type !== "error") return;
      const pending = this.#pending.get(message.id);
      if (message.type === "result") pending?.resolve(message.outputs);
      else pending?.reject(new Error(message.message));
    });
    const lost = (why: string) => {
      if (this.#current === worker) {
        this.#current = undefined;
        this.#worker = undefined;
      }
      for (const p of [...this.#pending.values()]) p.reject(new Error(`the inference thread stopped: ${why}`));
    };
    worker.on("error", (err) => lost(err.message));
    worker.on("exit", (code) => lost(`it exited with code ${code}`));
    return worker;
  }
}

function start(init: SessionThreadInit): Promise<{ worker: Worker; names: { inputNames: string[]; outputNames: string[] } }> {
  const entry = workerEntry(import.meta.url, "session-thread-entry");
  const worker = new Worker(entry.url, { workerData: init, execArgv: entry.execArgv, name: "rendermesh inference" });
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromSessionThread) => {
      if (message.type === "ready") done(() => resolve({ worker, names: message }));
      else if (message.type === "failed") done(() => reject(new Error(message.message)));
    };
    const onError = (err: Error) => done(() => reject(err));
    const onExit = (code: number) =>
      done(() => reject(new Error(`the inference thread exited with code ${code} before its session opened`)));
    const done = (then: () => void) => {
      worker.off("message", onMessage).off("error", onError).off("exit", onExit);
      then();
    };
    worker.on("message", onMessage).on("error", onError).on("exit", onExit);
  });
}
