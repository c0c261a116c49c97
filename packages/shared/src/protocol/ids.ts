/**
 * Protocol ids: `/rendermesh/<name>/<major.minor.patch>`. A major bump is a
 * new id; minor and patch changes stay compatible (new optional fields only).
 */
export const PROTOCOL_VERSION = "1.0.0";

/**
 * Each protocol's own version. libp2p negotiates ids by exact match, so any
 * bump is a new id that old peers do not speak; a node that must talk to
 * both serves both ids. job 2.0.0: every action needs the client's `auth`,
 * and an unauthenticated watch gets a summary.
 */
export const PROTOCOL_VERSIONS = {
  announce: PROTOCOL_VERSION,
  render: PROTOCOL_VERSION,
  quote: PROTOCOL_VERSION,
  job: "2.0.0",
  report: PROTOCOL_VERSION,
  voucher: PROTOCOL_VERSION,
} as const;

export const PROTOCOLS = {
  /** provider → coordinator: announce (and re-announce) capabilities; request/response. */
  announce: `/rendermesh/announce/${PROTOCOL_VERSIONS.announce}`,
  /** coordinator → provider: one signed segment assignment; the provider streams progress, then a delivery. */
  render: `/rendermesh/render/${PROTOCOL_VERSIONS.render}`,
  /** client → coordinator: a price quote; request/response. */
  quote: `/rendermesh/quote/${PROTOCOL_VERSIONS.quote}`,
  /** client → coordinator: submit or watch a job; the coordinator streams job events. */
  job: `/rendermesh/job/${PROTOCOL_VERSIONS.job}`,
  /** client → coordinator: the verdict on a delivered segment; request/response. */
  report: `/rendermesh/report/${PROTOCOL_VERSIONS.report}`,
  /** client → provider: the latest cumulative voucher for a job; request/response. */
  voucher: `/rendermesh/voucher/${PROTOCOL_VERSIONS.voucher}`,
} as const;
export type ProtocolName = keyof typeof PROTOCOLS;

/** Largest message accepted on any control protocol. Video bytes never travel here. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** How often a provider re-announces (and so proves it is alive), by default. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
