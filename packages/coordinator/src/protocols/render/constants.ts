import { PROTOCOLS } from "@rendermesh/shared";

export const PROTOCOL = PROTOCOLS.render;
/** Dialling the provider and negotiating the protocol. */
export const DIAL_TIMEOUT = 10_000;
/** Render streams open to one provider at once, per connection. */
export const MAX_OUTBOUND_STREAMS = 64;
