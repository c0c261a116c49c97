import type { SchedulerConfig } from "./manifest.js";

/** A committed earlier step as a multistep solver needs it: its input sample and its (guided) model output. */
export interface PastStep {
  sample: Float32Array;
  output: Float32Array;
}

/**
 * A sampler's schedule and update rule, separate from any model, in the
 * shape of diffusers' schedulers: `setTimesteps(n)` fixes the schedule,
 * `step(modelOutput, t, sample)` returns the next sample (remembering what a
 * multistep solver needs of it). `stepAt` is the same update as a pure
 * function of the step's index, its sample and output, and the earlier
 * steps it uses (`historyAt`): what a verifier recomputes from a trace.
 * Per-step coefficients are computed once in float64 and rounded to
 * float32; the element-wise arithmetic is float32 in a fixed order
 * (`Math.fround` after every operation), so a verifier recomputes a
 * committed step bit for bit on any JavaScript engine.
 */
export interface Scheduler {
  readonly config: SchedulerConfig;
  setTimesteps(steps: number): void;
  /** The model timestep of each step, in order (what the denoiser is fed). */
  readonly timesteps: readonly number[];
  /** The noise level of each step plus the final one (sigma_T = 0). */
  readonly sigmas: readonly number[];
  /** Scale of the initial noise (1 for flow matching). */
  readonly initNoiseSigma: number;
  /** The sample after the step whose timestep is `t`; a multistep solver remembers this step for the next. */
  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array;
  /** How many earlier steps step `index` uses (0 for a one-step solver; 1 for order 2 after the first step). */
  historyAt(index: number): number;
  /** The sample after step `index`, from its sample, its output and the earlier steps it uses, most recent first. */
  stepAt(index: number, sample: Float32Array, modelOutput: Float32Array, previous: readonly PastStep[]): Float32Array;
}

function checkSizes(modelOutput: Float32Array, sample: Float32Array): void {
  if (modelOutput.length !== sample.length)
    throw new RangeError(`model output has ${modelOutput.length} values, the sample ${sample.length}`);
}

function indexOfTimestep(timesteps: readonly number[], t: number): number {
  const index = timesteps.indexOf(t);
  if (index < 0) throw new RangeError(`timestep ${t} is not in the schedule; call setTimesteps first`);
  return index;
}

/** sigma' = shift·sigma / (1 + (shift − 1)·sigma) (SD3/Wan), in float64. */
function shifted(shift: number, sigma: number): number {
  return (shift * sigma) / (1 + (shift - 1) * sigma);
}

/** Flow-matching Euler (diffusers' FlowMatchEulerDiscreteScheduler, deterministic). */
export class FlowMatchEulerScheduler implements Scheduler {
  readonly config: Extract<SchedulerConfig, { type: "flow-match-euler" }>;
  readonly initNoiseSigma = 1;
  #timesteps: number[] = [];
  #sigmas: number[] = [];

  constructor(config: Extract<SchedulerConfig, { type: "flow-match-euler" }>) {
    this.config = config;
  }

  get timesteps(): readonly number[] {
    return this.#timesteps;
  }

  get sigmas(): readonly number[] {
    return this.#sigmas;
  }

  setTimesteps(steps: number): void {
    if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
    const { shift, numTrainTimesteps } = this.config;
    const f = Math.fround;
    // sigma_i = 1 − i/n for i < n, shifted; sigma_n = 0.
    const sigmas: number[] = [];
    for (let i = 0; i < steps; i++) {
      const s = f(1 - i / steps);
      sigmas.push(f(f(shift * s) / f(1 + f(f(shift - 1) * s))));
    }
    sigmas.push(0);
    this.#sigmas = sigmas;
    this.#timesteps = sigmas.slice(0, steps).map((s) => f(s * numTrainTimesteps));
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    return this.stepAt(indexOfTimestep(this.#timesteps, t), sample, modelOutput);
  }

  historyAt(): number {
    return 0;
  }

  /** x_{i+1} = x_i + (sigma_{i+1} − sigma_i) · v. */
  stepAt(index: number, sample: Float32Array, modelOutput: Float32Array): Float32Array {
    if (!(index >= 0 && index < this.#timesteps.length)) throw new RangeError(`step ${index} is not in the schedule`);
    checkSizes(modelOutput, sample);
    const f = Math.fround;
    const dt = f((this.#sigmas[index + 1] as number) - (this.#sigmas[index] as number));
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) out[i] = f((sample[i] as number) + f(dt * (modelOutput[i] as number)));
    return out;
  }
}

/**
 * Multistep DPM-Solver++ (order 1 or 2, midpoint) on flow sigmas, as
 * diffusers' `DPMSolverMultistepScheduler` with `use_flow_sigmas`:
 *  - schedule: alphas = linspace(1, 1/N, n + 1), sigmas = shift(1 − alphas)
 *    reversed without its 0, then a final 0; timesteps = sigma·N truncated
 *    to an integer (diffusers casts them to int64); sigmas are float32;
 *  - the data prediction of a flow model is x0 = x − σ·v, with α = 1 − σ
 *    and λ = log(α/σ);
 *  - first order (the first step, the last, or order 1):
 *    x' = (σ_t/σ_s)·x − α_t(e^{−h} − 1)·x0, h = λ_t − λ_s (this is Euler);
 *  - second order: with D1 = (x0_i − x0_{i−1})/r0, r0 = (λ_s − λ_{s−1})/h,
 *    x' = (σ_t/σ_s)·x − α_t(e^{−h} − 1)·x0 − ½·α_t(e^{−h} − 1)·D1.
 */
export class DpmSolverMultistepScheduler implements Scheduler {
  readonly config: Extract<SchedulerConfig, { type: "dpm-solver-multistep" }>;
  readonly initNoiseSigma = 1;
  #timesteps: number[] = [];
  #sigmas: number[] = [];
  /** Per step: [a, b, c] of x' = a·x + b·x0 + c·(x0 − x0_prev), float32; c = 0 at a first-order step. */
  #coefficients: [number, number, number][] = [];
  #last: { index: number; step: PastStep } | undefined;

  constructor(config: Extract<SchedulerConfig, { type: "dpm-solver-multistep" }>) {
    this.config = config;
  }

  get timesteps(): readonly number[] {
    return this.#timesteps;
  }

  get sigmas(): readonly number[] {
    return this.#sigmas;
  }

  setTimesteps(steps: number): void {
    if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
    const { shift, numTrainTimesteps: N } = this.config;
    const f = Math.fround;
    // numpy's linspace(1, 1/N, n + 1): start + i·step, the last exactly the stop.
    const delta = (1 / N - 1) / steps;
    const raw: number[] = [];
    for (let i = 0; i <= steps; i++) raw.push(shifted(shift, 1 - (i === steps ? 1 / N : 1 + i * delta)));
    const sigmas64 = raw.reverse().slice(0, steps); // from shift(1 − 1/N) down, without the 0
    this.#timesteps = sigmas64.map((s) => Math.trunc(s * N));
    this.#sigmas = [...sigmas64.map((s) => f(s)), 0];
    this.#coefficients = [];
    for (let i = 0; i < steps; i++) {
      const sT = this.#sigmas[i + 1] as number;
      const sS = this.#sigmas[i] as number;
      const [aT, aS] = [1 - sT, 1 - sS];
      const a = sT / sS;
      // e^{−h} = (α_s/σ_s)/(α_t/σ_t); it is 0 at the final σ_t = 0.
      const expMinusH = sT === 0 ? 0 : (aS * sT) / (sS * aT);
      const b = aT * (1 - expMinusH);
      let c = 0;
      if (this.historyAt(i) > 0) {
        const sP = this.#sigmas[i - 1] as number;
        const lambda = (s: number) => Math.log(1 - s) - Math.log(s);
        const h = lambda(sT) - lambda(sS);
        const r0 = (lambda(sS) - lambda(sP)) / h;
        c = (0.5 * b) / r0;
      }
      this.#coefficients.push([f(a), f(b), f(c)]);
    }
    this.#last = undefined;
  }

  historyAt(index: number): number {
    const n = this.#timesteps.length;
    if (this.config.solverOrder === 1 || index < 1) return 0;
    // The last step is first order: its σ_t = 0 makes λ_t infinite (diffusers: final_sigmas_type "zero").
    if (index === n - 1) return 0;
    return 1;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    const index = indexOfTimestep(this.#timesteps, t);
    const previous: PastStep[] = [];
    if (this.historyAt(index) > 0) {
      if (this.#last?.index !== index - 1) throw new RangeError(`step ${index} needs step ${index - 1}, which this scheduler did not run`);
      previous.push(this.#last.step);
    }
    const next = this.stepAt(index, sample, modelOutput, previous);
    this.#last = { index, step: { sample, output: modelOutput } };
    return next;
  }

  stepAt(index: number, sample: Float32Array, modelOutput: Float32Array, previous: readonly PastStep[]): Float32Array {
    const coefficients = this.#coefficients[index];
    if (coefficients === undefined) throw new RangeError(`step ${index} is not in the schedule`);
    checkSizes(modelOutput, sample);
    const f = Math.fround;
    const [a, b, c] = coefficients;
    const sigma = this.#sigmas[index] as number;
    const out = new Float32Array(sample.length);
    if (this.historyAt(index) === 0) {
      for (let i = 0; i < sample.length; i++) {
        const x = sample[i] as number;
        const x0 = f(x - f(sigma * (modelOutput[i] as number)));
        out[i] = f(f(a * x) + f(b * x0));
      }
      return out;
    }
    const past = previous[0];
    if (past === undefined) throw new RangeError(`step ${index} needs the previous step's sample and output`);
    checkSizes(past.output, sample);
    checkSizes(past.sample, sample);
    const sigmaPrev = this.#sigmas[index - 1] as number;
    for (let i = 0; i < sample.length; i++) {
      const x = sample[i] as number;
      const x0 = f(x - f(sigma * (modelOutput[i] as number)));
      const x0Prev = f((past.sample[i] as number) - f(sigmaPrev * (past.output[i] as number)));
      out[i] = f(f(f(a * x) + f(b * x0)) + f(c * f(x0 - x0Prev)));
    }
    return out;
  }
}

/** The scheduler a manifest names. */
export function createScheduler(config: SchedulerConfig): Scheduler {
  switch (config.type) {
    case "flow-match-euler":
      return new FlowMatchEulerScheduler(config);
    case "dpm-solver-multistep":
      return new DpmSolverMultistepScheduler(config);
  }
}

/** Classifier-free guidance, float32: uncond + g · (cond − uncond). */
export function guide(cond: Float32Array, uncond: Float32Array, scale: number): Float32Array {
  const f = Math.fround;
  const g = f(scale);
  const out = new Float32Array(cond.length);
  for (let i = 0; i < cond.length; i++) {
    const u = uncond[i] as number;
    out[i] = f(u + f(g * f((cond[i] as number) - u)));
  }
  return out;
}
