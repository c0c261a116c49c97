import { readFile } from "node:fs/promises";
import { getAddress } from "ethers";
import { specHash } from "@rendermesh/shared";
import { eip712Domain, verifyDelivery } from "@rendermesh/shared/chain";
import { probeSegment } from "@rendermesh/shared/media";
import type * as Provenance from "@rendermesh/shared/provenance";
import type { Credentials, JobAssertion, ReadManifest } from "@rendermesh/shared/provenance";
import type { RendermeshClient } from "../client.js";
import { ClientError, EXIT } from "../errors.js";
import { getJob, type GetJobReturnType } from "./getJob.js";
import { readPayments } from "./payments.js";

export interface VerifyVideoParameters {
  /** Path of an MP4 (a Rendermesh video, or any video someone claims is one). */
  path: string;
}

/** Why a video does not verify; each check that can fail has its own. */
export type VerifyVideoReason =
  | "NO_CREDENTIALS"
  | "CONTENT_TAMPERED"
  | "MANIFEST_MISMATCH"
  | "MANIFEST_INVALID"
  | "NOT_RENDERMESH"
  | "BINDING_INVALID"
  | "WRONG_CHAIN"
  | "JOB_NOT_FOUND"
  | "JOB_MISMATCH"
  | "RECEIPT_INVALID"
  | "SEGMENT_CREDENTIALS_INVALID"
  | "FRAMES_MISMATCH"
  | "SETTLEMENT_MISMATCH"
  | "PAYMENT_MISMATCH";

export type VideoCheckName =
  "credentials" | "c2pa" | "generator" | "binding" | "chain" | "job" | "receipts" | "segments" | "frames" | "settlement" | "payments";

export interface VideoCheck {
  check: VideoCheckName;
  ok: boolean;
  /** One sentence: what was found. */
  detail: string;
  reason?: VerifyVideoReason | undefined;
}

export interface VerifyVideoReturnType {
  path: string;
  /** True only when every check passed. */
  ok: boolean;
  /** The first failed check's reason. */
  reason: VerifyVideoReason | undefined;
  /** The checks in the order they ran; a failure that makes the rest meaningless stops the run. */
  checks: VideoCheck[];
  /** What the credentials say, as far as they were read. */
  claims: {
    jobId?: `0x${string}` | undefined;
    chainId?: number | undefined;
    escrow?: string | undefined;
    model?: string | undefined;
    generator?: string | undefined;
    signer?: string | undefined;
    providers?: string[] | undefined;
    settleTx?: string | undefined;
    manifest?: string | undefined;
  };
}

export type VerifyVideoErrorType = ClientError;

type Reader = Pick<RendermeshClient, "provider" | "contracts" | "deployment" | "chainId" | "ffmpeg">;

const eq = (a: string | undefined, b: string | undefined) => a !== undefined && b !== undefined && a.toLowerCase() === b.toLowerCase();
const short = (a: string) => `${a.slice(0, 6)}…${a.slice(-4)}`;

/**
 * Checks a video's Content Credentials against the chain. Reads the C2PA
 * manifest embedded in the file and validates it with c2pa-rs (signature,
 * and the hash of every byte outside the manifest), checks that it was made
 * by Rendermesh as trained algorithmic media, that the signing key is
 * vouched for by the job's client (the binding signature), that the job
 * exists on this chain and escrow with that client and spec hash, that every
 * segment's delivery receipt is signed by its provider and each segment's
 * own credentials name that provider, that the video's coded frames are
 * exactly those segments' (as each provider signed them), and that the
 * named settle transaction closed the job and paid each provider for its
 * seconds.
 *
 * A video that fails is not an error: the result says which check failed
 * and why (`ok: false`, `reason`). Errors are for a file that cannot be read
 * or a chain that cannot be reached.
 *
 * @example
 * const r = await verifyVideo(client, { path: "out/0x…/video.mp4" });
 * for (const c of r.checks) console.log(c.ok ? "ok" : "FAIL", c.check, c.detail);
 */
export async function verifyVideo(client: Reader, params: VerifyVideoParameters): Promise<VerifyVideoReturnType> {
  // Loaded here, not at the top: c2pa-rs (WebAssembly) is only needed by the commands that sign or read credentials.
  const p = await import("@rendermesh/shared/provenance");
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(params.path));
  } catch (cause) {
    throw new ClientError("VIDEO_UNREADABLE", `Cannot read ${params.path}.`, {
      cause,
      exitCode: EXIT.usage,
      hint: "Give the path of an MP4 file, e.g. out/<jobId>/video.mp4.",
    });
  }
  const checks: VideoCheck[] = [];
  const claims: VerifyVideoReturnType["claims"] = {};
  const pass = (check: VideoCheckName, detail: string) => void checks.push({ check, ok: true, detail });
  const fail = (check: VideoCheckName, reason: VerifyVideoReason, detail: string): VerifyVideoReturnType => {
    checks.push({ check, ok: false, detail, reason });
    return { path: params.path, ok: false, reason, checks, claims };
  };

  // 1. Is there a manifest at all?
  let creds: Credentials;
  try {
    creds = await p.readCredentials(bytes);
  } catch (err) {
    if (err instanceof p.NoCredentialsError)
      return fail("credentials", "NO_CREDENTIALS", "no Content Credentials are embedded in this file (never signed, or stripped)");
    if (err instanceof p.ProvenanceError && err.code === "NOT_AN_MP4") {
      throw new ClientError("NOT_A_VIDEO", `${params.path} is not an MP4 video.`, {
        cause: err,
        exitCode: EXIT.usage,
        hint: "Give the path of an MP4, e.g. out/<jobId>/video.mp4.",
      });
    }
    if (err instanceof p.ProvenanceError) return fail("credentials", "MANIFEST_INVALID", err.shortMessage);
    throw err;
  }
  const active = creds.active;
  claims.manifest = active.label;
  pass("credentials", `a C2PA manifest is embedded (${active.label})`);

  const job = p.JobAssertion.safeParse(p.assertionData(active, p.JOB_ASSERTION));
  if (job.success)
    Object.assign(claims, {
      jobId: job.data.jobId,
      chainId: job.data.chainId,
      escrow: job.data.escrow,
      settleTx: job.data.settleTx,
      model: job.data.spec.model,
    });

  // 2. c2pa-rs: the claim signature and the hash over the media bytes.
  if (creds.contentMismatch.length > 0) {
    const codes = creds.contentMismatch.map((f) => f.code).join(", ");
    const other = job.success ? await shapeMismatch(client, params.path, job.data) : undefined;
    if (other)
      return fail(
        "c2pa",
        "MANIFEST_MISMATCH",
        `the manifest describes another video (${other}); it was taken from one file and put on this one (${codes})`,
      );
    return fail("c2pa", "CONTENT_TAMPERED", `the video's bytes are not the ones that were signed: it was edited after signing (${codes})`);
  }
  if (creds.failures.length > 0 || creds.state === "Invalid") {
    return fail(
      "c2pa",
      "MANIFEST_INVALID",
      `c2pa-rs rejects the manifest: ${creds.failures.map((f) => f.explanation ?? f.code).join("; ") || creds.state}`,
    );
  }
  pass(
    "c2pa",
    "c2pa-rs validates the signature and the content hash (the certificate is in no public trust list; the chain vouches for it below)",
  );

  // 3. Made by Rendermesh, as trained algorithmic media, with a job assertion.
  const generator = active.claimGenerator.find((g) => g.name === p.CLAIM_GENERATOR);
  const actions =
    p.assertionData<{ actions?: Array<{ action?: string; digitalSourceType?: string }> }>(active, "c2pa.actions.v2")?.actions ?? [];
  const created = actions.find((a) => a.action === "c2pa.created");
  if (!generator || !job.success || created?.digitalSourceType !== p.TRAINED_ALGORITHMIC_MEDIA) {
    const why = !generator
      ? "its claim generator is not Rendermesh"
      : !job.success
        ? `its ${p.JOB_ASSERTION} assertion is missing or malformed`
        : "it has no c2pa.created action for trained algorithmic media";
    return fail("generator", "NOT_RENDERMESH", `this is not a Rendermesh video: ${why}`);
  }
  const a = job.data;
  claims.generator = `${p.CLAIM_GENERATOR} ${String(generator.version)}`;
  claims.providers = [...new Set(a.segments.map((s) => getAddress(s.provider)))];
  pass(
    "generator",
    `generated by ${claims.generator} with model ${short(a.spec.model)} (trained algorithmic media), job ${short(a.jobId)}: "${a.spec.prompt}"`,
  );

  // 4. The signing key is vouched for by the job's client.
  const binding = p.checkBinding(p.assertionData(active, p.SIGNER_ASSERTION), active.signerSpki);
  if (!binding.ok) return fail("binding", "BINDING_INVALID", `the signer binding does not hold: ${binding.reason}`);
  const signer = getAddress(p.assertionData<{ address: string }>(active, p.SIGNER_ASSERTION)!.address);
  claims.signer = signer;
  if (!eq(signer, a.client))
    return fail("binding", "BINDING_INVALID", `the manifest is signed for ${signer}, but the job's client is ${getAddress(a.client)}`);
  pass("binding", `signed with a key that ${signer} (the job's client) vouched for`);

  // 5. The job is on this chain and escrow.
  if (a.chainId !== client.chainId || !eq(a.escrow, client.deployment.escrow)) {
    return fail(
      "chain",
      "WRONG_CHAIN",
      `the job lives on chain ${a.chainId}, escrow ${getAddress(a.escrow)}; this RPC is chain ${client.chainId}, escrow ${getAddress(client.deployment.escrow)}`,
    );
  }
  const onChain = await getJob(client, { jobId: a.jobId as `0x${string}` });
  if (onChain.status === "none")
    return fail("chain", "JOB_NOT_FOUND", `job ${a.jobId} does not exist in escrow ${getAddress(a.escrow)} on chain ${a.chainId}`);
  pass("chain", `job ${short(a.jobId)} exists in escrow ${short(getAddress(a.escrow))} on chain ${a.chainId} (${onChain.status})`);

  // 6. The job on chain is the one the credentials describe.
  const problems = jobProblems(a, onChain, specHash(a.spec));
  if (problems.length > 0) return fail("job", "JOB_MISMATCH", `the chain disagrees with the credentials: ${problems.join("; ")}`);
  pass(
    "job",
    `client, coordinator and spec hash match the chain (${a.spec.seconds} s, ${a.spec.width}x${a.spec.height} at ${a.spec.fps} fps)`,
  );

  // 7. Every segment has a receipt signed by its provider.
  const domain = eip712Domain(a.chainId, a.escrow);
  const covered = [...a.segments].map((s) => s.segment).sort((x, y) => x - y);
  if (covered.length !== a.spec.seconds || covered.some((s, i) => s !== i))
    return fail("receipts", "RECEIPT_INVALID", `the credentials list segments [${covered.join(", ")}], not 0..${a.spec.seconds - 1}`);
  for (const s of a.segments) {
    try {
      verifyDelivery(
        domain,
        { jobId: a.jobId, segment: s.segment, cid: s.cid, sha256: s.sha256, frameCount: s.frameCount, trace: s.trace },
        s.receipt,
        s.provider,
      );
    } catch (err) {
      return fail(
        "receipts",
        "RECEIPT_INVALID",
        `segment ${s.segment}'s delivery receipt does not hold: ${(err as Error).message.split("\n")[0]}`,
      );
    }
  }
  pass("receipts", `${a.segments.length} delivery receipts, each signed by its provider`);

  // 8. Each segment, an ingredient, carries its provider's own credentials.
  const segments = segmentCredentials(p, creds, a);
  if (typeof segments === "string") return fail("segments", "SEGMENT_CREDENTIALS_INVALID", segments);
  pass("segments", `${a.segments.length} segment ingredients, each signed by its provider (${claims.providers.map(short).join(", ")})`);

  // 9. The video's frames are those segments' frames, as the providers encoded them.
  const packets = await p.videoPackets(params.path).catch(() => undefined);
  if (!packets) return fail("frames", "FRAMES_MISMATCH", "the video's frames cannot be read");
  let at = 0;
  for (const seg of segments) {
    const run = packets.slice(at, at + seg.frameCount);
    if (p.packetsDigest(run) !== seg.packets.toLowerCase()) {
      return fail(
        "frames",
        "FRAMES_MISMATCH",
        `frames ${at}–${at + seg.frameCount - 1} are not segment ${seg.segment} as its provider encoded and signed it`,
      );
    }
    at += seg.frameCount;
  }
  if (at !== packets.length) return fail("frames", "FRAMES_MISMATCH", `the video has ${packets.length} frames, its segments ${at}`);
  pass("frames", `all ${packets.length} frames are the providers' segments, coded bytes unchanged (joined without re-encoding)`);

  // 10. The settle transaction closed this job.
  const receipt = await client.provider.getTransactionReceipt(a.settleTx).catch(() => null);
  const iface = client.contracts.escrow.interface;
  const settledLog = receipt?.logs.find(
    (l) =>
      eq(l.address, client.deployment.escrow) &&
      iface.parseLog(l)?.name === "JobSettled" &&
      eq(String(iface.parseLog(l)?.args[0]), a.jobId),
  );
  if (!receipt || receipt.status !== 1 || !settledLog)
    return fail(
      "settlement",
      "SETTLEMENT_MISMATCH",
      `transaction ${a.settleTx} ${!receipt ? "is not on this chain" : "did not settle this job"}`,
    );
  pass("settlement", `settled in transaction ${short(a.settleTx)} (block ${receipt.blockNumber})`);

  // 11. Each provider was paid for the seconds it delivered.
  const terms = {
    jobId: a.jobId as `0x${string}`,
    deposit: BigInt(onChain.totalSeconds) * onChain.pricePerSecond,
    pricePerSecond: onChain.pricePerSecond,
    coordinator: onChain.coordinator,
    coordinatorFeeBps: onChain.coordinatorFeeBps,
    treasuryFeeBps: onChain.treasuryFeeBps,
  };
  const payments = await readPayments(client, terms, receipt);
  const owed = new Map<string, number>();
  for (const s of a.segments) owed.set(getAddress(s.provider), (owed.get(getAddress(s.provider)) ?? 0) + 1);
  for (const [provider, seconds] of owed) {
    const paid = payments.providers.find((x) => eq(x.provider, provider))?.seconds ?? 0;
    if (paid < seconds)
      return fail("payments", "PAYMENT_MISMATCH", `provider ${provider} delivered ${seconds} s but the chain shows it paid for ${paid} s`);
  }
  pass(
    "payments",
    `${[...owed].map(([provider, s]) => `${short(provider)} paid for ${s} s`).join(", ")}; refund ${payments.refund} to the client`,
  );
  return { path: params.path, ok: true, reason: undefined, checks, claims };
}

function jobProblems(a: JobAssertion, onChain: GetJobReturnType, computed: string): string[] {
  const problems: string[] = [];
  if (!eq(onChain.client, a.client)) problems.push(`client is ${onChain.client}, not ${a.client}`);
  if (!eq(onChain.coordinator, a.coordinator)) problems.push(`coordinator is ${onChain.coordinator}, not ${a.coordinator}`);
  if (!eq(onChain.specHash, a.specHash)) problems.push(`spec hash is ${onChain.specHash}, not ${a.specHash}`);
  if (!eq(computed, a.specHash)) problems.push(`the spec in the credentials hashes to ${computed}, not ${a.specHash}`);
  if (onChain.totalSeconds !== a.spec.seconds) problems.push(`the job is ${onChain.totalSeconds} s, the spec says ${a.spec.seconds} s`);
  return problems;
}

/** Each segment's provider-signed assertion, in segment order, or the first way the ingredients fail to match the receipts. */
function segmentCredentials(p: typeof Provenance, creds: Credentials, a: JobAssertion): Provenance.SegmentAssertion[] | string {
  if (creds.ingredientFailures.length > 0)
    return `a segment's own credentials are invalid: ${creds.ingredientFailures.map((f) => f.explanation ?? f.code).join("; ")}`;
  const found: Provenance.SegmentAssertion[] = [];
  for (const s of [...a.segments].sort((x, y) => x.segment - y.segment)) {
    const ingredient = creds.active.ingredients.find((i) => i.title === `segment-${s.segment}.mp4`);
    const m: ReadManifest | undefined = ingredient?.activeManifest ? creds.manifests.get(ingredient.activeManifest) : undefined;
    if (!m) return `segment ${s.segment} is not listed as an ingredient with its provider's credentials`;
    const seg = p.SegmentAssertion.safeParse(p.assertionData(m, p.SEGMENT_ASSERTION));
    if (!seg.success) return `segment ${s.segment}'s credentials have no valid ${p.SEGMENT_ASSERTION} assertion`;
    if (!eq(seg.data.jobId, a.jobId) || seg.data.segment !== s.segment)
      return `segment ${s.segment}'s credentials are for job ${seg.data.jobId} segment ${seg.data.segment}`;
    if (!eq(seg.data.provider, s.provider))
      return `segment ${s.segment}'s credentials name ${seg.data.provider}, its receipt ${s.provider}`;
    const binding = p.checkBinding(p.assertionData(m, p.SIGNER_ASSERTION), m.signerSpki);
    if (!binding.ok) return `segment ${s.segment}'s signer binding does not hold: ${binding.reason}`;
    const by = p.assertionData<{ address: string }>(m, p.SIGNER_ASSERTION)!.address;
    if (!eq(by, s.provider)) return `segment ${s.segment} is signed for ${by}, not for its provider ${s.provider}`;
    if (seg.data.frameCount !== s.frameCount)
      return `segment ${s.segment}'s credentials say ${seg.data.frameCount} frames, its receipt ${s.frameCount}`;
    found.push(seg.data);
  }
  return found;
}

/** How the file's shape differs from the job's spec, or undefined when it matches (or cannot be probed). */
async function shapeMismatch(client: Reader, path: string, a: JobAssertion): Promise<string | undefined> {
  const info = await probeSegment(path, { ffmpeg: client.ffmpeg }).catch(() => undefined);
  if (!info) return undefined;
  const frames = a.spec.seconds * a.spec.fps;
  if (info.width === a.spec.width && info.height === a.spec.height && info.frames === frames) return undefined;
  return `a ${a.spec.seconds} s ${a.spec.width}x${a.spec.height} video of ${frames} frames; this file is ${info.width}x${info.height} with ${info.frames} frames`;
}
