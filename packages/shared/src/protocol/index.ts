export * from "./ids.js";
export * from "./reasons.js";
export * from "./messages.js";
export * from "./refusal.js";
