/** Durable state: SQLite (WAL) with migrations; every transition is one transaction plus its job events. */
export { CoordinatorStore, type StoreInit } from "./store.js";
export type * from "./types.js";
export { MIGRATIONS } from "./migrations.js";
