// Moved to @rendermesh/shared/verify (the arbiter runs the same checks); re-exported so client imports keep working.
export * from "@rendermesh/shared/verify";
