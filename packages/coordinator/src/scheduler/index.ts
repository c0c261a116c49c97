/** Sharding and scheduling decisions: pure functions, no I/O, benchmarked in scripts/bench/scheduler.ts. */
export * from "./scheduler.js";
export { IndexHeap } from "./heap.js";
