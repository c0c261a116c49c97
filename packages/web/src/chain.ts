// The generated ABIs, imported as data: the browser needs nothing else of
// @rendermesh/shared (whose root pulls in libp2p and ffmpeg). When the
// shared package's subpath exports land, this is the one line to change.
export { jobEscrowAbi, meshGovernorAbi, meshTokenAbi, providerRegistryAbi } from "../../shared/src/chain/abis.js";
