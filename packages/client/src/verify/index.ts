/** Segment verification lives in @rendermesh/shared/verify so the client and the arbiter run the same checks. */
export * from "@rendermesh/shared/verify";
