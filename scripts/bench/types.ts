import { median, type Spread } from "./lib/stats.ts";

/** The two kinds of model a provider serves: the neural field (frame by frame) and the diffusion pipeline (clip by clip). */
export type ModelFamily = "field" | "diffusion";
export const MODEL_FAMILIES: readonly ModelFamily[] = ["field", "diffusion"];

/** What `pnpm bench` hands each benchmark. */
export interface BenchContext {
  /** How many times to measure each figure (`--runs`). */
  runs: number;
  /** The model family to measure, for benchmarks that export `families`. */
  family?: ModelFamily | undefined;
  /** Progress lines (stderr under `--json`). */
  log(line: string): void;
}

/** One measured figure. `target` is what the issue asks for; benchmarks never fail on it. */
export interface BenchResult {
  name: string;
  /** The median of `samples` when there are samples (the harness sets it). */
  value: number;
  unit: string;
  target?: number;
  /** Whether a larger value is better (default) or a smaller one. */
  better?: "higher" | "lower";
  note?: string;
  /** One value per run; the harness reports their median and spread. */
  samples?: number[];
  spread?: Spread;
  family?: ModelFamily;
  /** A stage of a per-stage breakdown (a profile), not a figure with a target. */
  stage?: boolean;
}

export interface BenchModule {
  run(ctx: BenchContext): Promise<BenchResult[]>;
  /** Present when the benchmark measures each model family separately. */
  families?: readonly ModelFamily[];
  /** Releases what `run` kept for the next family (a network shared by both), after the last one. */
  teardown?(): Promise<void>;
}

/** Whether a result meets its target, or undefined when it has none. */
export function meetsTarget(r: BenchResult): boolean | undefined {
  if (r.target === undefined) return undefined;
  return (r.better ?? "higher") === "higher" ? r.value >= r.target : r.value <= r.target;
}

/** A figure measured `runs` times: its median is the value, its samples the spread. */
export function measured(r: Omit<BenchResult, "value" | "samples">, samples: number[]): BenchResult {
  return { ...r, value: median(samples), samples };
}
