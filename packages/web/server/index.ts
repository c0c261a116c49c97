/**
 * The local Rendermesh node the web app talks to. It serves the built app,
 * and runs the client SDK on the user's machine: quotes and the policy check
 * before anything is signed, and for a job the whole paid flow, with every
 * delivered segment fetched over IPFS and verified HERE (signatures, CID,
 * sha256, decode, a re-rendered spot check) before a voucher pays for it.
 * The coordinator's word is never taken for a segment.
 *
 * Keys: the node signs jobs only for accounts whose key it was given (on the
 * dev network, the dev accounts of dev.json). Provider and governance
 * transactions are sent by the browser's wallet, never by this node.
 */
export { startWebNode } from "./node.js";
export type { WebNode, WebNodeOptions, WebAccount } from "./node.js";
export { devAccounts, startDevWebNode } from "./dev.js";
