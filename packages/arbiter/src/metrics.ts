import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

/** The arbiter's Prometheus metrics, on a registry of its own (two arbiters in one test process do not collide). */
export class ArbiterMetrics {
  readonly registry = new Registry();
  readonly disputesSeen = new Counter({
    name: "rendermesh_arbiter_disputes_seen_total",
    help: "ClaimDisputed events seen",
    registers: [this.registry],
  });
  readonly verdicts = new Counter({
    name: "rendermesh_arbiter_verdicts_total",
    help: "Verdicts, by outcome (pay, refuse, leave)",
    labelNames: ["verdict"],
    registers: [this.registry],
  });
  readonly resolveFailures = new Counter({
    name: "rendermesh_arbiter_resolve_failures_total",
    help: "resolveDispute transactions that failed (sent again on the next scan)",
    registers: [this.registry],
  });
  readonly resolved = new Counter({
    name: "rendermesh_arbiter_disputes_resolved_total",
    help: "Disputes resolved on chain by this arbiter",
    registers: [this.registry],
  });
  readonly resolutionTxs = new Counter({
    name: "rendermesh_arbiter_resolution_transactions_total",
    help: "Resolution transactions mined, by kind (batch: resolveDisputes; single: resolveDispute)",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  readonly batchFallbacks = new Counter({
    name: "rendermesh_arbiter_batch_fallbacks_total",
    help: "resolveDisputes batches that failed and were resolved one by one",
    registers: [this.registry],
  });
  readonly lastBlock = new Gauge({
    name: "rendermesh_arbiter_last_block",
    help: "Last block scanned for disputes",
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "rendermesh_arbiter_" });
  }
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `/metrics` on host:port (port 0 picks one). */
export async function serveMetrics(metrics: ArbiterMetrics, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end("Not found. Try /metrics.\n");
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  return { url: `http://${host}:${bound}/metrics`, close: () => new Promise((r) => server.close(() => r())) };
}
