import { PROTOCOLS } from "@rendermesh/shared";

export const PROTOCOL = PROTOCOLS.report;
export const TIMEOUT = 10_000;
export const MAX_STREAMS_PER_PEER = 8;
