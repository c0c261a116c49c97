/**
 * Model bytes in memory that worker threads share instead of copying:
 * `workerData` clones a plain `Uint8Array` into each thread, so an
 * inference thread that keeps its model's bytes (to open the session again
 * after a crash) would hold a second copy of a model that can be gigabytes.
 * A view over a `SharedArrayBuffer` crosses without a copy. (ONNX Runtime
 * and `TextDecoder` refuse shared memory: a thread hands them
 * `ownBytes`, a copy it drops once the session is open.)
 */
export function sharedBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.buffer instanceof SharedArrayBuffer) return bytes;
  const shared = new Uint8Array(new SharedArrayBuffer(bytes.byteLength));
  shared.set(bytes);
  return shared;
}

/** A private copy of shared bytes, for the APIs that refuse shared memory. */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.buffer instanceof SharedArrayBuffer ? new Uint8Array(bytes) : bytes;
}
