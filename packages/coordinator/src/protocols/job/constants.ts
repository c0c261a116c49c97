import { PROTOCOLS } from "@rendermesh/shared";

export const PROTOCOL = PROTOCOLS.job;
/** Reading the first message (submit or watch). */
export const FIRST_MESSAGE_TIMEOUT = 10_000;
/** Job streams (submissions and watchers) one peer may have open at once. */
export const MAX_STREAMS_PER_PEER = 16;
/** Job streams open in total; more are answered BUSY. */
export const MAX_FOLLOWERS = 1024;
/** Authenticated streams following one job (its client's, after restarts); strangers get a summary instead. */
export const MAX_FOLLOWERS_PER_JOB = 4;
/** Events queued for a slow follower before its stream is dropped (it resumes with `watch`). */
export const MAX_QUEUED_EVENTS = 10_000;
/** Events read from the store per replay batch. */
export const REPLAY_BATCH = 500;
