/** Supervision: dispatch, heartbeats, per-segment deadlines, retries, speculative copies; all state in the store. */
export { Supervisor, type RenderDispatcher, type SupervisorInit, type SupervisorComponents, type SupervisorStats } from "./supervisor.js";
