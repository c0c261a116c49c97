import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, extname, join, normalize, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { getAddress, isAddress, JsonRpcProvider, Network, Wallet } from "ethers";
import {
  createRendermeshClient,
  encodePolicyAction,
  refundJob,
  SPEC_DEFAULTS,
  type PolicyAction,
  type RendermeshClient,
  type RendermeshClientConfig,
} from "@rendermesh/client";
import { createLogger, type Logger } from "@rendermesh/shared";
import type { Deployment } from "@rendermesh/shared/chain";
import { runFfmpeg } from "@rendermesh/shared/media";
import { defaultModel } from "@rendermesh/shared/model";
import { errorBody, statusOf, toJson } from "./json.js";
import { readAccount, readDao, readJobs, readProvider, type ChainReader } from "./reads.js";
import { quoteFor, Runs, type SpecInput } from "./runs.js";

export interface WebAccount {
  address: string;
  /** Held by this node so it can sign jobs for the account; never sent to the page. */
  privateKey?: string | undefined;
  /** What the page calls it, e.g. "client" or "provider 1". */
  label: string;
  role?: "client" | "provider" | "dao" | "other" | undefined;
}

export interface WebNodeOptions {
  rpcUrl: string;
  chainId: number;
  deployment: Deployment;
  /** Coordinator multiaddrs (with /p2p/…) jobs are quoted from and submitted to. */
  coordinator: string[];
  /** The coordinator's read-only HTTP API (segments rendered per provider). */
  coordinatorHttpUrl?: string | undefined;
  /** Journals, IPFS blocks, videos and manifests go under here, one folder per account. */
  dataDir: string;
  accounts: WebAccount[];
  /** The built app (default: the package's dist/app). */
  staticDir?: string | undefined;
  host?: string | undefined;
  /** 0 picks a free port. */
  port?: number | undefined;
  /** The local dev network: the page offers its accounts as a wallet. */
  dev?: boolean | undefined;
  logger?: Logger | undefined;
  /** Extra client settings (verifier tuning, ffmpeg). */
  client?: Partial<Pick<RendermeshClientConfig, "verifier" | "ffmpeg" | "models">> | undefined;
}

export interface WebNode {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json; charset=utf-8",
  ".ico": "image/x-icon",
};

/** A request this node will not serve; 403 is a refusal (the CLI's exit 3), other 4xx bad input (exit 2). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly hint?: string,
    readonly code = status === 404 ? "NOT_FOUND" : status === 403 ? "NO_KEY" : "BAD_REQUEST",
  ) {
    super(message);
  }
}

function defaultStaticDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // dist/server/node.js → dist/app; server/node.ts (source) → dist/app.
  for (const dir of [join(here, "..", "app"), join(here, "..", "dist", "app")]) if (existsSync(join(dir, "index.html"))) return dir;
  return join(here, "..", "dist", "app");
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > 256 * 1024) throw new HttpError(413, "The request body is larger than 256 KiB.");
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (v && typeof v === "object" && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, "The request body must be a JSON object.");
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" });
  res.end(toJson(body));
}

function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof HttpError) {
    sendJson(res, err.status, {
      error: {
        code: err.code,
        name: "HttpError",
        message: err.message,
        hint: err.hint,
        details: [],
        exitCode: err.status >= 500 ? 1 : err.status === 403 ? 3 : 2,
      },
    });
    return;
  }
  const body = errorBody(err);
  sendJson(res, statusOf(body), { error: body });
}

function addressParam(v: unknown, what = "account"): string {
  if (typeof v !== "string" || !isAddress(v))
    throw new HttpError(400, `The ${what} must be a 0x address.`, "Connect a wallet, or pick a dev account.");
  return getAddress(v);
}

function specInput(v: unknown): SpecInput {
  if (!v || typeof v !== "object") throw new HttpError(400, "The job spec is missing.");
  const o = v as Record<string, unknown>;
  const num = (k: string) => (o[k] === undefined || o[k] === "" ? undefined : Number(o[k]));
  if (typeof o.prompt !== "string") throw new HttpError(400, "Type a prompt.");
  return {
    prompt: o.prompt,
    seconds: num("seconds") ?? Number.NaN,
    width: num("width"),
    height: num("height"),
    fps: num("fps"),
    seed: num("seed"),
    model: typeof o.model === "string" && o.model !== "" ? (o.model as `0x${string}`) : undefined,
  };
}

/** Starts the local node: the API under /api, the chain under /rpc, the app everywhere else. */
export async function startWebNode(opts: WebNodeOptions): Promise<WebNode> {
  const logger = opts.logger ?? createLogger({ name: "web", level: process.env.RENDERMESH_LOG_LEVEL ?? "warn" });
  const provider = new JsonRpcProvider(opts.rpcUrl, Network.from(opts.chainId), {
    staticNetwork: true,
    pollingInterval: 500,
    cacheTimeout: -1,
  });
  const reader: ChainReader = { provider, deployment: opts.deployment, coordinatorHttpUrl: opts.coordinatorHttpUrl };
  const staticDir = opts.staticDir ?? defaultStaticDir();
  const runs = new Runs();
  const keys = new Map(opts.accounts.filter((a) => a.privateKey).map((a) => [getAddress(a.address), a.privateKey!]));
  const clients = new Map<string, Promise<RendermeshClient>>();
  const thumbs = new Map<string, Buffer>();

  const clientFor = (account: string): Promise<RendermeshClient> => {
    const address = getAddress(account);
    const key = keys.get(address);
    if (!key) {
      throw new HttpError(
        403,
        `This node holds no key for ${address}, so it cannot sign a job for it.`,
        "Pick one of the node's accounts in the wallet menu, or start the node with that account's key (RENDERMESH_PRIVATE_KEY); see packages/web/README.md.",
      );
    }
    let c = clients.get(address);
    if (!c) {
      const dataDir = join(opts.dataDir, address.toLowerCase());
      c = (async () => {
        await mkdir(dataDir, { recursive: true });
        return createRendermeshClient({
          wallet: new Wallet(key, provider),
          deployment: opts.deployment,
          dataDir,
          outDir: join(dataDir, "out"),
          coordinator: opts.coordinator,
          logger: logger.child({ account: address }),
          ...opts.client,
        });
      })();
      c.catch(() => clients.delete(address));
      clients.set(address, c);
    }
    return c;
  };

  // Quotes and policy checks sign nothing, so any account may ask for one: an
  // account without a key here is quoted through a client with a throwaway key.
  let quoter: Promise<RendermeshClient> | undefined;
  const quoteClient = (account: string): Promise<RendermeshClient> => {
    if (keys.has(getAddress(account))) return clientFor(account);
    quoter ??= (async () => {
      const dataDir = join(opts.dataDir, "quotes");
      await mkdir(dataDir, { recursive: true });
      return createRendermeshClient({
        wallet: new Wallet(Wallet.createRandom().privateKey, provider),
        deployment: opts.deployment,
        dataDir,
        coordinator: opts.coordinator,
        logger: logger.child({ role: "quotes" }),
        ...opts.client,
      });
    })();
    quoter.catch(() => (quoter = undefined));
    return quoter;
  };

  const jobFile = async (account: string, ref: string, what: "video" | "manifest") => {
    const client = await clientFor(account);
    const job = client.journal.findJob(ref);
    if (!job) throw new HttpError(404, `No job ${ref} in this node's journal for ${account}.`);
    const path = what === "video" ? job.videoPath : job.manifestPath;
    if (!path) throw new HttpError(404, what === "video" ? "This job has no joined video yet." : "This job has no manifest yet.");
    return { path, job };
  };

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const parts = url.pathname.split("/").filter(Boolean).slice(1);
    const method = req.method ?? "GET";
    const q = (k: string) => url.searchParams.get(k) ?? undefined;
    const [a, b, c, d, e] = parts;

    if (method === "GET" && a === "config") {
      // The models this node can verify (the network may allow more; the page marks which the policy allows).
      const models = (opts.client?.models ?? [defaultModel()]).map(({ manifest: m }) => ({
        id: m.id,
        name: m.name,
        version: m.version,
        reference: m.reference,
        limits: m.limits,
      }));
      return sendJson(res, 200, {
        chainId: opts.chainId,
        dev: Boolean(opts.dev),
        deployment: {
          token: opts.deployment.token,
          policy: opts.deployment.policy,
          registry: opts.deployment.registry,
          escrow: opts.deployment.escrow,
          governor: opts.deployment.governor,
          timelock: opts.deployment.timelock,
        },
        accounts: opts.accounts.map((x) => ({
          address: getAddress(x.address),
          label: x.label,
          role: x.role ?? "other",
          nodeSigns: keys.has(getAddress(x.address)),
        })),
        models,
        specDefaults: SPEC_DEFAULTS,
        coordinator: { multiaddrs: opts.coordinator, httpUrl: opts.coordinatorHttpUrl },
      });
    }
    if (method === "GET" && a === "account" && b)
      return sendJson(res, 200, { ...(await readAccount(reader, addressParam(b))), nodeSigns: keys.has(getAddress(b)) });

    if (method === "POST" && a === "quote") {
      const body = await readBody(req);
      const account = addressParam(body.account);
      const input = specInput(body.spec);
      const quote = await quoteFor(await quoteClient(account), input, opts.coordinator, account);
      return sendJson(res, 200, { ...quote, nodeSigns: keys.has(account) });
    }
    if (method === "POST" && a === "jobs" && !b) {
      const body = await readBody(req);
      const client = await clientFor(addressParam(body.account));
      if (typeof body.acceptedPricePerSecond !== "string" || !/^\d+$/.test(body.acceptedPricePerSecond)) {
        throw new HttpError(400, "Get a quote first: the job needs the price per second you accepted.");
      }
      const run = runs.start(client, specInput(body.spec), BigInt(body.acceptedPricePerSecond), opts.coordinator);
      return sendJson(res, 202, { id: run.id });
    }
    if (method === "GET" && a === "runs" && !b) {
      return sendJson(res, 200, { runs: runs.list(q("account")).map(({ events: _e, ...r }) => r) });
    }
    if (method === "GET" && a === "runs" && b && !c) {
      const run = runs.get(b);
      if (!run) throw new HttpError(404, `No job run ${b} on this node (it forgets runs when it restarts; My jobs lists the journal).`);
      return sendJson(res, 200, run);
    }
    if (method === "GET" && a === "runs" && b && c === "events") {
      if (!runs.get(b)) throw new HttpError(404, `No job run ${b} on this node.`);
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-store", connection: "keep-alive" });
      res.write(": connected\n\n");
      const unsubscribe = runs.subscribe(b, (ev) => res.write(`id: ${ev.seq}\ndata: ${toJson(ev)}\n\n`));
      // A comment now and then keeps proxies from closing an idle stream.
      const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), 15_000);
      req.on("close", () => {
        clearInterval(keepAlive);
        unsubscribe();
      });
      return;
    }
    if (method === "GET" && a === "jobs" && !b) {
      const account = addressParam(q("account"));
      if (!keys.has(account)) return sendJson(res, 200, { jobs: [], nodeSigns: false });
      return sendJson(res, 200, { jobs: await readJobs(await clientFor(account)), nodeSigns: true });
    }
    if (method === "POST" && a === "jobs" && b && c === "refund") {
      const body = await readBody(req);
      const client = await clientFor(addressParam(body.account));
      const job = client.journal.findJob(b);
      if (!job?.jobId) throw new HttpError(404, `No opened job ${b} in this node's journal.`);
      return sendJson(res, 200, await refundJob(client, { jobId: job.jobId }));
    }
    if (method === "GET" && a === "jobs" && b && (c === "video" || c === "manifest")) {
      const { path, job } = await jobFile(addressParam(q("account")), b, c);
      const bytes = await readFile(path);
      const name = `rendermesh-${(job.jobId ?? job.ref).slice(2, 10)}${c === "video" ? ".mp4" : ".manifest.json"}`;
      res.writeHead(200, {
        "content-type": c === "video" ? "video/mp4" : "application/json; charset=utf-8",
        "content-length": bytes.length,
        "cache-control": "no-store",
        ...(q("download") ? { "content-disposition": `attachment; filename="${name}"` } : {}),
      });
      res.end(bytes);
      return;
    }
    if (method === "GET" && a === "jobs" && b && c === "segments" && d !== undefined && e === "thumb") {
      const account = addressParam(q("account"));
      const client = await clientFor(account);
      const job = client.journal.findJob(b);
      const seg = job ? client.journal.verifiedSegment(job.ref, Number(d)) : undefined;
      if (!job || !seg) throw new HttpError(404, `Segment ${d} of job ${b} has not been verified on this node.`);
      const key = `${job.ref}:${seg.segment}:${seg.cid}`;
      let jpeg = thumbs.get(key);
      if (!jpeg) {
        const out = await runFfmpeg(
          ["-loglevel", "error", "-i", seg.file, "-frames:v", "1", "-f", "image2pipe", "-c:v", "mjpeg", "pipe:1"],
          { what: "make a thumbnail", ffmpeg: opts.client?.ffmpeg },
        );
        const made: Buffer = out.stdout;
        thumbs.set(key, made);
        jpeg = made;
      }
      res.writeHead(200, { "content-type": "image/jpeg", "content-length": jpeg.length, "cache-control": "max-age=3600" });
      res.end(jpeg);
      return;
    }
    if (method === "GET" && a === "providers" && !b) {
      const list = opts.accounts.filter((x) => x.role === "provider").map((x) => ({ address: getAddress(x.address), label: x.label }));
      return sendJson(res, 200, { providers: list });
    }
    if (method === "GET" && a === "providers" && b) return sendJson(res, 200, await readProvider(reader, addressParam(b, "provider")));
    if (method === "GET" && a === "dao" && !b) {
      const account = q("account");
      return sendJson(res, 200, await readDao(reader, account && isAddress(account) ? getAddress(account) : undefined));
    }
    if (method === "POST" && a === "dao" && b === "encode") {
      const body = await readBody(req);
      const action = body.action as PolicyAction | undefined;
      if (!action || typeof action !== "object" || typeof action.type !== "string")
        throw new HttpError(400, "Say what the proposal changes (action.type).");
      const call = encodePolicyAction(action, opts.deployment.policy);
      const description = typeof body.description === "string" && body.description.trim() ? body.description.trim() : call.summary;
      return sendJson(res, 200, {
        targets: [call.target],
        values: [call.value],
        calldatas: [call.calldata],
        description,
        summary: call.summary,
        terms: call.terms,
      });
    }
    throw new HttpError(404, `No API ${method} ${url.pathname}.`);
  };

  /** The page's window onto the chain: JSON-RPC passed through unchanged (the dev wallet sends through it too). */
  const rpc = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const upstream = await fetch(opts.rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: Buffer.concat(chunks),
      signal: AbortSignal.timeout(60_000),
    });
    res.writeHead(upstream.status, { "content-type": "application/json" });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  };

  const serveStatic = async (res: ServerResponse, url: URL): Promise<void> => {
    const root = resolve(staticDir);
    let path = normalize(join(root, decodeURIComponent(url.pathname)));
    if (!path.startsWith(root + sep) && path !== root) throw new HttpError(404, "Not found.");
    if (!existsSync(path) || path === root || extname(path) === "") path = join(root, "index.html");
    if (!existsSync(path)) throw new HttpError(404, `The web app is not built (no ${path}).`, "Run `pnpm --filter @rendermesh/web build`.");
    const bytes = await readFile(path);
    res.writeHead(200, {
      "content-type": MIME[extname(path)] ?? "application/octet-stream",
      "cache-control": path.includes(`${sep}assets${sep}`) ? "max-age=31536000, immutable" : "no-cache",
    });
    res.end(bytes);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const handle = url.pathname.startsWith("/api/")
      ? api(req, res, url)
      : url.pathname === "/rpc" && req.method === "POST"
        ? rpc(req, res)
        : serveStatic(res, url);
    handle.catch((err: unknown) => {
      // Refusals and bad input are answers, not failures of this node: only the rest is worth a warning.
      if (!(err instanceof HttpError) && errorBody(err).exitCode === 1)
        logger.warn({ err: errorBody(err).message, path: url.pathname }, "web request failed");
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    });
  });
  server.requestTimeout = 0; // SSE streams stay open as long as a job runs.

  const url = await new Promise<string>((resolveUrl, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
      const addr = server.address() as AddressInfo;
      resolveUrl(`http://${addr.family === "IPv6" ? `[${addr.address}]` : addr.address}:${addr.port}`);
    });
  });
  logger.info({ url }, "web node listening");

  return {
    url,
    server,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      for (const c of [...clients.values(), ...(quoter ? [quoter] : [])])
        await (await c.catch(() => undefined))?.close().catch(() => undefined);
      clients.clear();
      provider.destroy();
    },
  };
}
