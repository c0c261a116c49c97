export * from "./normalise.js";
export * from "./snapshot.js";
export * from "./evaluate.js";
