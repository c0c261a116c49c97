/** One measured figure. `target` is what the issue asks for; benchmarks never fail on it. */
export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  target?: number;
  /** Whether a larger value is better (default) or a smaller one. */
  better?: "higher" | "lower";
  note?: string;
}

export interface BenchModule {
  run(): Promise<BenchResult[]>;
}

/** Whether a result meets its target, or undefined when it has none. */
export function meetsTarget(r: BenchResult): boolean | undefined {
  if (r.target === undefined) return undefined;
  return (r.better ?? "higher") === "higher" ? r.value >= r.target : r.value <= r.target;
}
