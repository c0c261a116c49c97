/**
 * ipfs/ — the segment store that moves video bytes over IPFS, never over
 * control protocols: an embedded Helia node or an external Kubo daemon, both
 * importing with the same settings so a segment's CID is the same either way.
 * Importing this module loads Helia; code that only needs the types imports
 * them with `import type`.
 */
export * from "./segment-store.js";
export * from "./import-settings.js";
export * from "./helia.js";
export * from "./kubo.js";
export { BLOCKS_PROTOCOL } from "./block-transfer.js";
