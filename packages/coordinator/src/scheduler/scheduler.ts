import { askFits, type ReferenceWork } from "@rendermesh/shared";
import { IndexHeap } from "./heap.js";

/** A live provider as the scheduler sees it. */
export interface SchedulerProvider {
  /** Lower-case address; also the key in decisions. */
  key: string;
  models: ReadonlySet<string>;
  /** Ask per second at the model's reference size and fps. */
  ask: bigint;
  /** Segments it renders at once (its announced capacity). */
  capacity: number;
  /** Segments it may have in flight (capacity plus a small queue, so it never idles between segments). */
  window: number;
  /** Segments in flight now, over all jobs. */
  inFlight: number;
  /** Reference-size frames per second per render slot (measured, else from its announced benchmark). */
  speedFps: number;
  /** Share of its attempts that succeed, 0..1. */
  reliability: number;
}

/** A running job's demand. */
export interface SchedulerJob {
  jobId: string;
  model: string;
  pricePerSecond: bigint;
  spec: ReferenceWork;
  /** Reference frames of one segment: fps × (w·h)/(refW·refH). */
  segmentWork: number;
  /** Segments waiting for a provider, in the order they should start. */
  pending: readonly number[];
  /** Providers that must not get a segment (they already tried it). */
  excluded?: (segment: number, provider: string) => boolean;
}

export interface SchedulerOptions {
  /** Reference size and fps that asks are quoted at. */
  reference: ReferenceWork;
  /**
   * Smallest share of the mean provider weight any eligible provider is
   * scheduled with, 0..1: a new or slow provider keeps receiving work (and so
   * gets measured) instead of being starved by large ones.
   */
  minShare: number;
}

export interface Decision {
  jobId: string;
  segment: number;
  provider: string;
  /** How long the segment should take on that provider, queueing included (ms). */
  expectedMs: number;
}

export const DEFAULT_MIN_SHARE = 0.2;

/**
 * Whether a provider may render a job at all: it serves the model and its
 * ask, scaled to the job's size and fps, fits within the job's price.
 */
export function eligible(p: SchedulerProvider, job: SchedulerJob, reference: ReferenceWork): boolean {
  return p.models.has(job.model) && askFits(p.ask, job.pricePerSecond, job.spec, reference);
}

/** Reference frames in one one-second segment of a spec. */
export function segmentWork(spec: ReferenceWork, reference: ReferenceWork): number {
  return (spec.fps * spec.width * spec.height) / (reference.width * reference.height);
}

/** A provider's weight: segments of unit work it completes per second, discounted by its failure rate. */
function weightOf(p: SchedulerProvider): number {
  return Math.max(1e-9, p.capacity * p.speedFps * Math.max(0.05, p.reliability));
}

/**
 * Decides which provider renders which pending segment, for every running
 * job (oldest first), so that:
 *
 * - a segment only goes to a provider that serves the model within the job's
 *   price, and never back to one that already tried it;
 * - providers get segments in proportion to their weight (speed × capacity ×
 *   reliability), by earliest expected finish: each decision picks the
 *   provider whose queue would finish the segment soonest, so a job ends in
 *   about (work of all segments) / (total throughput);
 * - every eligible provider is weighted at least `minShare` × the mean, so no
 *   live provider is starved;
 * - no provider holds more than `window` segments in flight.
 *
 * Pure and allocation-light: O((segments + providers) · log providers) per
 * call. `providers[i].inFlight` is not mutated; the returned decisions say
 * what to start.
 */
export function schedule(jobs: readonly SchedulerJob[], providers: readonly SchedulerProvider[], options: SchedulerOptions): Decision[] {
  const n = providers.length;
  const decisions: Decision[] = [];
  if (n === 0) return decisions;
  const inFlight = new Int32Array(n);
  const weight = new Float64Array(n);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    inFlight[i] = providers[i]!.inFlight;
    weight[i] = weightOf(providers[i]!);
  }
  const heap = new IndexHeap(n, keys);
  const aside: number[] = [];

  for (const job of jobs) {
    if (job.pending.length === 0) continue;
    heap.clear();
    let sum = 0;
    let count = 0;
    const ok = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const p = providers[i]!;
      if (inFlight[i]! >= p.window || !eligible(p, job, options.reference)) continue;
      ok[i] = 1;
      sum += weight[i]!;
      count++;
    }
    if (count === 0) continue;
    const floor = (options.minShare * sum) / count;
    const eff = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (!ok[i]) continue;
      eff[i] = Math.max(weight[i]!, floor);
      keys[i] = (inFlight[i]! + 1) / eff[i]!;
      heap.push(i);
    }
    for (const segment of job.pending) {
      if (heap.length === 0) break;
      let chosen = -1;
      while (heap.length > 0) {
        const i = heap.pop();
        if (job.excluded?.(segment, providers[i]!.key)) {
          aside.push(i);
          continue;
        }
        chosen = i;
        break;
      }
      for (const i of aside) heap.push(i);
      aside.length = 0;
      if (chosen < 0) continue;
      const p = providers[chosen]!;
      const queued = inFlight[chosen]!;
      const segmentSeconds = job.segmentWork / p.speedFps;
      decisions.push({
        jobId: job.jobId,
        segment,
        provider: p.key,
        expectedMs: Math.ceil(1000 * segmentSeconds * Math.max(1, (queued + 1) / p.capacity)),
      });
      inFlight[chosen] = queued + 1;
      if (queued + 1 < p.window) {
        keys[chosen] = (queued + 2) / eff[chosen]!;
        heap.push(chosen);
      }
    }
  }
  return decisions;
}

/**
 * The provider for a speculative copy of a straggling segment: eligible,
 * with a free slot, not among `exclude`, and the one that would finish it
 * first; undefined when none fits.
 */
export function pickProvider(
  job: SchedulerJob,
  providers: readonly SchedulerProvider[],
  options: SchedulerOptions,
  exclude: ReadonlySet<string>,
): SchedulerProvider | undefined {
  let best: SchedulerProvider | undefined;
  let bestKey = Infinity;
  for (const p of providers) {
    if (exclude.has(p.key) || p.inFlight >= p.window || !eligible(p, job, options.reference)) continue;
    const key = (Math.floor(p.inFlight / p.capacity) + 1) / (p.speedFps * Math.max(0.05, p.reliability));
    if (key < bestKey) {
      best = p;
      bestKey = key;
    }
  }
  return best;
}

/**
 * Expected seconds to render `segments` segments of `segmentWork` reference
 * frames on the given providers at full use: total work over total
 * throughput, but never less than one segment on the fastest provider.
 */
export function estimateSeconds(
  segments: number,
  segmentWorkFrames: number,
  providers: readonly Pick<SchedulerProvider, "capacity" | "speedFps" | "reliability">[],
): number {
  if (providers.length === 0 || segments === 0) return providers.length === 0 ? Infinity : 0;
  let throughput = 0;
  let fastest = 0;
  for (const p of providers) {
    throughput += p.capacity * p.speedFps * Math.max(0.05, p.reliability);
    fastest = Math.max(fastest, p.speedFps);
  }
  return Math.max((segments * segmentWorkFrames) / throughput, segmentWorkFrames / fastest);
}
