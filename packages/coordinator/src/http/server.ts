import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Logger, PolicySnapshot } from "@rendermesh/shared";
import type { ProviderDirectory } from "../directory/index.js";
import type { CoordinatorStore, JobStatus } from "../store/index.js";

export interface HttpApiInit {
  /** Open connections one remote IP may hold; more are closed at once (default 32). */
  maxConnectionsPerIp?: number;
  /** Open connections in all (default 1024). */
  maxConnections?: number;
  /** A client must send its whole request head within this (default 5 s). */
  headersTimeoutMs?: number;
  /** …and its whole request within this (default 10 s). */
  requestTimeoutMs?: number;
}

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
  const text = JSON.stringify(
    body,
    (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v instanceof Set ? [...(v as Set<unknown>)] : v),
    2,
  );
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    "access-control-allow-origin": "*",
  });
  res.end(text);
}

/** A request the API refuses: answered with `status` and the message, never logged as an error. */
class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** An integer query parameter in [0, max], its default when absent; anything else is a 400 that says what is allowed. */
function intParam(u: URL, name: string, def: number, max: number): number {
  const raw = u.searchParams.get(name);
  if (raw === null) return def;
  const v = /^[0-9]{1,16}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(v) || v > max)
    throw new HttpRefusal(400, `${name} must be a whole number from 0 to ${max}, got "${raw.slice(0, 40)}".`);
  return v;
}

/** Refuses query parameters the route does not take, so a typo is not silently ignored. */
function onlyParams(u: URL, allowed: readonly string[]): void {
  for (const key of u.searchParams.keys()) {
    if (!allowed.includes(key)) {
      throw new HttpRefusal(
        400,
        allowed.length
          ? `Unknown parameter "${key.slice(0, 40)}"; this route takes ${allowed.join(", ")}.`
          : `Unknown parameter "${key.slice(0, 40)}"; this route takes none.`,
      );
    }
  }
}

/** Refuses a path with more segments than the route has (`/api/status/x`). */
function exactly(parts: string[], n: number): void {
  if (parts.length !== n) throw new HttpRefusal(404, "Not found.");
}

/**
 * The read-only HTTP JSON API a dashboard reads, and Prometheus `/metrics`.
 *
 * GET /api/status · /api/jobs?status=&limit=&offset= · /api/jobs/:id ·
 * /api/jobs/:id/segments · /api/jobs/:id/events?from= · /api/providers ·
 * /api/policy · /metrics
 */
export function createHttpApi(
  c: HttpApiComponents,
  init: HttpApiInit = {},
): { server: Server; listen: (port: number, host: string) => Promise<string>; close: () => Promise<void> } {
  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("allow", "GET, HEAD");
      return json(res, 405, { error: "This API is read-only: use GET." });
    }
    const url = new URL(req.url ?? "/", "http://localhost");
    const parts = url.pathname.split("/").filter(Boolean);
    if (url.pathname === "/metrics") {
      onlyParams(url, []);
      const body = await c.registry.metrics();
      res.writeHead(200, { "content-type": c.registry.contentType });
      res.end(body);
      return;
    }
    if (parts[0] !== "api") return json(res, 404, { error: "Not found. Try /api/status." });
    const [, what, id, sub] = parts;
    switch (what) {
      case "status":
        exactly(parts, 2);
        onlyParams(url, []);
        return json(res, 200, c.status());
      case "policy": {
        exactly(parts, 2);
        onlyParams(url, []);
        const p = c.policy();
        return p ? json(res, 200, p) : json(res, 503, { error: "The policy has not been read from the chain yet." });
      }
      case "providers": {
        exactly(parts, 2);
        onlyParams(url, []);
        const live = new Map(c.directory.liveProviders().map((p) => [p.address, p]));
        return json(res, 200, {
          providers: c.store
            .providers()
            .map((p) => ({ ...p, live: live.has(p.address), speedFps: live.get(p.address)?.speedFps ?? p.speedFps })),
        });
      }
      case "jobs": {
        if (id === undefined) {
          onlyParams(url, ["status", "limit", "offset"]);
          const status = url.searchParams.get("status") as JobStatus | null;
          if (status && !["running", "complete", "failed"].includes(status))
            return json(res, 400, { error: "status must be running, complete or failed." });
          const jobs = c.store.listJobs({
            ...(status ? { status } : {}),
            limit: intParam(url, "limit", 100, 1000),
            offset: intParam(url, "offset", 0, 1e9),
          });
          return json(res, 200, { jobs: jobs.map((j) => ({ ...j, segmentCounts: c.store.segmentCounts(j.jobId) })) });
        }
        if (!JOB_ID.test(id)) return json(res, 400, { error: "A job id is 0x followed by 64 hex digits." });
        if (parts.length > 4) return json(res, 404, { error: "Not found." });
        onlyParams(url, sub === "events" ? ["from", "limit"] : []);
        const job = c.store.getJob(id);
        if (!job) return json(res, 404, { error: `No job ${id}.` });
        if (sub === undefined) return json(res, 200, { ...job, segmentCounts: c.store.segmentCounts(id) });
        if (sub === "segments") {
          const attempts = c.store.attempts(id);
          return json(res, 200, {
            segments: c.store.segments(id).map((s) => ({ ...s, attempts: attempts.filter((a) => a.segment === s.index) })),
          });
        }
        if (sub === "events")
          return json(res, 200, {
            events: c.store.events(id, intParam(url, "from", 0, Number.MAX_SAFE_INTEGER), intParam(url, "limit", 1000, 10_000)),
          });
        return json(res, 404, { error: "Not found." });
      }
      default:
        return json(res, 404, { error: "Not found." });
    }
  };
  const server = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
    route(req, res).catch((err: unknown) => {
      if (err instanceof HttpRefusal) return json(res, err.status, { error: err.message });
      c.log.error({ err }, "http request failed");
      if (!res.headersSent) json(res, 500, { error: "Internal error." });
      else res.destroy();
    });
  });
  // Slow clients cannot hold sockets: a whole head in 5 s, a whole request in
  // 10 s, and one IP holds at most a few dozen of the connections.
  server.headersTimeout = init.headersTimeoutMs ?? 5_000;
  server.requestTimeout = init.requestTimeoutMs ?? 10_000;
  server.keepAliveTimeout = 5_000;
  server.maxHeadersCount = 64;
  server.maxConnections = init.maxConnections ?? 1024;
  const perIp = new Map<string, number>();
  const maxPerIp = init.maxConnectionsPerIp ?? 32;
  server.on("connection", (socket) => {
    const ip = socket.remoteAddress ?? "?";
    const open = perIp.get(ip) ?? 0;
    if (open >= maxPerIp) {
      socket.destroy();
      return;
    }
    perIp.set(ip, open + 1);
    socket.once("close", () => {
      const left = (perIp.get(ip) ?? 1) - 1;
      if (left > 0) perIp.set(ip, left);
      else perIp.delete(ip);
    });
  });
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
