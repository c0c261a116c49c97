/**
 * Why a job, an assignment or a message was refused. Every refusal on the
 * wire carries one of these codes; `reasonSentence` turns it into the one
 * sentence (and fix) the CLI prints.
 */
export const REASON_CODES = [
  "BAD_MESSAGE",
  "MESSAGE_TOO_LARGE",
  "BUSY",
  "TIMEOUT",
  "INTERNAL",
  "NOT_REGISTERED",
  "PEER_MISMATCH",
  "BAD_SIGNATURE",
  "UNKNOWN_JOB",
  "JOB_NOT_OPEN",
  "WRONG_CHAIN",
  "WRONG_COORDINATOR",
  "SPEC_HASH_MISMATCH",
  "NOT_FUNDED",
  "DEADLINE_TOO_SOON",
  "PRICE_TOO_LOW",
  "NO_PROVIDERS",
  "POLICY_BLOCKED_TERM",
  "POLICY_MODEL_NOT_ALLOWED",
  "POLICY_LIMIT",
  "POLICY_VERSION_MISMATCH",
  "MODEL_NOT_SERVED",
  "ASSIGNMENT_EXPIRED",
  "SEGMENT_FAILED",
  "JOB_FAILED",
  "NOT_JOB_CLIENT",
  "CANCELLED",
  "NOT_HELD",
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

const SENTENCES: Record<ReasonCode, { text: string; fix?: string }> = {
  BAD_MESSAGE: { text: "The peer sent a message that does not match the protocol.", fix: "Upgrade both nodes to compatible versions." },
  MESSAGE_TOO_LARGE: { text: "A message was larger than the protocol allows." },
  BUSY: { text: "The node is busy.", fix: "Retry after the suggested delay." },
  TIMEOUT: { text: "The peer did not answer in time.", fix: "Check that it is running and reachable, then retry." },
  INTERNAL: { text: "The node hit an internal error.", fix: "Check its logs." },
  NOT_REGISTERED: {
    text: "This peer is not bound on-chain to a registered, staked provider.",
    fix: "Register with `rendermesh-provider start --register --stake N`.",
  },
  PEER_MISMATCH: {
    text: "The libp2p peer id does not match the one registered on-chain for that address.",
    fix: "Update the peer id on-chain or start the node with its registered key.",
  },
  BAD_SIGNATURE: { text: "A signature did not verify." },
  UNKNOWN_JOB: { text: "No such job exists on the escrow.", fix: "Check the job id and the chain." },
  JOB_NOT_OPEN: { text: "The job is not open on the escrow (settled, refunded or never opened)." },
  WRONG_CHAIN: { text: "The job belongs to another chain or escrow than this node uses." },
  WRONG_COORDINATOR: { text: "The job names another coordinator on-chain.", fix: "Submit it to the coordinator named at openJob." },
  SPEC_HASH_MISMATCH: {
    text: "The job spec does not hash to the value stored on-chain.",
    fix: "Submit exactly the spec the job was opened with.",
  },
  NOT_FUNDED: { text: "The escrow does not hold the job's full deposit." },
  DEADLINE_TOO_SOON: { text: "The job's deadline is too close to render it in time.", fix: "Open the job with a later deadline." },
  PRICE_TOO_LOW: {
    text: "No provider's ask fits within the job's price per second.",
    fix: "Raise --max-price or wait for cheaper providers.",
  },
  NO_PROVIDERS: { text: "No live provider serves this model right now.", fix: "Try again later or choose another model." },
  POLICY_BLOCKED_TERM: {
    text: "The prompt contains a term the content policy blocks.",
    fix: "Change the prompt; `rendermesh policy show` lists the policy.",
  },
  POLICY_MODEL_NOT_ALLOWED: {
    text: "The model is not on the content policy's allowed list.",
    fix: "Choose an allowed model; `rendermesh policy show` lists them.",
  },
  POLICY_LIMIT: { text: "The job exceeds the content policy's limits.", fix: "`rendermesh policy show` lists the limits." },
  POLICY_VERSION_MISMATCH: {
    text: "The job was opened under a policy version other than the one in force.",
    fix: "Re-quote and open the job again.",
  },
  MODEL_NOT_SERVED: { text: "This provider does not serve the job's model." },
  ASSIGNMENT_EXPIRED: { text: "The assignment's deadline has passed." },
  SEGMENT_FAILED: { text: "A segment failed on every provider it was tried on." },
  JOB_FAILED: { text: "The job failed." },
  NOT_JOB_CLIENT: {
    text: "Only the job's on-chain client may do this, and the request carried no valid signature of it.",
    fix: "Sign jobAccessMessage(chainId, escrow, jobId, yourPeerId) with the key that opened the job and send it as `auth`.",
  },
  CANCELLED: { text: "The job's client cancelled it." },
  NOT_HELD: { text: "The peer does not hold the segment or block asked for.", fix: "Ask another provider that holds it." },
};

/** One clear sentence for a reason code, with the detail the peer gave and the fix. */
export function reasonSentence(code: ReasonCode, detail?: string): string {
  const s = SENTENCES[code];
  const parts = [detail && detail !== s.text ? `${s.text} ${detail}` : s.text];
  if (s.fix) parts.push(`Fix: ${s.fix}`);
  return parts.join(" ");
}

/** Whether a refusal may succeed if retried later unchanged. */
export function isRetryable(code: ReasonCode): boolean {
  return code === "BUSY" || code === "TIMEOUT" || code === "NO_PROVIDERS" || code === "INTERNAL";
}
