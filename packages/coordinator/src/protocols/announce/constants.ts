import { PROTOCOLS } from "@rendermesh/shared";

export const PROTOCOL = PROTOCOLS.announce;
/** One announce exchange, chain reads included. */
export const TIMEOUT = 20_000;
/** Announce streams a provider may have open at once. */
export const MAX_STREAMS_PER_PEER = 2;
