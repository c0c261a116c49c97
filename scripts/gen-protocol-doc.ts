// Writes docs/protocol.md: the hand-written docs/protocol.template.md with
// its `<!-- generated:… -->` markers replaced by what the zod schemas in
// packages/shared/src/protocol generate, so the reference cannot drift from
// the code: a test (packages/coordinator/test/protocol-doc.test.ts) fails
// when the file differs from what this generates. Edit the template, never
// docs/protocol.md.
//
//   pnpm build && node scripts/gen-protocol-doc.ts          # rewrite docs/protocol.md
//   node scripts/gen-protocol-doc.ts --check                 # exit 1 if out of date
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

type Schema = unknown;
/** zod 4's `z.toJSONSchema`. */
export type ToJSONSchema = (schema: never, options: { io: "input"; unrepresentable: "any" }) => unknown;
/** What the generator reads from @rendermesh/shared (passed in, so tests can use the sources). */
export interface ProtocolModule {
  PROTOCOLS: Record<string, string>;
  PROTOCOL_VERSIONS: Record<string, string>;
  MAX_MESSAGE_BYTES: number;
  HEARTBEAT_INTERVAL_MS: number;
  REASON_CODES: readonly string[];
  reasonSentence: (code: never) => string;
  [name: string]: unknown;
}

interface ProtocolDoc {
  name: string;
  direction: string;
  summary: string;
  sequence: string[];
  /** Message schema export names, in the order they travel. */
  messages: string[];
}

const PROTOCOL_DOCS: ProtocolDoc[] = [
  {
    name: "announce",
    direction: "provider → coordinator",
    summary:
      "Request/response, repeated every heartbeat interval: the announcement is the provider's heartbeat. The coordinator admits the peer only if the EIP-191 signature over `announceMessage(peerId, address, timestamp)` recovers `address`, the timestamp is within a minute of its clock, `ProviderRegistry.providerOfPeer(peerIdBytes) == address` and `isActive(address)`. A provider silent for three heartbeat intervals is dropped and loses its segments in flight.",
    sequence: [
      "provider → `ProviderAnnounce`",
      "coordinator → `AnnounceAck` or `ErrorMessage` (`NOT_REGISTERED`, `PEER_MISMATCH`, `BAD_SIGNATURE`)",
      "the stream closes",
    ],
    messages: ["ProviderAnnounce", "AnnounceAck"],
  },
  {
    name: "quote",
    direction: "client → coordinator",
    summary:
      "Request/response: price per second for the spec's size and fps (fees included, so providers net their ask), deposit, fee rates, policy version, the number of live providers within the price and an ETA from the throughput they have now.",
    sequence: [
      "client → `QuoteRequest`",
      "coordinator → `Quote` or `ErrorMessage` (`NO_PROVIDERS`, `POLICY_MODEL_NOT_ALLOWED`, `POLICY_LIMIT`, `BUSY`)",
      "the stream closes",
    ],
    messages: ["QuoteRequest", "Quote"],
  },
  {
    name: "job",
    direction: "client → coordinator",
    summary:
      "Long-lived. The first message is `SubmitJob` (the coordinator checks chain and escrow, the client's `auth`, the on-chain job — open, names this coordinator, same spec hash and seconds, funded, deadline far enough — and the content policy as of the block the job was opened), `WatchJob` or `CancelJob`. Then the coordinator streams the job's events, each with a `seq` that increases by one per job and is stored, so `WatchJob{fromSeq}` replays every event after `fromSeq` and then follows live ones: this is how a client resumes after a crash or a coordinator restart. Submitting an already accepted job again (same spec, with `auth`) is the same as watching it from 0 and makes the sender the peer whose verdicts count. A `WatchJob` without `auth` gets one `JobSummary` and the stream ends. `JobSegmentsQuery` is answered with one `JobSegments` page (32 segments from `from`; `next` names the next page) and the stream ends: anyone gets each segment's status and the copy the client verified (a provider asks before claiming, so a speculative copy that lost is never claimed); with the client's `auth`, each segment's latest attempts too (what `rendermesh job status` shows as the network's view); a wrong `auth` is refused (`NOT_JOB_CLIENT`). `CancelJob` is answered with the events from the cancel on (ending with `job-failed`, `CANCELLED`). The stream ends after `job-complete` or `job-failed`. A refusal is one `ErrorMessage`, then the stream ends.",
    sequence: [
      "client → `SubmitJob`, `WatchJob`, `CancelJob` or `JobSegmentsQuery` (anyone: a provider before it claims, a client's `job status`)",
      "coordinator → `ErrorMessage` and close, or: `job-accepted`, then per segment `segment-assigned` (one per attempt, numbered 1, 2, … per segment; `speculative: true` for a second copy of a straggler), `segment-progress`, `segment-delivered` (with the coordinator-signed assignment and the provider-signed delivery receipt) or `segment-failed` (`willRetry` says whether it goes elsewhere)",
      "… until `job-complete` (every segment has an ok verdict) or `job-failed` (a segment failed three tries, or the escrow deadline passed). A provider that refuses an assignment with `BUSY` before starting it has not tried the segment: that attempt burns none of the three tries, and the segment is assigned again (to another provider, or to the same one after its `retryAfterMs`) under the next attempt number",
    ],
    messages: [
      "SubmitJob",
      "WatchJob",
      "CancelJob",
      "JobSegmentsQuery",
      "JobSummary",
      "JobSegments",
      "SegmentState",
      "SegmentAttemptState",
      "JobAccepted",
      "SegmentAssigned",
      "SegmentProgress",
      "SegmentDelivered",
      "SegmentFailed",
      "JobComplete",
      "JobFailed",
    ],
  },
  {
    name: "report",
    direction: "client → coordinator",
    summary:
      "Request/response: the client's verdict on the delivered copy of a segment, from the peer that (re-)submitted the job with its `auth`, or carrying a valid `auth` itself (else `NOT_JOB_CLIENT`). Every delivered segment needs one: without it the segment is never counted. `ok: true` counts the segment, exactly once; the copy in the last `segment-delivered` event for that segment is the one to pay. At most one copy of a segment awaits a verdict at a time: a speculative copy that delivers while another is awaiting its verdict is held back and only shown (as a new `segment-delivered`) if that one is rejected. `ok: false` rejects the copy (it is never paid) and the segment moves on: to a held copy, or another provider (three tries in all). A verdict on a copy that is not the one awaiting a verdict is answered with `BAD_MESSAGE` and changes nothing. A client delivers each verdict at least once (it resends it after a reconnect until answered; a repeat counts once), and a copy awaiting its verdict too long is announced again as a new `segment-delivered` with the same content: the coordinator asking again.",
    sequence: ["client → `SegmentVerdict`", "coordinator → `VerdictAck` or `ErrorMessage`", "the stream closes"],
    messages: ["SegmentVerdict", "VerdictAck"],
  },
  {
    name: "render",
    direction: "coordinator → provider",
    summary:
      "One stream per assignment. The provider checks that the EIP-712 `Assignment` is signed by the job's coordinator and names it, that the spec passes the policy and that its ask fits; renders frames `[firstFrame, firstFrame + frameCount)`, encodes, adds the file to IPFS, and answers with its EIP-712 `Delivery` receipt. The coordinator counts the receipt only if it recovers to the assigned provider and matches the assignment (job, segment, frame count); otherwise, or if the stream resets, the provider disconnects, or the assignment's deadline passes, the segment goes to another provider. A coordinator that restarted sends the same signed assignment again; providers answer it idempotently, from their journal when it was already delivered — after checking the chain and escrow first (`WRONG_CHAIN` for another deployment).",
    sequence: [
      "coordinator → `RenderRequest`",
      "provider → `RenderAccepted`, any number of `RenderProgress` (a speculative copy keeps sending them too), then `RenderDelivered` or `ErrorMessage`",
      "the stream closes",
    ],
    messages: ["RenderRequest", "RenderAccepted", "RenderProgress", "RenderDelivered"],
  },
  {
    name: "voucher",
    direction: "client → provider",
    summary:
      "Request/response, at the provider's `multiaddrs` and `peerId` from the `segment-delivered` event: after each verified segment the client sends the provider its latest cumulative EIP-712 `Voucher` (seconds of that job owed to that provider in total; one segment is one second), which the provider may redeem on the escrow at any time. The provider checks the chain and escrow, that the job is open and that the signature recovers to the job's client.",
    sequence: ["client → `VoucherMessage`", "provider → `VoucherAck` or `ErrorMessage`", "the stream closes"],
    messages: ["VoucherMessage", "VoucherAck"],
  },
];

function typeOf(s: Record<string, unknown>): string {
  if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
  if (Array.isArray(s.enum))
    return s.enum.length > 8
      ? `one of ${s.enum.length} codes (see Reason codes)`
      : (s.enum as unknown[]).map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  // A bigint branch has no JSON form: on the wire it is the decimal string.
  if (Array.isArray(s.anyOf))
    return (s.anyOf as Record<string, unknown>[])
      .filter((x) => Object.keys(x).length > 0)
      .map(typeOf)
      .join(" or ");
  if (s.type === "array") return `array of ${typeOf((s.items ?? {}) as Record<string, unknown>)}`;
  if (s.type === "object") return "object (below)";
  return String(s.type ?? "any");
}

function constraints(s: Record<string, unknown>): string {
  const out: string[] = [];
  if (Array.isArray(s.anyOf)) return (s.anyOf as Record<string, unknown>[]).map(constraints).filter(Boolean).join("; ");
  if (typeof s.pattern === "string") out.push(`matches \`${s.pattern}\``);
  if (s.minimum !== undefined) out.push(`≥ ${String(s.minimum)}`);
  if (s.exclusiveMinimum !== undefined) out.push(`> ${String(s.exclusiveMinimum)}`);
  if (s.maximum !== undefined && s.maximum !== Number.MAX_SAFE_INTEGER) out.push(`≤ ${String(s.maximum)}`);
  if (s.minLength !== undefined) out.push(`length ≥ ${String(s.minLength)}`);
  if (s.maxLength !== undefined) out.push(`length ≤ ${String(s.maxLength)}`);
  if (s.minItems !== undefined) out.push(`≥ ${String(s.minItems)} items`);
  if (s.maxItems !== undefined) out.push(`≤ ${String(s.maxItems)} items`);
  if (s.items && typeof s.items === "object") {
    const inner = constraints(s.items as Record<string, unknown>);
    if (inner) out.push(`each ${inner}`);
  }
  if (s.default !== undefined) out.push(`default ${JSON.stringify(s.default)}`);
  return out.join(", ");
}

function fieldRows(schema: Record<string, unknown>, prefix = ""): string[] {
  const props = (schema.properties ?? {}) as Record<string, Record<string, unknown>>;
  const required = new Set((schema.required ?? []) as string[]);
  const rows: string[] = [];
  for (const [name, s] of Object.entries(props)) {
    const path = `${prefix}${name}`;
    rows.push(`| \`${path}\` | ${typeOf(s)} | ${required.has(name) ? "yes" : "no"} | ${constraints(s).replace(/\|/g, "\\|")} |`);
    if (s.type === "object") rows.push(...fieldRows(s, `${path}.`));
  }
  return rows;
}

/** The whole of docs/protocol.md for the given shared module. */
export function renderProtocolDoc(shared: ProtocolModule, toJSONSchema: ToJSONSchema): string {
  const json = (schema: Schema) => toJSONSchema(schema as never, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  const lines: string[] = [
    "## Transport",
    "",
    "- libp2p over TCP, encrypted with Noise, multiplexed with Yamux; every node also runs identify (`/ipfs/id/1.0.0`) and ping (`/ipfs/ping/1.0.0`).",
    `- Protocol ids are \`/rendermesh/<name>/<major.minor.patch>\`, each protocol with its own version: ${Object.entries(
      shared.PROTOCOL_VERSIONS,
    )
      .map(([n, v]) => `${n} \`${v}\``)
      .join(", ")}. Ids are matched exactly (see *Versions and strictness*); receivers ignore message fields they do not know.`,
    "- A provider's libp2p peer id is bound on-chain to its Ethereum address (`ProviderRegistry.register(peerId, …)`, the peer id's multihash bytes); coordinators only talk to registered, staked providers.",
    "- Video bytes never travel on these protocols: segments move over IPFS by CIDv1 (the blocks protocol from their provider, or bitswap).",
    "",
    "## Framing",
    "",
    "- Each message is one frame: an unsigned varint (LEB128) byte length, then that many bytes of UTF-8 JSON holding one object with a `type` field.",
    `- Frames are capped at ${shared.MAX_MESSAGE_BYTES} bytes (${shared.MAX_MESSAGE_BYTES / 1024} KiB) on every Rendermesh protocol. A longer frame, or a length prefix that announces one, is answered with an \`ErrorMessage\` \`MESSAGE_TOO_LARGE\` and the stream is closed; the sender sends nothing that exceeds the cap.`,
    "- Every message is validated against its schema (below) on receipt. JSON that does not parse, or does not match, is answered with `BAD_MESSAGE` naming the fields that are wrong; the node never crashes on input.",
    "- Token amounts and other integers that may exceed 2^53 travel as decimal strings (`BigUint`). Addresses are `0x` + 40 hex digits (compared case-insensitively); byte32 values are `0x` + 64 hex digits; signatures are 65 bytes in `0x` hex.",
    "- The side that has said everything closes its write end; a request/response exchange is: open stream, write request, close write, read one response.",
    "- Limits: each node caps streams per peer per protocol and the work it takes on; a stream over a limit, or to an overloaded node, is answered `BUSY` with `retryAfterMs` (see *Limits and timeouts*).",
    `- Providers announce every heartbeat interval (default ${shared.HEARTBEAT_INTERVAL_MS} ms; the coordinator's \`AnnounceAck\` says which).`,
    "",
    "## Error replies",
    "",
    "Any response position may instead hold an `ErrorMessage`; after it the stream ends. `code` is always one of the reason codes below: the framing layer itself sends `BAD_MESSAGE`, `MESSAGE_TOO_LARGE`, `TIMEOUT`, `BUSY` and `INTERNAL` (the last only for a node's own failure, never for bad input). An `ErrorMessage` is only ever an answer: one sent as a request is answered `BAD_MESSAGE`.",
    "",
    "| field | type | required | constraints |",
    "| --- | --- | --- | --- |",
    ...fieldRows(json(shared.ErrorMessage as Schema)),
    "",
    "### Reason codes",
    "",
    "| code | meaning (what the CLI prints) |",
    "| --- | --- |",
    ...shared.REASON_CODES.map((c) => `| \`${c}\` | ${shared.reasonSentence(c as never).replace(/\|/g, "\\|")} |`),
    "",
    "## Signed payloads",
    "",
    'EIP-712 typed data under the domain `{ name: "Rendermesh", version: "1", chainId, verifyingContract: <JobEscrow address> }`:',
    "",
    "- `Assignment(bytes32 jobId,uint32 segment,uint32 firstFrame,uint32 frameCount,address provider,uint64 deadline)` — signed by the job's coordinator.",
    "- `Delivery(bytes32 jobId,uint32 segment,bytes cid,bytes32 sha256,uint32 frameCount,bytes trace)` — signed by the provider; `cid` is signed as the binary CIDv1 (on the wire it is the base32 string); `trace` is the binary CIDv1 of the segment's render-trace root, empty bytes for models without one (the field model).",
    "- `Voucher(bytes32 jobId,address provider,uint32 seconds)` — signed by the job's client; cumulative per provider and job.",
    "- `Allocation(bytes32 jobId,address provider,uint32 seconds)` — signed by the job's coordinator with each assignment (the `allocation` of a `render` request and of the client's `segment-assigned`/`segment-delivered` events): the distinct segments of the job assigned to that provider so far. A voucher or a settle entry pays a provider at most its allocation, so a client cannot divert its deposit to an address of its own.",
    "- `Acknowledgement(bytes32 jobId,address provider,uint32 seconds)` — signed by the provider (the `acknowledgement` of a `voucher-ack`): it takes `seconds` as its whole pay, should the job close with every second paid. A settle closes a job at once only when every entry carries its provider's acknowledgement and every second of the job is paid; otherwise the job is `Closing` for its claim window, in which providers still redeem and claim.",
    "",
    "The announce signature is EIP-191 (`personal_sign`) over exactly this text (lines joined by `\\n`, address lower-case, timestamp in Unix milliseconds):",
    "",
    "```",
    "Rendermesh provider announce",
    "peer: <peer id, base58btc>",
    "address: <0x address, lower-case>",
    "timestamp: <unix ms>",
    "```",
    "",
    "## Protocols",
    "",
  ];
  for (const p of PROTOCOL_DOCS) {
    lines.push(`### ${p.name}: \`${shared.PROTOCOLS[p.name]}\``, "", `**Direction:** ${p.direction}.`, "", p.summary, "", "Sequence:", "");
    p.sequence.forEach((s, i) => lines.push(`${i + 1}. ${s}`));
    lines.push("");
    for (const name of p.messages) {
      const schema = shared[name] as Schema | undefined;
      if (!schema) throw new Error(`@rendermesh/shared does not export the schema ${name}`);
      const js = json(schema);
      const type = ((js.properties as Record<string, { const?: unknown }>).type?.const as string | undefined) ?? "?";
      lines.push(
        `#### \`${name}\` (type \`${type}\`)`,
        "",
        "| field | type | required | constraints |",
        "| --- | --- | --- | --- |",
        ...fieldRows(js),
        "",
      );
    }
  }
  lines.push(
    "## JobSpec",
    "",
    "The canonical job description; its `specHash` is keccak256 of the RFC 8785 (JCS) canonical JSON. Strict: unknown fields are rejected (`BAD_MESSAGE`); `prompt` must be well-formed Unicode.",
    "",
    "| field | type | required | constraints |",
    "| --- | --- | --- | --- |",
    ...fieldRows(json(shared.JobSpec as Schema)),
    "",
  );
  const template = readFileSync(PROTOCOL_TEMPLATE_PATH, "utf8");
  const header =
    "<!-- Generated by scripts/gen-protocol-doc.ts from docs/protocol.template.md (hand-written) and the zod schemas in packages/shared/src/protocol. Edit the template, not this file: a test fails when this file differs. -->";
  for (const marker of ["<!-- generated:header -->", "<!-- generated:reference -->"]) {
    if (!template.includes(marker)) throw new Error(`docs/protocol.template.md lacks the marker ${marker}`);
  }
  // Replacer functions: the generated text holds `$` patterns that a replacement string would expand.
  const reference = `${lines.join("\n")}\n`;
  return template
    .replace("<!-- generated:header -->", () => header)
    .replace("<!-- generated:reference -->", () => reference)
    .replace(/\n+$/, "\n");
}

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const PROTOCOL_DOC_PATH = join(root, "docs", "protocol.md");
export const PROTOCOL_TEMPLATE_PATH = join(root, "docs", "protocol.template.md");

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const shared = (await import("@rendermesh/shared")) as unknown as ProtocolModule;
  // The zod that the shared schemas were built with.
  const { z } = createRequire(join(root, "packages", "shared", "package.json"))("zod") as { z: { toJSONSchema: ToJSONSchema } };
  const text = renderProtocolDoc(shared, z.toJSONSchema);
  if (process.argv.includes("--check")) {
    const current = readFileSync(PROTOCOL_DOC_PATH, "utf8");
    if (current !== text) {
      console.error("docs/protocol.md is out of date: run `node scripts/gen-protocol-doc.ts`.");
      process.exit(1);
    }
    console.log("docs/protocol.md is up to date.");
  } else {
    writeFileSync(PROTOCOL_DOC_PATH, text);
    console.log(`wrote ${PROTOCOL_DOC_PATH}`);
  }
}
