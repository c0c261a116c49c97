import { OnnxGraphBuilder } from "./onnx-builder.js";
import { Xoshiro128 } from "./prng.js";
import { DEFAULT_LATENT_DIM, LATENT_LAYOUT, PROMPT_ENCODING } from "./latent-layout.js";
import { ModelManifest, modelId, type Model } from "./manifest.js";

/**
 * The shape of the default neural field. Changing any value changes the ONNX
 * bytes and so the model id: it is a new model for the network.
 */
export interface FieldArchitecture {
  /** Width of each hidden layer. */
  hidden: number;
  /** Hidden D×D layers after the first (2→D) layer. */
  hiddenLayers: number;
  /** Sinusoidal time features (each gives a sin and a cos). */
  timeFrequencies: number;
  latentDim: number;
  /** Spatial frequency scale of the first layer (SIREN ω0), for coordinates in [-1, 1]. */
  omega0: number;
  /** Seed of the weight PRNG. */
  weightSeed: number;
}

export const DEFAULT_ARCHITECTURE: Readonly<FieldArchitecture> = Object.freeze({
  hidden: 64,
  hiddenLayers: 3,
  timeFrequencies: 8,
  latentDim: DEFAULT_LATENT_DIM,
  omega0: 5,
  weightSeed: 0x52454e44, // "REND"
});

/**
 * The id (0x + sha256) that `buildDefaultModel()` produces. Pinned so that a
 * change to the graph, the weights or the protobuf encoding — which makes a
 * new model for the network — is noticed by the tests, and so that tools can
 * name the default model without building it.
 */
export const DEFAULT_MODEL_ID = "0x814b7c25bcdc3fb360b751bbc16b32e5303aee54d717bfc2aabae86f6f154f84";

export const DEFAULT_MODEL_NAME = "rendermesh-field";
export const DEFAULT_MODEL_VERSION = "1.0.0";
export const DEFAULT_OPSET = 17;

/**
 * Builds the default Rendermesh model: a SIREN-style neural field
 * `(pixel coordinates, time, prompt latent) → RGB`, written as ONNX from
 * code with weights from a fixed-seed PRNG. No weights are downloaded and
 * every call returns the same bytes.
 *
 * Inputs: `coords` float32 [N, 2] (pixel centres, see `pixelCoords`),
 * `t` float32 [B] (seconds), `latent` float32 [1, L]. Output: `rgb`
 * float32 [B, N, 3] in [0, 1]. Cost per frame is O(N · hidden² · layers).
 *
 * @example
 * const bytes = buildDefaultModel();
 * const session = await InferenceSession.create(bytes);
 */
export function buildDefaultModel(arch: FieldArchitecture = DEFAULT_ARCHITECTURE): Uint8Array {
  const { hidden: D, hiddenLayers, timeFrequencies: K, latentDim: L, omega0 } = arch;
  if (L <= LATENT_LAYOUT.style) throw new RangeError(`latentDim must exceed ${LATENT_LAYOUT.style}`);
  const S = L - LATENT_LAYOUT.style;
  const filmLayers = hiddenLayers + 1;
  const rng = new Xoshiro128(arch.weightSeed, D, hiddenLayers, K, L);
  const uniform = (n: number, bound: number) => Array.from({ length: n }, () => rng.uniform(-bound, bound));

  const g = new OnnxGraphBuilder();
  const coords = g.input("coords", ["N", 2], "pixel centre coordinates; the longer image side spans [-1, 1]");
  const t = g.input("t", ["B"], "time of each frame in seconds (frame k of a job is at k / fps)");
  const latent = g.input("latent", [1, L], `prompt latent (${PROMPT_ENCODING})`);

  const axes1 = g.int64("axes1", [1]);
  const slice = (start: number, end: number) => g.op("Slice", [latent, g.int64("start", [start]), g.int64("end", [end]), axes1]);

  // Scaled time: tau = t · 2^logSpeed, one row per frame.
  const tCol = g.op("Unsqueeze", [t, axes1]); // [B,1]
  const ln2 = g.float("ln2", [1], [Math.LN2]);
  const speed = g.op("Exp", [g.op("Mul", [slice(LATENT_LAYOUT.logSpeed, LATENT_LAYOUT.logSpeed + 1), ln2])]); // [1,1]
  const tau = g.op("Mul", [tCol, speed]); // [B,1]

  // Per-frame motion of the coordinate frame: rotation by tau·spin, then drift tau·v.
  const angle = g.op("Mul", [tau, slice(LATENT_LAYOUT.spin, LATENT_LAYOUT.spin + 1)]);
  const cos = g.op("Cos", [angle]);
  const sin = g.op("Sin", [angle]);
  const rot = g.op("Reshape", [g.op("Concat", [cos, sin, g.op("Neg", [sin]), cos], { axis: 1 }), g.int64("rot_shape", [-1, 2, 2])]); // [B,2,2]
  const shift = g.op("Unsqueeze", [g.op("Mul", [tau, slice(LATENT_LAYOUT.drift, LATENT_LAYOUT.drift + 2)]), axes1]); // [B,1,2]
  const moved = g.op("Add", [g.op("MatMul", [coords, rot]), shift]); // [B,N,2]

  // Time features: sin/cos of tau at K fixed frequencies with fixed phases.
  const freqs = g.float(
    "time_freq",
    [1, K],
    Array.from({ length: K }, (_, k) => 0.6 + (1.8 * (k + rng.next())) / K),
  );
  const phases = g.float("time_phase", [1, K], uniform(K, 3.14159265));
  const tArg = g.op("Add", [g.op("MatMul", [tau, freqs]), phases]); // [B,K]
  const tFeat = g.op("Concat", [g.op("Sin", [tArg]), g.op("Cos", [tArg])], { axis: 1 }); // [B,2K]

  // FiLM parameters for every layer from the time features and the style slice:
  // film = tFeat·Wt + style·Ws + bias, laid out as [gamma_0, beta_0, gamma_1, …].
  const style = slice(LATENT_LAYOUT.style, L); // [1,S]
  const F = 2 * D * filmLayers;
  const wt: number[] = [];
  const ws: number[] = [];
  const bias: number[] = [];
  const timeBound = (scale: number) => (scale * Math.sqrt(3)) / Math.sqrt(2 * K);
  const styleBound = (scale: number) => (scale * Math.sqrt(3)) / Math.sqrt(S);
  const columnScales: { time: number; style: number; bias: (j: number) => number }[] = [];
  for (let l = 0; l < filmLayers; l++) {
    // gamma: around 1, gently modulated; beta: a phase shift of each unit.
    const gammaBias = () => 1;
    const betaBound = l === 0 ? 1.0 : Math.sqrt(6 / D);
    for (let j = 0; j < D; j++) columnScales.push({ time: 0.12, style: 0.1, bias: gammaBias });
    for (let j = 0; j < D; j++)
      columnScales.push({ time: l === 0 ? 0.9 : 0.5, style: l === 0 ? 1.2 : 0.6, bias: () => rng.uniform(-betaBound, betaBound) });
  }
  for (let i = 0; i < 2 * K; i++) for (const c of columnScales) wt.push(rng.uniform(-timeBound(c.time), timeBound(c.time)));
  for (let i = 0; i < S; i++) for (const c of columnScales) ws.push(rng.uniform(-styleBound(c.style), styleBound(c.style)));
  for (const c of columnScales) bias.push(c.bias(0));
  const film = g.op("Add", [
    g.op("Add", [g.op("MatMul", [tFeat, g.float("film_wt", [2 * K, F], wt)]), g.op("MatMul", [style, g.float("film_ws", [S, F], ws)])]),
    g.float("film_bias", [F], bias),
  ]); // [B,F]
  const filmParts = g.node(
    "Split",
    [g.op("Reshape", [film, g.int64("film_shape", [-1, 2 * filmLayers, D])]), g.int64("split", Array(2 * filmLayers).fill(1))],
    {
      outputs: 2 * filmLayers,
      attributes: { axis: 1 },
      prefix: "film",
    },
  ); // each [B,1,D]
  const gamma = (l: number) => filmParts[2 * l] as string;
  const beta = (l: number) => filmParts[2 * l + 1] as string;

  // SIREN layers: h = sin((h·W)·gamma + beta). The first layer carries omega0.
  let h = g.op("Sin", [
    g.op("Add", [g.op("Mul", [g.op("MatMul", [moved, g.float("w0", [2, D], uniform(2 * D, omega0))]), gamma(0)]), beta(0)]),
  ]);
  const hiddenBound = Math.sqrt(6 / D);
  for (let l = 1; l <= hiddenLayers; l++) {
    const w = g.float(`w${l}`, [D, D], uniform(D * D, hiddenBound));
    h = g.op("Sin", [g.op("Add", [g.op("Mul", [g.op("MatMul", [h, w]), gamma(l)]), beta(l)])]);
  }

  // Output: contrast · (h·Wout + b) + palette · gain, then a sigmoid to [0, 1].
  // Output columns share a luminance direction, so the picture has light and
  // dark structure and the palette offset below sets its hue.
  const outBound = Math.sqrt(6 / D);
  const wOutValues: number[] = [];
  for (let j = 0; j < D; j++) {
    const luma = rng.uniform(-outBound, outBound);
    for (let c = 0; c < 3; c++) wOutValues.push(0.75 * luma + 0.6 * rng.uniform(-outBound, outBound));
  }
  const wOut = g.float("w_out", [D, 3], wOutValues);
  const bOut = g.float("b_out", [3], uniform(3, 0.2));
  const contrast = g.op("Exp", [g.op("Mul", [slice(LATENT_LAYOUT.logContrast, LATENT_LAYOUT.logContrast + 1), ln2])]); // [1,1]
  const logits = g.op("Mul", [
    g.op("Add", [g.op("MatMul", [h, wOut]), bOut]),
    g.op("Mul", [contrast, g.float("contrast_gain", [1], [1.4])]),
  ]);
  const palette = slice(LATENT_LAYOUT.palette, LATENT_LAYOUT.palette + 3); // [1,3]
  const rgb = g.op("Sigmoid", [g.op("Add", [logits, palette])]);
  g.identity(rgb, "rgb");
  g.output("rgb", ["B", "N", 3], "RGB in [0, 1] per frame and pixel");

  return g.encode({
    graphName: DEFAULT_MODEL_NAME,
    opset: DEFAULT_OPSET,
    producerName: "rendermesh",
    producerVersion: DEFAULT_MODEL_VERSION,
    docString: "Rendermesh default model: a SIREN neural field (pixel coordinates, time, prompt latent) -> RGB, built from code.",
    metadata: {
      "rendermesh.hidden": String(D),
      "rendermesh.hiddenLayers": String(hiddenLayers),
      "rendermesh.latentEncoding": PROMPT_ENCODING,
    },
  });
}

/** The reference size at which the default model is benchmarked and priced. */
export const DEFAULT_REFERENCE = Object.freeze({ width: 256, height: 256, fps: 24 });
export const DEFAULT_LIMITS = Object.freeze({ minWidth: 16, minHeight: 16, maxWidth: 2048, maxHeight: 2048, maxFps: 60 });

/** The manifest of ONNX bytes built by `buildDefaultModel` with the default architecture. */
export function defaultManifest(bytes: Uint8Array): ModelManifest {
  return ModelManifest.parse({
    id: modelId(bytes),
    name: DEFAULT_MODEL_NAME,
    version: DEFAULT_MODEL_VERSION,
    description:
      "Rendermesh default model: a SIREN neural field (pixel coordinates, time, prompt latent) -> RGB, built reproducibly from code. " +
      "Cost per frame grows with width x height.",
    format: "onnx",
    opset: DEFAULT_OPSET,
    inputs: [
      { name: "coords", dtype: "float32", shape: ["N", 2], description: "pixel centres, row-major; the longer side spans [-1, 1]" },
      { name: "t", dtype: "float32", shape: ["B"], description: "time of each frame in seconds (frame k at k / fps)" },
      { name: "latent", dtype: "float32", shape: [1, DEFAULT_ARCHITECTURE.latentDim], description: `prompt latent (${PROMPT_ENCODING})` },
    ],
    outputs: [{ name: "rgb", dtype: "float32", shape: ["B", "N", 3], description: "RGB in [0, 1]" }],
    latent: { dim: DEFAULT_ARCHITECTURE.latentDim, encoding: PROMPT_ENCODING },
    coordinates: "centred-longest-side/1",
    reference: { ...DEFAULT_REFERENCE },
    limits: { ...DEFAULT_LIMITS },
  });
}

let cached: Model | undefined;

/**
 * The network's default model: its ONNX bytes and manifest, built once per
 * process. Its id is the same on every machine.
 *
 * @example
 * const { manifest } = defaultModel();
 * manifest.id; // "0x…" (sha256 of the ONNX bytes)
 */
export function defaultModel(): Model {
  if (!cached) {
    const bytes = buildDefaultModel();
    cached = { bytes, manifest: defaultManifest(bytes) };
  }
  return { bytes: cached.bytes.slice(), manifest: structuredClone(cached.manifest) };
}
