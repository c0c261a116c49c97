/**
 * cli/ — what the three Rendermesh CLIs share: the exit codes and the one
 * error reporter (human lines on stderr, one JSON error document on stdout
 * with --json). Light: it loads nothing but the core.
 */
export * from "./report.js";
