/** The read-only HTTP JSON API and Prometheus metrics. */
export { createHttpApi, type HttpApiComponents } from "./server.js";
export { createMetrics, type MetricsComponents } from "./metrics.js";
