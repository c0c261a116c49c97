/**
 * Segment verification, after go-livepeer's `verification/`: a `Verifier`
 * interface, checks classed retryable or fatal, the default
 * `SegmentVerifier` and its components. See README.md for the PSNR
 * threshold and how it was measured.
 */
export * from "./types.js";
export * from "./constants.js";
export { SegmentVerifier } from "./verifier.js";
export type { SegmentVerifierInit } from "./verifier.js";
export { defaultVerifierComponents } from "./components.js";
export type { DefaultVerifierComponentsInit } from "./components.js";
export { cryptoRandomInt, gatherPixels, luma709, psnr8, sampleDistinct } from "./sampling.js";
export type { RandomInt } from "./sampling.js";
