import type { SchedulerConfig } from "./manifest.js";

/**
 * A sampler's schedule and update rule, separate from any model, in the
 * shape of diffusers' schedulers: `setTimesteps(n)` fixes the schedule,
 * `step(modelOutput, t, sample)` returns the next sample. All arithmetic is
 * float32 element by element in a fixed order (`Math.fround` after every
 * operation), so a verifier recomputes a committed step bit for bit on any
 * JavaScript engine.
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
  /** The sample after step `index` (the index into `timesteps` of `t`). */
  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array;
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

  /** x_{i+1} = x_i + (sigma_{i+1} − sigma_i) · v. */
  step(modelOutput: Float32Array, t: number, sample: Float32Array): Float32Array {
    const index = this.#timesteps.indexOf(t);
    if (index < 0) throw new RangeError(`timestep ${t} is not in the schedule; call setTimesteps first`);
    if (modelOutput.length !== sample.length)
      throw new RangeError(`model output has ${modelOutput.length} values, the sample ${sample.length}`);
    const f = Math.fround;
    const dt = f((this.#sigmas[index + 1] as number) - (this.#sigmas[index] as number));
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) out[i] = f((sample[i] as number) + f(dt * (modelOutput[i] as number)));
    return out;
  }
}

/** The scheduler a manifest names. */
export function createScheduler(config: SchedulerConfig): Scheduler {
  switch (config.type) {
    case "flow-match-euler":
      return new FlowMatchEulerScheduler(config);
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
