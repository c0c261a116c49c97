export * from "./schema.js";
export * from "./hash.js";
export * from "./pricing.js";
