export * from "./schema.js";
export * from "./hash.js";
