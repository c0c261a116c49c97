import type * as Ort from "onnxruntime-node";

/**
 * ONNX Runtime, loaded on first use: its native binding costs ~100 MB and a
 * good part of a second, which a part that never renders (a CLI printing its
 * help, the coordinator) must not pay for merely importing this module.
 */
export type OnnxRuntime = typeof Ort;

let loading: Promise<OnnxRuntime> | undefined;

export function loadOnnxRuntime(): Promise<OnnxRuntime> {
  loading ??= import("onnxruntime-node");
  return loading;
}

/**
 * Session options every Rendermesh ONNX Runtime session uses: ONNX
 * Runtime's worker threads sleep when a run ends instead of spin-waiting for
 * the next one. Spinning only pays on a machine that does nothing else; a
 * provider's ffmpeg, hashing and IPFS stages, a client's verification and
 * every other process on the host need those cycles. Measured under load on
 * 2 cores (docs/performance.md): the diffusion pipeline's bare inference ran
 * about twice as fast and took about half the CPU. Results are unchanged:
 * spinning decides only how a thread waits.
 */
export const SESSION_THREADING = Object.freeze({
  extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
});

/** Float RGB in [0, 1] → bytes, rounding to nearest; out-of-range and NaN values are clamped. The one rounding every renderer uses. */
export function toRgb24(src: Float32Array, srcOffset: number, length: number, dst: Uint8Array, dstOffset: number): void {
  for (let i = 0; i < length; i++) {
    const v = src[srcOffset + i] as number;
    dst[dstOffset + i] = v >= 1 ? 255 : v > 0 ? (v * 255 + 0.5) | 0 : 0;
  }
}
