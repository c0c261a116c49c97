import type { Worker } from "node:worker_threads";

/**
 * How to start a worker thread on one of this package's modules, from
 * `dist/` (built) or from the TypeScript sources (tests): the entry's URL
 * beside the caller, and the `execArgv` that lets the sources load.
 */
export function workerEntry(callerUrl: string, name: string): { url: URL; execArgv: string[] | undefined } {
  if (!callerUrl.endsWith(".ts")) return { url: new URL(`./${name}.js`, callerUrl), execArgv: undefined };
  return { url: new URL(`./${name}.ts`, callerUrl), execArgv: ["--import", new URL("./register.ts", import.meta.url).href] };
}

/**
 * Posts `message` (one that makes the thread end by itself, between two of
 * its runs) and resolves when it has exited. Inference threads are never
 * `terminate()`d: onnxruntime-node aborts the process when its thread is
 * torn down inside a run.
 */
export function endThread(worker: Worker, message: unknown): Promise<void> {
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  worker.ref();
  worker.postMessage(message);
  return exited;
}
