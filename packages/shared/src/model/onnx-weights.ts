import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/**
 * Rewrites every float32 initializer of an ONNX model through `map` and
 * returns the new model's bytes. The trust study and the calibration tool
 * use it to make the models a cheating provider could run instead of the
 * committed one (int8-rounded weights, a perturbed "other" model, a cheaper
 * decoder) without any Python.
 */
export function mapFloatInitializers(
  bytes: Uint8Array,
  map: (name: string, values: Float32Array, dims: readonly number[]) => Float32Array,
): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  for (const init of model.graph?.initializer ?? []) {
    if (init.dataType !== onnx.TensorProto.DataType.FLOAT) continue;
    const dims = (init.dims ?? []).map((d) => Number(d));
    let values: Float32Array;
    if (init.rawData && init.rawData.length > 0) {
      const raw = init.rawData;
      const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      values = new Float32Array(raw.byteLength / 4);
      for (let i = 0; i < values.length; i++) values[i] = view.getFloat32(i * 4, true);
    } else values = Float32Array.from(init.floatData ?? []);
    const out = map(init.name ?? "", values, dims);
    const rawOut = new Uint8Array(out.length * 4);
    const w = new DataView(rawOut.buffer);
    for (let i = 0; i < out.length; i++) w.setFloat32(i * 4, out[i] as number, true);
    init.rawData = rawOut;
    init.floatData = [];
  }
  const encoded = onnx.ModelProto.encode(model).finish();
  return new Uint8Array(encoded.buffer.slice(encoded.byteOffset, encoded.byteOffset + encoded.byteLength));
}

/** Symmetric per-tensor quantisation to `levels` levels (255 = int8), back to float32: what a cheaper model computes with. */
export function quantiseWeights(bytes: Uint8Array, levels: number): Uint8Array {
  return mapFloatInitializers(bytes, (_name, values) => {
    if (values.length < 16) return values; // biases and scalars stay exact, as int8 toolchains keep them
    let max = 0;
    for (const v of values) max = Math.max(max, Math.abs(v));
    if (max === 0) return values;
    const half = (levels - 1) / 2;
    const scale = max / half;
    return values.map((v) => Math.round(v / scale) * scale);
  });
}
