import { PROTOCOLS } from "@rendermesh/shared";

/** `/rendermesh/render/1.0.0`: coordinator → provider, one assignment per stream. */
export const RENDER_PROTOCOL = PROTOCOLS.render;
/** Time the coordinator has to send its request after opening the stream. */
export const RENDER_REQUEST_TIMEOUT_MS = 10_000;
/** Render streams a coordinator may hold open at once (a few past capacity, so it hears BUSY). */
export const RENDER_MAX_STREAMS_PER_PEER = 32;
/** Default time allowed for one segment before it is given back. */
export const DEFAULT_SEGMENT_TIMEOUT_MS = 600_000;
