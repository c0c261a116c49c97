/**
 * What the job commands run, behind one dynamic import: the SDK client
 * (libp2p, Helia), the journal (SQLite) and the actions. `rendermesh --help`
 * and every command that is not a job command never load them.
 */
export { attributeClaims } from "../actions/attributeClaims.js";
export { checkPolicy } from "../actions/checkPolicy.js";
export { assertQuoteAcceptable, buildSpec } from "../actions/generateVideo.js";
export { getJobStatus } from "../actions/getJobStatus.js";
export { openJob } from "../actions/openJob.js";
export { quoteJob } from "../actions/quoteJob.js";
export { refundJob } from "../actions/refundJob.js";
export { runJob } from "../actions/runJob.js";
export { verifyManifest } from "../actions/verifyManifest.js";
export { createRendermeshClient } from "../client.js";
export { Journal } from "../journal/journal.js";
export { createProgressView } from "./progress.js";
