/** The provider directory: on-chain registrations joined with live, signed announcements. */
export { ProviderDirectory, type LiveProvider, type DirectoryInit, type DirectoryComponents } from "./directory.js";
