/**
 * @rendermesh/shared/provenance — Content Credentials (C2PA) for Rendermesh
 * video: each party's provenance key and certificate, bound to its Ethereum
 * address; signing an MP4 with c2pa-rs (WebAssembly, loaded on first use);
 * reading and validating the manifest embedded in a file.
 */
export * from "./constants.js";
export { NoCredentialsError, ProvenanceError } from "./errors.js";
export { bindingMessage, checkBinding, keyFingerprint, signBinding } from "./binding.js";
export type { BindingCheck, MessageSigner, SignerBinding } from "./binding.js";
export { createProvenanceIdentity, loadOrCreateProvenanceIdentity, provenancePaths } from "./identity.js";
export type { ProvenanceIdentity } from "./identity.js";
export { signMp4 } from "./sign.js";
export type { Generator, SignMp4Parameters } from "./sign.js";
export { assertionData, readCredentials } from "./read.js";
export type { Credentials, ReadManifest, ValidationStatus } from "./read.js";
export { coseCertChain } from "./cose.js";
export { JobAssertion, JobAssertionSegment, SegmentAssertion } from "./assertions.js";
export type { JobAssertionInput } from "./assertions.js";
export { credentialSegment } from "./segment.js";
export type { CredentialSegmentParameters } from "./segment.js";
export { packetsDigest, videoPackets } from "./packets.js";
export { loadProvenanceEngine } from "./wasm.js";
