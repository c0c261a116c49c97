import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The provider's Prometheus metrics, on a registry of its own (so two
 * providers in one process, as in tests, do not collide). Names follow
 * Prometheus conventions: `_total` counters, base units (seconds).
 */
export class ProviderMetrics {
  readonly registry = new Registry();
  readonly framesRendered = new Counter({
    name: "rendermesh_provider_frames_rendered_total",
    help: "Frames rendered",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly renderSeconds = new Histogram({
    name: "rendermesh_provider_segment_render_seconds",
    help: "Wall time to render, encode, hash and pin one segment",
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "rendermesh_provider_queue_depth",
    help: "Segments accepted and not yet delivered",
    registers: [this.registry],
  });
  readonly segmentsDelivered = new Counter({
    name: "rendermesh_provider_segments_delivered_total",
    help: "Segments delivered with a signed receipt",
    registers: [this.registry],
  });
  readonly segmentsFailed = new Counter({
    name: "rendermesh_provider_segments_failed_total",
    help: "Accepted segments given back",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly refusals = new Counter({
    name: "rendermesh_provider_assignments_refused_total",
    help: "Assignments refused, by reason code",
    labelNames: ["code"],
    registers: [this.registry],
  });
  readonly tokensEarned = new Counter({
    name: "rendermesh_provider_tokens_earned_total",
    help: "Tokens earned (redeemed vouchers, settlements, finalised claims), in MESH",
    registers: [this.registry],
  });
  readonly vouchersReceived = new Counter({
    name: "rendermesh_provider_vouchers_received_total",
    help: "Valid vouchers received",
    registers: [this.registry],
  });
  readonly benchmarkFps = new Gauge({
    name: "rendermesh_provider_benchmark_fps",
    help: "Self-benchmark frames per second at the model's reference size",
    labelNames: ["model"],
    registers: [this.registry],
  });
  readonly coordinatorsConnected = new Gauge({
    name: "rendermesh_provider_coordinators_connected",
    help: "Coordinators with a live announcement",
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: "rendermesh_provider_" });
  }

  /** Adds base units of an 18-decimal token to the earned counter. */
  addEarned(amount: bigint): void {
    if (amount > 0n) this.tokensEarned.inc(Number(amount) / 1e18);
  }
}

export interface MetricsServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Serves `GET /metrics` (and `/healthz`). Port 0 picks a free port. */
export async function serveMetrics(metrics: ProviderMetrics, options: { host: string; port: number }): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.url === "/metrics" && req.method === "GET") {
      metrics.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": metrics.registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500);
          res.end(String(err));
        },
      );
      return;
    }
    if (req.url === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok\n");
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/metrics`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
