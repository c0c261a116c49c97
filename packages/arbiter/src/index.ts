export { Arbiter, type ArbiterInit, type DisputeOutcome, type RetryPolicy } from "./arbiter.js";
export { ArbiterJournal, type DisputeRow, type Verdict } from "./journal.js";
export { ArbiterMetrics, serveMetrics, type MetricsServer } from "./metrics.js";
export { coordinatorSpecSource, readClaimEvidence, trustedSpec, type ClaimEvidence, type SpecSource } from "./evidence.js";
