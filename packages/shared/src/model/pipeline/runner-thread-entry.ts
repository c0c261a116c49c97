/**
 * The inference thread of a `PipelineRunnerThread`. onnxruntime-node runs
 * `session.run` on the thread that calls it, so a runner on a provider's
 * main thread stopped its libp2p, block serving, trace commits and encoder
 * pipes for every denoising step (and they stopped inference in turn). Here
 * the whole denoising loop runs on a thread of its own; the trace tensors
 * and the frames go back as messages.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { ownBytes } from "../shared-bytes.js";
import { PipelineRunner } from "./runner.js";
import { errorToWire, type FromThread, type GenerateRequest, type ThreadInit, type ToThread } from "./runner-thread-wire.js";

if (parentPort === null) throw new Error("runner-thread-entry runs as a worker thread (PipelineRunnerThread starts it).");
const port: MessagePort = parentPort;
const send = (message: FromThread, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);
const log =
  (level: "info" | "warn") =>
  (obj: Record<string, unknown>, msg = "") =>
    send({ type: "log", level, obj, msg });

const { stepGate, ...init } = workerData as ThreadInit;
const files = Object.fromEntries(Object.entries(init.pipeline.files).map(([role, bytes]) => [role, ownBytes(bytes)]));
const pipeline = { ...init.pipeline, files: files as ThreadInit["pipeline"]["files"] };
const opened = await PipelineRunner.create({ ...init, pipeline, logger: { info: log("info"), warn: log("warn") } }).catch(
  (err: unknown) => {
    // The caller rethrows it; the thread ends with nothing left to run.
    send({ type: "failed", error: errorToWire(err) });
    port.close();
    return undefined;
  },
);
if (opened !== undefined) serve(opened);

function serve(runner: PipelineRunner): void {
  const aborts = new Map<number, AbortController>();
  const running = new Set<Promise<void>>();
  port.on("message", (message: ToThread) => {
    if (message.type === "abort") aborts.get(message.id)?.abort();
    else if (message.type === "close") void close();
    else if (message.type === "exit") process.exit(1);
    else {
      const abort = new AbortController();
      aborts.set(message.id, abort);
      const done = generate(runner, message.id, message.options, abort.signal).finally(() => {
        aborts.delete(message.id);
        running.delete(done);
      });
      running.add(done);
    }
  });
  send({ type: "ready", device: runner.device });

  async function close(): Promise<void> {
    for (const a of aborts.values()) a.abort();
    // A session released between two steps of a render would be run once more: the renders stop first.
    await Promise.allSettled(running);
    await runner.close();
    port.close();
  }
}

async function generate(runner: PipelineRunner, id: number, options: GenerateRequest, signal: AbortSignal): Promise<void> {
  // Each step's tensors go in one message with its progress. They are copied across: the scheduler may keep the originals.
  let tensors: Float32Array[] = [];
  try {
    const { frames, trace } = await runner.generate({
      ...options,
      signal,
      onTensor: (data) => tensors.push(data),
      onStep: ({ done, total }) => {
        send({ type: "step", id, tensors, done, total });
        tensors = [];
        if (stepGate !== undefined) Atomics.wait(stepGate, 0, 0);
      },
    });
    const meta = {
      pipeline: trace.pipeline,
      seed: trace.seed,
      segment: trace.segment,
      guidance: trace.guidance,
      latentDims: trace.latentDims,
      textDims: trace.text.dims,
      timesteps: trace.steps.map((s) => s.t),
      classifierFree: trace.text.uncond !== undefined,
    };
    send({ type: "done", id, tensors, frames, meta }, transferable(frames));
  } catch (err) {
    send({ type: "error", id, error: errorToWire(err) });
  }
}

/** The frames' buffers, when each frame owns its whole buffer (the runner's do); otherwise they are copied. */
function transferable(frames: Uint8Array[]): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const f of frames) {
    if (!(f.buffer instanceof ArrayBuffer) || f.byteOffset !== 0 || f.byteLength !== f.buffer.byteLength || buffers.has(f.buffer))
      return [];
    buffers.add(f.buffer);
  }
  return [...buffers];
}
