/**
 * Protocol ids: `/rendermesh/<name>/<major.minor.patch>`. A major bump is a
 * new id; minor and patch changes stay compatible (new optional fields only).
 */
export const PROTOCOL_VERSION = "1.0.0";

export const PROTOCOLS = {
  /** provider → coordinator: announce (and re-announce) capabilities; request/response. */
  announce: `/rendermesh/announce/${PROTOCOL_VERSION}`,
  /** coordinator → provider: one signed segment assignment; the provider streams progress, then a delivery. */
  render: `/rendermesh/render/${PROTOCOL_VERSION}`,
  /** client → coordinator: a price quote; request/response. */
  quote: `/rendermesh/quote/${PROTOCOL_VERSION}`,
  /** client → coordinator: submit or watch a job; the coordinator streams job events. */
  job: `/rendermesh/job/${PROTOCOL_VERSION}`,
  /** client → coordinator: the verdict on a delivered segment; request/response. */
  report: `/rendermesh/report/${PROTOCOL_VERSION}`,
  /** client → provider: the latest cumulative voucher for a job; request/response. */
  voucher: `/rendermesh/voucher/${PROTOCOL_VERSION}`,
} as const;
export type ProtocolName = keyof typeof PROTOCOLS;

/** Largest message accepted on any control protocol. Video bytes never travel here. */
export const MAX_MESSAGE_BYTES = 64 * 1024;

/** How often a provider re-announces (and so proves it is alive), by default. */
export const HEARTBEAT_INTERVAL_MS = 5_000;
