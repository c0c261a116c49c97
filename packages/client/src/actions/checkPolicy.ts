import { evaluateSpec, type JobSpec, type PolicySnapshot } from "@rendermesh/shared";
import { readPolicy } from "@rendermesh/shared/chain";
import type { RendermeshClient } from "../client.js";
import { ChainError, PolicyRefusedError } from "../errors.js";

export interface CheckPolicyParameters {
  spec: JobSpec;
  blockTag?: number | "latest";
}

export type CheckPolicyReturnType = PolicySnapshot;

export type CheckPolicyErrorType = PolicyRefusedError | ChainError;

/**
 * Checks a spec against the content policy in force on-chain, before any gas
 * is spent: blocked terms (the refusal names the matching word), allowed
 * models, size, fps and length limits. Returns the policy it checked.
 *
 * @example
 * const policy = await checkPolicy(client, { spec });
 * console.log(`policy version ${policy.version}`);
 */
export async function checkPolicy(client: RendermeshClient, params: CheckPolicyParameters): Promise<CheckPolicyReturnType> {
  let policy: PolicySnapshot;
  try {
    policy = await readPolicy(client.contracts.policy, params.blockTag);
  } catch (cause) {
    throw new ChainError("Cannot read the content policy from the chain.", { cause, hint: "Check --rpc-url and --deployment." });
  }
  const violations = evaluateSpec(params.spec, policy);
  const first = violations[0];
  if (first) {
    throw new PolicyRefusedError(first.code, first.message, {
      term: first.term,
      policyVersion: policy.version,
      details: violations.slice(1).map((v) => `also: ${v.message}`),
    });
  }
  return policy;
}
