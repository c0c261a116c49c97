/**
 * @rendermesh/coordinator — the libp2p service that keeps the provider
 * directory, quotes and takes jobs, shards and schedules them across
 * providers, supervises the renders (deadlines, retries, speculative copies)
 * and streams job events to clients, with all state in SQLite and a
 * read-only HTTP API with Prometheus metrics.
 */
export { Coordinator, type CoordinatorComponents } from "./coordinator.js";
export { CoordinatorConfig, loadCoordinatorConfig, ENV_PREFIX, type CoordinatorConfigInput } from "./config.js";
export * from "./errors.js";
export * from "./chain/index.js";
export { EthersChain, type ConnectChainInit } from "./chain/ethers-chain.js";
export * from "./store/index.js";
export * from "./scheduler/index.js";
export * from "./directory/index.js";
export * from "./intake/index.js";
export * from "./quote/index.js";
export * from "./supervisor/index.js";
export * from "./http/index.js";
export { AnnounceService } from "./protocols/announce/index.js";
export { QuoteService } from "./protocols/quote/index.js";
export { JobService } from "./protocols/job/index.js";
export { ReportService } from "./protocols/report/index.js";
export { RenderClient } from "./protocols/render/index.js";
export { refusalMessage } from "@rendermesh/shared";
