export * from "./journal.js";
export { SCHEMA_VERSION } from "./schema.js";
