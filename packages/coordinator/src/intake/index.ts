/** Job intake: chain, escrow, deposit, deadline, policy and capacity checks before a job is accepted. */
export { JobIntake, type IntakeInit, type IntakeComponents } from "./intake.js";
export { isJobClientAuth, requireJobClient } from "./job-auth.js";
