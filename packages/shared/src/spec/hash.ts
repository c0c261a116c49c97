import canonicalize from "canonicalize";
import { keccak256, toUtf8Bytes } from "ethers";
import { BaseError } from "../errors.js";
import { JobSpec, type JobSpecInput } from "./schema.js";

export class InvalidJobSpecError extends BaseError {
  override name = "InvalidJobSpecError";
  constructor(message: string, options: { cause?: unknown; details?: string[] } = {}) {
    super("INVALID_SPEC", message, {
      ...options,
      hint: "Check --prompt, --seconds, --fps, --size and --model.",
    });
  }
}

/** Validates a spec, throwing one sentence that names the field that is wrong. */
export function parseJobSpec(input: unknown): JobSpec {
  const result = JobSpec.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.join(".") || "spec";
  throw new InvalidJobSpecError(`Invalid job spec: ${field}: ${issue.message}.`, {
    cause: result.error,
    details: result.error.issues.slice(1).map((i) => `${i.path.join(".")}: ${i.message}`),
  });
}

/**
 * RFC 8785 (JCS) canonical JSON of a validated spec: sorted keys, no
 * whitespace, normalised numbers — the same bytes in every implementation.
 */
export function canonicalSpec(spec: JobSpecInput): string {
  const parsed = parseJobSpec(spec);
  const text = canonicalize(parsed);
  if (text === undefined) throw new InvalidJobSpecError("Job spec cannot be canonicalised.");
  return text;
}

/** keccak256 of the canonical spec: the value `JobEscrow.openJob` stores. */
export function specHash(spec: JobSpecInput): `0x${string}` {
  return keccak256(toUtf8Bytes(canonicalSpec(spec))) as `0x${string}`;
}

/** Segment `i` covers second `i`: frames `[i·fps, (i+1)·fps)`. */
export function segmentFrames(spec: Pick<JobSpec, "fps" | "seconds">, segment: number): { firstFrame: number; frameCount: number } {
  if (!Number.isInteger(segment) || segment < 0 || segment >= spec.seconds) {
    throw new InvalidJobSpecError(`Segment ${segment} is outside the job (0..${spec.seconds - 1}).`);
  }
  return { firstFrame: segment * spec.fps, frameCount: spec.fps };
}

/** Number of segments (one per second) in a job. */
export function segmentCount(spec: Pick<JobSpec, "seconds">): number {
  return spec.seconds;
}
