import { PROTOCOLS } from "@rendermesh/shared";

export const PROTOCOL = PROTOCOLS.quote;
export const TIMEOUT = 10_000;
export const MAX_STREAMS_PER_PEER = 4;
