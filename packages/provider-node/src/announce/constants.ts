import { HEARTBEAT_INTERVAL_MS } from "@rendermesh/shared";

/** Heartbeat until a coordinator's ack names its own. */
export const DEFAULT_HEARTBEAT_MS = HEARTBEAT_INTERVAL_MS;
/** First retry after a failed announcement; doubles per failure. */
export const ANNOUNCE_RETRY_MIN_MS = 1_000;
/** Longest wait between attempts while a coordinator is unreachable. */
export const ANNOUNCE_RETRY_MAX_MS = 60_000;
/** One announce exchange (dial, write, read). */
export const ANNOUNCE_TIMEOUT_MS = 10_000;
