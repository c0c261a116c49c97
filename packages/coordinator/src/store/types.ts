import type { JobEventInput, JobSpec, ReasonCode, SignedAssignment, SignedDelivery } from "@rendermesh/shared";

export type JobStatus = "running" | "complete" | "failed";
/**
 * pending: needs a provider; active: rendering somewhere; delivered: one copy
 * is in front of the client awaiting its verdict; verified: done and counted
 * (exactly once); failed: out of tries.
 */
export type SegmentStatus = "pending" | "active" | "delivered" | "verified" | "failed";
/**
 * active: rendering; held: delivered while another copy of the segment is in
 * front of the client (shown only if that one is rejected); shown: delivered
 * and announced to the client; verified: the one counted copy; rejected: the
 * client's verdict was not ok; failed: timeout, disconnect, bad receipt or a
 * provider error; superseded: another copy was verified first; cancelled: the
 * job ended.
 */
export type AttemptStatus = "active" | "held" | "shown" | "verified" | "rejected" | "failed" | "superseded" | "cancelled";

export interface NewJob {
  jobId: string;
  chainId: number;
  escrow: string;
  client: string;
  clientPeer: string | null;
  spec: JobSpec;
  specHash: string;
  pricePerSecond: bigint;
  /** Escrow deadline, unix seconds. */
  deadline: number;
  policyVersion: bigint;
  openedBlock: number;
}

export interface JobRow extends NewJob {
  status: JobStatus;
  segments: number;
  failCode: ReasonCode | null;
  failMessage: string | null;
  nextSeq: number;
  createdAt: number;
  updatedAt: number;
}

export interface SegmentRow {
  jobId: string;
  index: number;
  status: SegmentStatus;
  /**
   * Tries used, against the store's `maxTries` (3): attempts started, less
   * those a provider refused BUSY before starting (a busy provider has not
   * tried the segment, so it burns none of the three).
   */
  tries: number;
  verifiedAttempt: number | null;
}

export interface NewAttempt {
  jobId: string;
  segment: number;
  provider: string;
  peerId: string;
  speculative: boolean;
  assignment: SignedAssignment;
  /** When the supervisor gives up on it (ms). */
  deadlineMs: number;
  /** How long it should take (ms), for straggler detection. */
  expectedMs: number;
}

export interface AttemptRow extends NewAttempt {
  id: number;
  /**
   * The attempt's number at its segment (1, 2, …), unique per segment: every
   * attempt gets one, a BUSY refusal too. It is not the try count: a BUSY
   * refusal gives its try back (`SegmentRow.tries`).
   */
  attempt: number;
  status: AttemptStatus;
  startedAt: number;
  finishedAt: number | null;
  delivery: SignedDelivery | null;
  multiaddrs: string[];
  failCode: ReasonCode | null;
  failMessage: string | null;
  framesDone: number;
}

/** A job event as stored and sent: bigints are decimal strings. */
export type StoredEvent = JobEventInput & { seq: number; jobId: string; at: number };

export interface ProviderRow {
  address: string;
  peerId: string;
  ask: bigint;
  models: string[];
  capacity: number;
  benchmarkFps: number;
  device: string;
  agent: string;
  multiaddrs: string[];
  lastSeen: number;
  /** Measured reference frames per second per render slot (EWMA), null until measured. */
  speedFps: number | null;
  reliability: number;
  completed: number;
  failed: number;
}

/** What a transition changed beyond the rows it wrote: attempts whose renders must be stopped. */
export interface TransitionEffects {
  cancelled: number[];
  jobEnded: boolean;
}
