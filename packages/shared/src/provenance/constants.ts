/** What a Rendermesh Content Credential says, by C2PA label and IPTC term. */

/** IPTC digital source type for media made by a trained model (C2PA 2.x `digitalSourceType`). */
export const TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia";

/** The final video's assertion: job, chain, receipts and settlement. */
export const JOB_ASSERTION = "org.rendermesh.job";
/** A provider's segment file: which job, segment and frames it rendered. */
export const SEGMENT_ASSERTION = "org.rendermesh.segment";
/** The Ethereum address that vouches for the manifest's signing key (an EIP-191 signature over its fingerprint). */
export const SIGNER_ASSERTION = "org.rendermesh.signer";

export const CLAIM_GENERATOR = "Rendermesh";
export const MP4 = "video/mp4";

/** The only failure a Rendermesh manifest may carry: its certificate roots in no public trust list, by design — the chain vouches for it instead. */
export const UNTRUSTED_CREDENTIAL = "signingCredential.untrusted";

/** c2pa-rs codes that mean the media's bytes are not what was signed. */
export const CONTENT_MISMATCH_CODES = [
  "assertion.bmffHash.mismatch",
  "assertion.dataHash.mismatch",
  "assertion.boxesHash.mismatch",
  "assertion.collectionHash.mismatch",
] as const;

/** The UUID of the top-level MP4 box that holds a C2PA manifest store. */
export const C2PA_BOX_UUID = "d8fec3d61b0e483c92975828877ec481";

/** The Rendermesh release that writes the claim generator field. */
export const RENDERMESH_VERSION = "0.1.0";
