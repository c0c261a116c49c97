import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** A dimension of a graph input or output: a fixed size or a symbolic name. */
export type Dim = number | string;

/**
 * A minimal ONNX graph writer over the protobuf schema (onnx-proto). It
 * emits nodes, float32 initializers as little-endian raw data, and typed
 * inputs and outputs, always in the order they were added, so the same calls
 * encode to the same bytes.
 */
export class OnnxGraphBuilder {
  readonly #nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly #initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  readonly #inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  readonly #outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  readonly #names = new Set<string>();
  #counter = 0;

  /** A fresh value name with a readable prefix. */
  name(prefix: string): string {
    let candidate: string;
    do candidate = `${prefix}_${this.#counter++}`;
    while (this.#names.has(candidate));
    this.#names.add(candidate);
    return candidate;
  }

  input(name: string, shape: readonly Dim[], docString = "", elemType: ElemType = "float32"): string {
    this.#claim(name);
    this.#inputs.push(valueInfo(name, shape, docString, elemType));
    return name;
  }

  output(name: string, shape: readonly Dim[], docString = "", elemType: ElemType = "float32"): void {
    this.#outputs.push(valueInfo(name, shape, docString, elemType));
  }

  /** A float32 constant; values are rounded to float32. */
  float(prefix: string, dims: readonly number[], values: ArrayLike<number>): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (values.length !== count) throw new RangeError(`${prefix}: ${values.length} values for shape [${dims.join(",")}]`);
    const data = new Float32Array(values);
    return this.#initializer(prefix, onnx.TensorProto.DataType.FLOAT, dims, littleEndianBytes(data));
  }

  /** An int64 constant (shapes, axes, split sizes). */
  int64(prefix: string, values: readonly number[]): string {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    return this.#initializer(prefix, onnx.TensorProto.DataType.INT64, [values.length], littleEndianBytes(data));
  }

  /** Adds a node; returns its output names (one per `outputs` count). */
  node(
    opType: string,
    inputs: readonly string[],
    options: { outputs?: number; attributes?: Record<string, number | readonly number[]>; prefix?: string } = {},
  ): string[] {
    const outputs = Array.from({ length: options.outputs ?? 1 }, () => this.name(options.prefix ?? opType.toLowerCase()));
    const attribute = Object.entries(options.attributes ?? {}).map(([name, value]) =>
      typeof value === "number"
        ? onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INT, i: value })
        : onnx.AttributeProto.create({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...value] }),
    );
    this.#nodes.push(
      onnx.NodeProto.create({ opType, input: [...inputs], output: outputs, name: `${opType}_${this.#nodes.length}`, attribute }),
    );
    return outputs;
  }

  /** Adds a node with exactly one output and returns it. */
  op(opType: string, inputs: readonly string[], attributes?: Record<string, number | readonly number[]>): string {
    const [out] = this.node(opType, inputs, attributes ? { attributes } : {});
    return out as string;
  }

  /** Renames the value produced last to a graph output name (via Identity). */
  identity(input: string, name: string): string {
    this.#claim(name);
    this.#nodes.push(onnx.NodeProto.create({ opType: "Identity", input: [input], output: [name], name: `Identity_${this.#nodes.length}` }));
    return name;
  }

  encode(meta: {
    graphName: string;
    opset: number;
    producerName: string;
    producerVersion: string;
    docString: string;
    metadata: Record<string, string>;
  }): Uint8Array {
    const graph = onnx.GraphProto.create({
      name: meta.graphName,
      node: this.#nodes,
      initializer: this.#initializers,
      input: this.#inputs,
      output: this.#outputs,
    });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [onnx.OperatorSetIdProto.create({ domain: "", version: meta.opset })],
      producerName: meta.producerName,
      producerVersion: meta.producerVersion,
      docString: meta.docString,
      graph,
      metadataProps: Object.entries(meta.metadata).map(([key, value]) => onnx.StringStringEntryProto.create({ key, value })),
    });
    const bytes = onnx.ModelProto.encode(model).finish();
    return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }

  #claim(name: string): void {
    if (this.#names.has(name)) throw new Error(`duplicate value name ${name}`);
    this.#names.add(name);
  }

  #initializer(prefix: string, dataType: number, dims: readonly number[], rawData: Uint8Array): string {
    const name = this.name(prefix);
    this.#initializers.push(onnx.TensorProto.create({ name, dataType, dims: [...dims], rawData }));
    return name;
  }
}

/** Element types a graph input or output may have. */
export type ElemType = "float32" | "int64";

function valueInfo(name: string, shape: readonly Dim[], docString: string, elemType: ElemType) {
  return onnx.ValueInfoProto.create({
    name,
    docString,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType: elemType === "int64" ? onnx.TensorProto.DataType.INT64 : onnx.TensorProto.DataType.FLOAT,
        shape: onnx.TensorShapeProto.create({
          dim: shape.map((d) =>
            typeof d === "number"
              ? onnx.TensorShapeProto.Dimension.create({ dimValue: d })
              : onnx.TensorShapeProto.Dimension.create({ dimParam: d }),
          ),
        }),
      }),
    }),
  });
}

/** Raw tensor bytes are little-endian in ONNX; swap on a big-endian host. */
function littleEndianBytes(data: Float32Array | BigInt64Array): Uint8Array {
  const bytes = new Uint8Array(data.buffer.slice(0));
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] === 0) {
    const width = data.BYTES_PER_ELEMENT;
    for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
  }
  return bytes;
}
