/**
 * @rendermesh/client — the Rendermesh SDK and the `rendermesh` CLI.
 *
 * A client quotes a job, checks it against the on-chain content policy,
 * opens the escrow with a permit, submits it to a coordinator, verifies
 * every delivered segment (signatures, IPFS fetch, sha256, decode, a content
 * spot-check re-rendered with the same model and seed), pays each verified
 * second with a cumulative voucher, joins the video and settles once. A
 * journal on disk lets it resume after a crash without paying twice.
 *
 * One action per file under `actions/`, as in viem:
 * `const result = await generateVideo(client, { prompt, seconds })`.
 */
export { createRendermeshClient } from "./client.js";
export type { ClientNet, RendermeshClient, RendermeshClientConfig } from "./client.js";

export { assembleVideo, segmentFile, writeFileAtomic } from "./actions/assembleVideo.js";
export type { AssembleVideoErrorType, AssembleVideoParameters, AssembleVideoReturnType } from "./actions/assembleVideo.js";
export { attributeClaims, watchClaims } from "./actions/attributeClaims.js";
export type {
  AttributeClaimsErrorType,
  AttributeClaimsParameters,
  AttributeClaimsReturnType,
  Attribution,
  PendingAttribution,
  WatchClaimsParameters,
} from "./actions/attributeClaims.js";
export { checkPolicy } from "./actions/checkPolicy.js";
export type { CheckPolicyErrorType, CheckPolicyParameters, CheckPolicyReturnType } from "./actions/checkPolicy.js";
export { assertQuoteAcceptable, buildSpec, generateVideo, SPEC_DEFAULTS } from "./actions/generateVideo.js";
export type { GenerateVideoParameters, GenerateVideoReturnType } from "./actions/generateVideo.js";
export { depositBalance, depositFunds, withdrawFunds } from "./actions/depositAccount.js";
export type { DepositAccountClient, DepositFundsReturnType, WithdrawFundsReturnType } from "./actions/depositAccount.js";
export { getBalances } from "./actions/getBalances.js";
export type { GetBalancesErrorType, GetBalancesParameters, GetBalancesReturnType } from "./actions/getBalances.js";
export { getJob, JOB_STATUS } from "./actions/getJob.js";
export type { GetJobErrorType, GetJobParameters, GetJobReturnType, OnChainJobStatus } from "./actions/getJob.js";
export { getJobNetwork } from "./actions/getJobNetwork.js";
export type { GetJobNetworkParameters, GetJobNetworkReturnType } from "./actions/getJobNetwork.js";
export { getJobStatus } from "./actions/getJobStatus.js";
export type { GetJobStatusParameters, GetJobStatusReturnType, JobClaim } from "./actions/getJobStatus.js";
export { openJob, predictJobId } from "./actions/openJob.js";
export type { OpenJobErrorType, OpenJobParameters, OpenJobReturnType } from "./actions/openJob.js";
export { feePerSecond, readPayments } from "./actions/payments.js";
export type { Payments } from "./actions/payments.js";
export { cancelJob } from "./actions/cancelJob.js";
export type { CancelJobErrorType, CancelJobParameters, CancelJobReturnType } from "./actions/cancelJob.js";
export { jobAuth } from "./actions/jobAuth.js";
export { quoteJob } from "./actions/quoteJob.js";
export type { QuoteJobErrorType, QuoteJobParameters, QuoteJobReturnType } from "./actions/quoteJob.js";
export { refundJob } from "./actions/refundJob.js";
export type { RefundJobErrorType, RefundJobParameters, RefundJobReturnType } from "./actions/refundJob.js";
export { reportVerdict } from "./actions/reportVerdict.js";
export type { ReportVerdictErrorType, ReportVerdictParameters, ReportVerdictReturnType } from "./actions/reportVerdict.js";
export { runJob } from "./actions/runJob.js";
export type { RunJobErrorType, RunJobParameters, RunJobReturnType } from "./actions/runJob.js";
export { sendVoucher } from "./actions/sendVoucher.js";
export type { SendVoucherErrorType, SendVoucherParameters, SendVoucherReturnType } from "./actions/sendVoucher.js";
export { settleJob } from "./actions/settleJob.js";
export type { SettleJobErrorType, SettleJobParameters, SettleJobReturnType } from "./actions/settleJob.js";
export { signVoucher } from "./actions/signVoucher.js";
export type { SignVoucherErrorType, SignVoucherParameters, SignVoucherReturnType } from "./actions/signVoucher.js";
export { submitJob } from "./actions/submitJob.js";
export type { SubmitJobErrorType, SubmitJobParameters, SubmitJobReturnType } from "./actions/submitJob.js";
export type { JobEventStream } from "./actions/jobStream.js";
export { verifyManifest } from "./actions/verifyManifest.js";
export type { VerifyManifestErrorType, VerifyManifestParameters, VerifyManifestReturnType } from "./actions/verifyManifest.js";
export { verifySegment } from "./actions/verifySegment.js";
export type { VerifySegmentErrorType, VerifySegmentParameters, VerifySegmentReturnType } from "./actions/verifySegment.js";
export { watchJob } from "./actions/watchJob.js";
export type { WatchJobErrorType, WatchJobParameters, WatchJobReturnType } from "./actions/watchJob.js";
export { writeManifest } from "./actions/writeManifest.js";
export { credentialVideo } from "./actions/credentialVideo.js";
export type { CredentialVideoErrorType, CredentialVideoParameters, CredentialVideoReturnType } from "./actions/credentialVideo.js";
export { verifyVideo } from "./actions/verifyVideo.js";
export type {
  VerifyVideoErrorType,
  VerifyVideoParameters,
  VerifyVideoReason,
  VerifyVideoReturnType,
  VideoCheck,
  VideoCheckName,
} from "./actions/verifyVideo.js";
export type { WriteManifestParameters, WriteManifestReturnType } from "./actions/writeManifest.js";

export * from "./errors.js";
export * from "./events.js";
export { Journal, JOB_PHASES, JOURNAL_FILE } from "./journal/journal.js";
export type { JobPhase, JournalJob, JournalTx, Rejection, VerifiedSegment, VoucherRecord } from "./journal/journal.js";
export { Manifest, MANIFEST_FILE } from "./manifest.js";
export * from "./verify/index.js";
export { readDeployment } from "./chain/deployment.js";
export * from "./dao/index.js";
