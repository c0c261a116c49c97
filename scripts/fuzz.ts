// `pnpm fuzz`: sends generated malformed and hostile messages to a real
// coordinator on 127.0.0.1 (scripts/fuzz/target.ts, its own process) on each
// of its protocols and to its HTTP API, and reports crashes, replies that
// are not typed (an object with a `type`; an error with a known reason code)
// and heap growth. Bounded in count and time, loopback only, seeded.
//
//   pnpm fuzz                                # 2,000 cases per protocol, 180 s at most
//   node scripts/fuzz.ts --count 500 --seconds 60 --seed 7 --json
//
// Exit 1 when a crash or an untyped reply was seen. Provider protocols share
// the same framing layer (net/handleProtocol); their handlers are not driven here.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createRequire } from "node:module";
import { PROTOCOLS, REASON_CODES } from "@rendermesh/shared";
import { createMeshNode, openProtocolStream, type MeshNode } from "@rendermesh/shared/net";

const here = dirname(fileURLToPath(import.meta.url));
// The zod the shared schemas use (the root package does not depend on it).
const { z } = createRequire(join(here, "..", "packages", "shared", "package.json"))("zod") as { z: { unknown(): never } };

/** Unsigned LEB128, the frame length prefix. */
function encodeVarint(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Uint8Array.from(out);
}
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
};
const { values: args } = parseArgs({
  options: {
    count: { type: "string", default: "2000" },
    seconds: { type: "string", default: "180" },
    seed: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  },
});
const COUNT = Number(args.count);
const SECONDS = Number(args.seconds);
if (!Number.isInteger(COUNT) || COUNT < 1 || !(SECONDS > 0)) {
  console.error("Error: --count must be a positive whole number and --seconds a positive number.");
  process.exit(2);
}
const log = (...a: unknown[]) => (args.json ? console.error(...a) : console.log(...a));

// A small seeded PRNG (mulberry32), so a failing case can be replayed with --seed.
let state = Number(args.seed) >>> 0 || 1;
const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

// ---- the target -------------------------------------------------------------
const target = spawn(process.execPath, ["--expose-gc", join(here, "fuzz", "target.ts")], { stdio: ["pipe", "pipe", "inherit"] });
let exited: number | null = null;
target.on("exit", (code) => (exited = code ?? -1));
const lines = createInterface({ input: target.stdout! })[Symbol.asyncIterator]();
const nextLine = async () => JSON.parse(((await lines.next()).value as string | undefined) ?? "null") as Record<string, unknown>;
const info = (await nextLine()) as { multiaddr: string; http: string; jobId: string; spec: Record<string, unknown> };
const memory = async () => {
  target.stdin!.write("mem\n");
  return (await nextLine()) as { heapUsed: number; uncaught: number };
};

// ---- seeds: one plausible message per protocol ------------------------------
const addr = `0x${"12".repeat(20)}`;
const sig = `0x${"ab".repeat(65)}`;
const seeds: Record<string, () => Record<string, unknown>> = {
  announce: () => ({
    type: "announce",
    address: addr,
    models: [`0x${"ab".repeat(32)}`],
    askPerSecond: "1",
    capacity: 1,
    benchmarkFps: 10,
    device: "cpu",
    active: 0,
    agent: "fuzz",
    timestamp: Date.now(),
    signature: sig,
  }),
  quote: () => ({ type: "quote", spec: { model: `0x${"ab".repeat(32)}`, seconds: 1, fps: 4, width: 32, height: 32 } }),
  job: () =>
    pick([
      { type: "submit", jobId: info.jobId, chainId: 31337, escrow: `0x${"ee".repeat(20)}`, spec: { ...info.spec }, auth: sig },
      { type: "watch", jobId: info.jobId, fromSeq: 0 },
      { type: "cancel", jobId: info.jobId, auth: sig },
    ]),
  report: () => ({
    type: "verdict",
    jobId: info.jobId,
    segment: 0,
    provider: addr,
    cid: `b${"a".repeat(58)}`,
    ok: false,
    check: "content",
    message: "x",
    auth: sig,
  }),
};

const weird: unknown[] = [
  null,
  true,
  -1,
  0,
  1.5,
  2 ** 53 + 1,
  1e308,
  -0,
  "",
  "\ud800",
  "\udfff x",
  "💥".repeat(500),
  "x".repeat(70_000),
  [],
  [[[[]]]],
  {},
  { type: "error" },
  "0x",
  "0x" + "f".repeat(64),
  "NaN",
  "1e309",
  "-5",
  "18446744073709551616",
  { __proto__: { polluted: true } },
  { constructor: { prototype: {} } },
];

function mutateValue(msg: Record<string, unknown>): Record<string, unknown> {
  const out = structuredClone(msg);
  const keys = Object.keys(out);
  switch (Math.floor(rand() * 6)) {
    case 0:
      out[pick(keys)] = pick(weird);
      break; // a field of the wrong type
    case 1:
      delete out[pick(keys.filter((k) => k !== "type")) ?? "x"];
      break; // a missing field
    case 2:
      out[`extra${Math.floor(rand() * 10)}`] = pick(weird);
      break; // an unknown field
    case 3:
      out.type = pick(["error", "quote-result", "job-complete", "verdict-ack", "render", "voucher", "", "SUBMIT", "__proto__"]);
      break; // a wrong message type
    case 4: {
      // a nested field of the wrong type
      const nested = keys.find((k) => typeof out[k] === "object" && out[k] !== null && !Array.isArray(out[k]));
      if (nested) (out[nested] as Record<string, unknown>)[pick(Object.keys(out[nested] as object).concat("x"))] = pick(weird);
      else out[pick(keys)] = pick(weird);
      break;
    }
    default: // an error frame as a request
      Object.assign(out, { type: "error", code: pick(["INTERNAL", "NOPE", "", "BUSY"]), message: "fake" });
  }
  return out;
}

const frame = (body: Uint8Array) => concat(encodeVarint(body.byteLength), body);
const utf8 = (s: string) => new TextEncoder().encode(s);

/** One case: the bytes to send, and whether to close our end after them. */
function makeCase(protocol: string): { bytes: Uint8Array; kind: string } {
  const r = rand();
  if (r < 0.55) return { bytes: frame(utf8(JSON.stringify(mutateValue(seeds[protocol]!())))), kind: "mutated field" };
  if (r < 0.65)
    return { bytes: frame(Uint8Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256))), kind: "random bytes" };
  if (r < 0.72)
    return {
      bytes: frame(
        utf8(
          pick([
            "",
            "{",
            "[]",
            "null",
            "42",
            '"x"',
            '{"type":',
            "{}".repeat(10),
            "[".repeat(5000) + "]".repeat(5000),
            '{"a":'.repeat(3000) + "1" + "}".repeat(3000),
          ]),
        ),
      ),
      kind: "bad JSON",
    };
  if (r < 0.78) return { bytes: concat(encodeVarint(10_000_000), utf8("{}")), kind: "oversized length prefix" };
  if (r < 0.82)
    return { bytes: concat(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), kind: "endless varint" };
  if (r < 0.88) {
    const body = utf8(JSON.stringify(seeds[protocol]!()));
    return { bytes: concat(encodeVarint(body.byteLength + 50), body), kind: "truncated frame" };
  }
  if (r < 0.92) return { bytes: frame(new Uint8Array([0xc3, 0x28, 0xa0, 0xa1, 0x7b, 0x7d])), kind: "invalid UTF-8" };
  if (r < 0.96) return { bytes: concat(encodeVarint(0)), kind: "empty frame" };
  return { bytes: frame(utf8(JSON.stringify({ ...seeds[protocol]!(), pad: "y".repeat(70_000) }))), kind: "frame over the cap" };
}

const isTyped = (m: unknown): boolean => {
  if (typeof m !== "object" || m === null || Array.isArray(m)) return false;
  const t = (m as { type?: unknown }).type;
  if (typeof t !== "string" || t.length === 0) return false;
  if (t === "error") return (REASON_CODES as readonly string[]).includes(String((m as { code?: unknown }).code));
  return true;
};

/** `internal`: typed, but INTERNAL — bad input must never reach a node's own failure path. */
interface Tally {
  sent: number;
  typed: number;
  internal: number;
  untyped: number;
  noReply: number;
  samples: string[];
}
const tallies: Record<string, Tally> = {};
const nodes: MeshNode[] = await Promise.all(Array.from({ length: 4 }, () => createMeshNode()));
const started = Date.now();
const outOfTime = () => Date.now() - started > SECONDS * 1000;
const before = await memory();

const protocols = ["announce", "quote", "job", "report"] as const;
for (const name of protocols) {
  const t: Tally = (tallies[name] = { sent: 0, typed: 0, internal: 0, untyped: 0, noReply: 0, samples: [] });
  let next = 0;
  await Promise.all(
    nodes.map(async (node) => {
      while (next < COUNT && !outOfTime() && exited === null) {
        next++;
        const c = makeCase(name);
        if (process.env.FUZZ_DEBUG) console.error(name, c.kind, Date.now() - started);
        t.sent++;
        let reply: unknown;
        let failure: string | undefined;
        try {
          const s = await openProtocolStream(node, info.multiaddr, PROTOCOLS[name], { timeout: 10_000, maxMessageBytes: 1024 * 1024 });
          try {
            s.stream.send(c.bytes);
            await s.close();
            reply = await s.read(z.unknown(), { timeout: 15_000 });
          } catch (err) {
            failure = (err as Error).name;
          } finally {
            s.abort(new Error("done"));
          }
        } catch (err) {
          failure = `open: ${(err as Error).name}`;
        }
        if (failure !== undefined) {
          t.noReply++;
          if (t.samples.length < 5) t.samples.push(`${c.kind}: no reply (${failure})`);
        } else if (isTyped(reply)) {
          t.typed++;
          if ((reply as { code?: unknown }).code === "INTERNAL") {
            t.internal++;
            if (t.samples.length < 5) t.samples.push(`${c.kind}: INTERNAL`);
          }
        } else {
          t.untyped++;
          if (t.samples.length < 5) t.samples.push(`${c.kind}: ${JSON.stringify(reply).slice(0, 200)}`);
        }
      }
    }),
  );
}

// HTTP: odd paths, methods and parameters; every answer must be JSON with a status < 500.
const http: Tally = (tallies.http = { sent: 0, typed: 0, internal: 0, untyped: 0, noReply: 0, samples: [] });
const paths = [
  "/api/status",
  "/api/status/x",
  "/api/jobs?limit=-1",
  "/api/jobs?limit=1e3",
  "/api/jobs?offset=abc",
  "/api/jobs?status=x",
  "/api/jobs?zzz=1",
  `/api/jobs/${info.jobId}`,
  `/api/jobs/${info.jobId}/events?from=-1`,
  `/api/jobs/${info.jobId}/nope`,
  "/api/jobs/0x12",
  "/api/%ZZ",
  "/api/providers?x",
  "/metrics?x=1",
  "//api//status",
  "/api/" + "a/".repeat(500),
  "/api/jobs/%ED%A0%80",
];
for (let i = 0; i < Math.min(COUNT, 400) && !outOfTime() && exited === null; i++) {
  http.sent++;
  const path = pick(paths);
  try {
    const res = await fetch(`${info.http}${encodeURI(path).replace(/%25/g, "%")}`, {
      method: pick(["GET", "GET", "HEAD", "POST", "DELETE"]),
    });
    const body = await res.text();
    const ok =
      res.status < 500 &&
      (res.status === 200 && path.startsWith("/metrics")
        ? true
        : res.status === 405 || body === "" || typeof JSON.parse(body) === "object");
    if (ok) http.typed++;
    else {
      http.untyped++;
      if (http.samples.length < 5) http.samples.push(`${path}: ${res.status} ${body.slice(0, 100)}`);
    }
  } catch (err) {
    http.noReply++;
    if (http.samples.length < 5) http.samples.push(`${path}: ${(err as Error).message}`);
  }
}

const after = exited === null ? await memory() : undefined;
await Promise.all(nodes.map((n) => n.stop()));
if (exited === null) {
  target.stdin!.write("stop\n");
  // A target that does not stop within 10 s is killed: the report is what matters here.
  const kill = setTimeout(() => target.kill("SIGKILL"), 10_000);
  await new Promise((r) => (exited === null ? target.once("exit", r) : r(undefined)));
  clearTimeout(kill);
}

const crashes = (after?.uncaught ?? 0) + (after === undefined ? 1 : 0);
const untyped = Object.values(tallies).reduce((n, t) => n + t.untyped + t.noReply + t.internal, 0);
const result = {
  seed: Number(args.seed),
  seconds: Math.round((Date.now() - started) / 1000),
  crashes,
  untypedUnansweredOrInternal: untyped,
  heapGrowthBytes: after ? after.heapUsed - before.heapUsed : null,
  protocols: tallies,
};
if (args.json) console.log(JSON.stringify(result, null, 2));
else {
  log(`pnpm fuzz — seed ${result.seed}, ${result.seconds} s`);
  for (const [name, t] of Object.entries(tallies)) {
    log(`  ${name.padEnd(9)} sent ${t.sent}, typed ${t.typed} (INTERNAL ${t.internal}), untyped ${t.untyped}, no reply ${t.noReply}`);
    for (const s of t.samples) log(`      ${s}`);
  }
  log(
    `  crashes: ${crashes}; heap growth after GC: ${after ? ((after.heapUsed - before.heapUsed) / 1024 / 1024).toFixed(1) + " MiB" : "n/a (target died)"}`,
  );
}
process.exitCode = crashes > 0 || untyped > 0 ? 1 : 0;
