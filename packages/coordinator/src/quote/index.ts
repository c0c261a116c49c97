/** Quotes: price per second, fees, policy version and an ETA from the capacity live now. */
export * from "./quote.js";
