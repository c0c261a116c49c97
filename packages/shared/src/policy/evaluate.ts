import type { JobSpec } from "../spec/schema.js";
import type { ReasonCode } from "../protocol/reasons.js";
import { findBlockedTerm } from "./normalise.js";
import type { PolicySnapshot } from "./snapshot.js";

export interface PolicyViolation {
  code: ReasonCode;
  /** One sentence a user can act on. */
  message: string;
  /** For BLOCKED_TERM: the word or phrase that matched. */
  term?: string;
}

/**
 * Everything wrong with a spec under a policy, in a stable order; empty when
 * the spec may run. The CLI (before gas), the coordinator (at intake) and the
 * provider (before rendering) all call this with the policy version the job
 * was opened under.
 */
export function evaluateSpec(spec: JobSpec, policy: PolicySnapshot): PolicyViolation[] {
  const out: PolicyViolation[] = [];
  const term = findBlockedTerm(spec.prompt, policy.blockedTerms);
  if (term !== null) {
    out.push({ code: "POLICY_BLOCKED_TERM", term, message: `The prompt contains "${term}", which the content policy blocks.` });
  }
  if (!policy.allowedModels.has(spec.model.toLowerCase())) {
    out.push({ code: "POLICY_MODEL_NOT_ALLOWED", message: `Model ${spec.model} is not on the policy's allowed list.` });
  }
  if (spec.seconds > policy.maxSeconds) {
    out.push({ code: "POLICY_LIMIT", message: `${spec.seconds} seconds is more than the policy's maximum of ${policy.maxSeconds}.` });
  }
  if (spec.width > policy.maxWidth || spec.height > policy.maxHeight) {
    out.push({
      code: "POLICY_LIMIT",
      message: `Frame size ${spec.width}x${spec.height} is larger than the policy's maximum of ${policy.maxWidth}x${policy.maxHeight}.`,
    });
  }
  if (spec.fps > policy.maxFps) {
    out.push({ code: "POLICY_LIMIT", message: `${spec.fps} fps is more than the policy's maximum of ${policy.maxFps}.` });
  }
  return out;
}
