/**
 * The thread of a `SessionThread`: one ONNX Runtime session, run on
 * request. onnxruntime-node runs `session.run` on the calling thread, so
 * here it holds this thread instead of the renderer's caller.
 */
import * as ort from "onnxruntime-node";
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { ownBytes } from "./shared-bytes.js";
import type { FromSessionThread, SessionThreadInit, ToSessionThread, WireTensor } from "./session-thread.js";

if (parentPort === null) throw new Error("session-thread-entry runs as a worker thread (SessionThread.open starts it).");
const port: MessagePort = parentPort;
const send = (message: FromSessionThread, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer);
const { bytes, options, dieOnRun } = workerData as SessionThreadInit;

const session = await ort.InferenceSession.create(ownBytes(bytes), options).catch((err: unknown) => {
  send({ type: "failed", message: err instanceof Error ? err.message : String(err) });
  port.close();
  return undefined;
});
if (session !== undefined) {
  let running = Promise.resolve();
  port.on("message", (message: ToSessionThread) => {
    if (message.type === "exit") process.exit(1);
    if (message.type === "run" && dieOnRun !== undefined && Atomics.compareExchange(dieOnRun, 0, 1, 0) === 1) process.exit(1);
    // Runs one after another, as on one thread; release waits for the last.
    running = running.then(() => (message.type === "run" ? run(session, message) : release(session)));
  });
  send({ type: "ready", inputNames: [...session.inputNames], outputNames: [...session.outputNames] });
}

async function run(s: ort.InferenceSession, message: Extract<ToSessionThread, { type: "run" }>): Promise<void> {
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(message.feeds))
      feeds[name] = new ort.Tensor(t.type as "float32", t.data as Float32Array, t.dims);
    const results = await s.run(feeds, message.fetches);
    const outputs: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const name of message.fetches) {
      const t = results[name];
      if (t === undefined) continue;
      outputs[name] = { type: t.type, data: t.data, dims: t.dims };
      const data = t.data as ArrayBufferView;
      if (data.buffer instanceof ArrayBuffer && !transfer.includes(data.buffer)) transfer.push(data.buffer);
    }
    try {
      send({ type: "result", id: message.id, outputs }, transfer);
    } catch {
      send({ type: "result", id: message.id, outputs }); // a buffer that cannot move is copied
    }
  } catch (err) {
    send({ type: "error", id: message.id, message: err instanceof Error ? err.message : String(err) });
  }
}

async function release(s: ort.InferenceSession): Promise<void> {
  await s.release();
  port.close();
}
