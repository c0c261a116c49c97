import {
  evaluateSpec,
  scalePrice,
  segmentFrames,
  specHash,
  type PolicySnapshot,
  type ReferenceWork,
  type RenderRequest,
} from "@rendermesh/shared";
import { JobStatus, type EscrowJob } from "@rendermesh/shared/chain";
import type { ChainReader, SignatureChecker } from "../chain/types.js";
import { RefusalError } from "../errors.js";

export interface AcceptanceComponents {
  /** This provider's address. */
  address: string;
  chain: Pick<ChainReader, "chainId" | "escrowAddress" | "getJob" | "jobOpenedBlock" | "readPolicy">;
  signatures: Pick<SignatureChecker, "recoverAssignmentSigner">;
  /** Model ids this provider renders (lower-case 0x). */
  models: ReadonlySet<string>;
  /** Unix seconds (wall clock). */
  now(): number;
  /**
   * The coordinator address that the sending peer proved in its announce ack,
   * if known: lets a valid signature from the wrong coordinator be told apart
   * from a forged one.
   */
  senderCoordinator?: string | undefined;
  /** Policy snapshots by block, shared between checks. */
  policyCache?: PolicyCache | undefined;
  /**
   * This provider's ask per second at each model's reference size and fps;
   * a job whose price per second is below the ask scaled to its size is
   * refused. Omitted: any price is accepted.
   */
  pricing?: { askPerSecond: bigint; reference(model: string): ReferenceWork | undefined } | undefined;
}

/** A job as the checks found it on-chain. */
export interface AcceptedAssignment {
  job: EscrowJob;
  /** Block of the job's `JobOpened` event: the policy it runs under. */
  openedBlock: number;
  policy: PolicySnapshot;
}

/** Policy snapshots keyed by block; a job keeps the policy version it was opened under. */
export class PolicyCache {
  readonly #entries = new Map<number, Promise<PolicySnapshot>>();
  readonly #max: number;
  constructor(max = 64) {
    this.#max = max;
  }
  get(block: number, read: (block: number) => Promise<PolicySnapshot>): Promise<PolicySnapshot> {
    let entry = this.#entries.get(block);
    if (entry === undefined) {
      entry = read(block);
      entry.catch(() => this.#entries.delete(block));
      this.#entries.set(block, entry);
      if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as number);
    }
    return entry;
  }
}

const lower = (s: string) => s.toLowerCase();

/**
 * Every check a provider makes before it spends compute on an assignment, in
 * order from cheapest to dearest; the first failure is thrown as a
 * `RefusalError` whose reason code goes back to the coordinator:
 *
 * 1. the chain and escrow are this node's (WRONG_CHAIN);
 * 2. the assignment names this provider (BAD_MESSAGE) and has not lapsed (ASSIGNMENT_EXPIRED);
 * 3. the model is one this node serves (MODEL_NOT_SERVED);
 * 4. the job exists (UNKNOWN_JOB) and the coordinator's EIP-712 signature
 *    recovers the job's coordinator on-chain (BAD_SIGNATURE, or
 *    WRONG_COORDINATOR when a known coordinator signed a job it does not own);
 * 5. the job is Open, so its deposit is held (JOB_NOT_OPEN);
 * 6. the spec hashes to the job's specHash (SPEC_HASH_MISMATCH), and the
 *    job's price covers this provider's ask scaled to the spec (PRICE_TOO_LOW);
 * 7. the segment is inside the job and its frame range is the segment's (BAD_MESSAGE);
 * 8. the spec passes the policy read at the block of the job's JobOpened
 *    event (POLICY_*), checked again here as DESIGN requires.
 */
export async function checkAssignment(request: RenderRequest, c: AcceptanceComponents): Promise<AcceptedAssignment> {
  const { assignment, spec } = request;

  if (request.chainId !== c.chain.chainId || lower(request.escrow) !== lower(c.chain.escrowAddress)) {
    throw new RefusalError(
      "WRONG_CHAIN",
      `This provider serves escrow ${c.chain.escrowAddress} on chain ${c.chain.chainId}, not ${request.escrow} on chain ${request.chainId}.`,
    );
  }
  if (lower(assignment.provider) !== lower(c.address)) {
    throw new RefusalError("BAD_MESSAGE", `The assignment is for provider ${assignment.provider}, not ${c.address}.`);
  }
  if (assignment.deadline <= c.now()) {
    throw new RefusalError(
      "ASSIGNMENT_EXPIRED",
      `The assignment's deadline ${new Date(assignment.deadline * 1000).toISOString()} has passed.`,
    );
  }
  if (!c.models.has(lower(spec.model))) {
    throw new RefusalError("MODEL_NOT_SERVED", `This provider does not serve model ${spec.model}.`);
  }

  const job = await c.chain.getJob(assignment.jobId);
  if (job.status === JobStatus.None) {
    throw new RefusalError("UNKNOWN_JOB", `Job ${assignment.jobId} does not exist on escrow ${c.chain.escrowAddress}.`);
  }

  let signer: string | undefined;
  try {
    signer = lower(c.signatures.recoverAssignmentSigner(assignment, request.signature, job.coordinator));
  } catch {
    signer = undefined;
  }
  if (signer !== lower(job.coordinator)) {
    if (signer !== undefined && c.senderCoordinator !== undefined && signer === lower(c.senderCoordinator)) {
      throw new RefusalError(
        "WRONG_COORDINATOR",
        `Job ${assignment.jobId} names coordinator ${job.coordinator} on-chain, not ${c.senderCoordinator}.`,
      );
    }
    throw new RefusalError("BAD_SIGNATURE", `The assignment is not signed by the job's coordinator ${job.coordinator}.`);
  }

  if (job.status !== JobStatus.Open) {
    throw new RefusalError("JOB_NOT_OPEN", `Job ${assignment.jobId} is ${job.status === JobStatus.Settled ? "settled" : "refunded"}.`);
  }

  const hash = specHash(spec);
  if (lower(hash) !== lower(job.specHash)) {
    throw new RefusalError("SPEC_HASH_MISMATCH", `The spec hashes to ${hash}, but the job was opened with ${job.specHash}.`);
  }

  const reference = c.pricing?.reference(lower(spec.model));
  if (c.pricing && reference) {
    const wanted = scalePrice(c.pricing.askPerSecond, spec, reference);
    if (wanted > job.pricePerSecond) {
      throw new RefusalError(
        "PRICE_TOO_LOW",
        `The job pays ${job.pricePerSecond} per second; this provider asks ${wanted} for ${spec.width}x${spec.height} at ${spec.fps} fps.`,
      );
    }
  }

  if (assignment.segment >= job.seconds || assignment.segment >= spec.seconds) {
    throw new RefusalError("BAD_MESSAGE", `Segment ${assignment.segment} is outside the job's ${job.seconds} segments.`);
  }
  const range = segmentFrames(spec, assignment.segment);
  if (assignment.firstFrame !== range.firstFrame || assignment.frameCount !== range.frameCount) {
    throw new RefusalError(
      "BAD_MESSAGE",
      `Segment ${assignment.segment} holds frames ${range.firstFrame}..${range.firstFrame + range.frameCount - 1}, but the assignment names ${assignment.firstFrame}..${assignment.firstFrame + assignment.frameCount - 1}.`,
    );
  }

  const openedBlock = await c.chain.jobOpenedBlock(assignment.jobId);
  if (openedBlock === undefined) {
    throw new RefusalError("UNKNOWN_JOB", `No JobOpened event was found for job ${assignment.jobId}.`);
  }
  const read = (block: number) => c.chain.readPolicy(block);
  const policy = await (c.policyCache ? c.policyCache.get(openedBlock, read) : read(openedBlock));
  const violations = evaluateSpec(spec, policy);
  const first = violations[0];
  if (first !== undefined) {
    throw new RefusalError(first.code, first.message, { ...(first.term === undefined ? {} : { term: first.term }) });
  }
  return { job, openedBlock, policy };
}
