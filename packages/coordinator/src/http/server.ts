import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Logger, PolicySnapshot } from "@rendermesh/shared";
import type { ProviderDirectory } from "../directory/index.js";
import type { CoordinatorStore, JobStatus } from "../store/index.js";

export interface HttpApiComponents {
  store: CoordinatorStore;
  directory: ProviderDirectory;
  registry: Registry;
  status: () => Record<string, unknown>;
  policy: () => PolicySnapshot | undefined;
  log: Logger;
}

const JOB_ID = /^0x[0-9a-fA-F]{64}$/;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Set ? [...(v as Set<unknown>)] : v), 2);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "access-control-allow-origin": "*" });
  res.end(text);
}

const intParam = (u: URL, name: string, def: number, max: number) => {
  const v = Number(u.searchParams.get(name) ?? def);
  return Number.isInteger(v) && v >= 0 ? Math.min(v, max) : def;
};

/**
 * The read-only HTTP JSON API a dashboard reads, and Prometheus `/metrics`.
 *
 * GET /api/status · /api/jobs?status=&limit=&offset= · /api/jobs/:id ·
 * /api/jobs/:id/segments · /api/jobs/:id/events?from= · /api/providers ·
 * /api/policy · /metrics
 */
export function createHttpApi(c: HttpApiComponents): { server: Server; listen: (port: number, host: string) => Promise<string>; close: () => Promise<void> } {
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return json(res, 405, { error: "This API is read-only: use GET." });
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const parts = url.pathname.split("/").filter(Boolean);
    if (url.pathname === "/metrics") {
      const body = await c.registry.metrics();
      res.writeHead(200, { "content-type": c.registry.contentType });
      res.end(body);
      return;
    }
    if (parts[0] !== "api") return json(res, 404, { error: "Not found. Try /api/status." });
    const [, what, id, sub] = parts;
    switch (what) {
      case "status":
        return json(res, 200, c.status());
      case "policy": {
        const p = c.policy();
        return p ? json(res, 200, p) : json(res, 503, { error: "The policy has not been read from the chain yet." });
      }
      case "providers": {
        const live = new Map(c.directory.liveProviders().map((p) => [p.address, p]));
        return json(res, 200, {
          providers: c.store.providers().map((p) => ({ ...p, live: live.has(p.address), speedFps: live.get(p.address)?.speedFps ?? p.speedFps })),
        });
      }
      case "jobs": {
        if (id === undefined) {
          const status = url.searchParams.get("status") as JobStatus | null;
          if (status && !["running", "complete", "failed"].includes(status)) return json(res, 400, { error: "status must be running, complete or failed." });
          const jobs = c.store.listJobs({ ...(status ? { status } : {}), limit: intParam(url, "limit", 100, 1000), offset: intParam(url, "offset", 0, 1e9) });
          return json(res, 200, { jobs: jobs.map((j) => ({ ...j, segmentCounts: c.store.segmentCounts(j.jobId) })) });
        }
        if (!JOB_ID.test(id)) return json(res, 400, { error: "A job id is 0x followed by 64 hex digits." });
        const job = c.store.getJob(id);
        if (!job) return json(res, 404, { error: `No job ${id}.` });
        if (sub === undefined) return json(res, 200, { ...job, segmentCounts: c.store.segmentCounts(id) });
        if (sub === "segments") {
          const attempts = c.store.attempts(id);
          return json(res, 200, {
            segments: c.store.segments(id).map((s) => ({ ...s, attempts: attempts.filter((a) => a.segment === s.index) })),
          });
        }
        if (sub === "events") return json(res, 200, { events: c.store.events(id, intParam(url, "from", 0, Number.MAX_SAFE_INTEGER), intParam(url, "limit", 1000, 10_000)) });
        return json(res, 404, { error: "Not found." });
      }
      default:
        return json(res, 404, { error: "Not found." });
    }
  };
  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      c.log.error({ err }, "http request failed");
      if (!res.headersSent) json(res, 500, { error: "Internal error." });
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.maxConnections = 256;
  return {
    server,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          const a = server.address() as AddressInfo;
          resolve(`http://${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
