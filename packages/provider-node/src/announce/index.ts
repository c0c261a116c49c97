export * from "./links.js";
export * from "./constants.js";
