import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { getAddress } from "ethers";
import { specHash } from "@rendermesh/shared";
import { eip712Domain, isVoucherSignedBy } from "@rendermesh/shared/chain";
import type { RendermeshClient } from "../client.js";
import { ClientError, ManifestInvalidError } from "../errors.js";
import { Manifest } from "../manifest.js";
import { getJob } from "./getJob.js";
import { readPayments } from "./payments.js";

export interface VerifyManifestParameters {
  /** Path of a `manifest.json`. */
  path: string;
  /** Re-verify every segment from IPFS (fetch, hash, decode, content); default true. */
  segments?: boolean | undefined;
  signal?: AbortSignal | undefined;
  onSegment?: ((segment: number, ok: boolean, detail: string) => void) | undefined;
}

export interface VerifyManifestReturnType {
  jobId: `0x${string}`;
  ok: boolean;
  /** Everything that did not check out (empty when ok). */
  problems: string[];
  checked: { segments: number; vouchers: number; transactions: number; payments: boolean; video: "ok" | "missing" | "mismatch" | "none" };
}

export type VerifyManifestErrorType = ClientError | ManifestInvalidError;

const eq = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

/**
 * Re-verifies a finished job from IPFS and the chain alone, as anyone can:
 * the spec hashes to the escrow's value; every segment is fetched by CID and
 * passes the same checks the client ran (signatures by the job's
 * coordinator and the assigned providers, sha256, decode, content
 * spot-check); every voucher is signed by the job's client and matches the
 * segments; the transactions exist and the payments equal the chain's
 * events; the local video matches its hash.
 *
 * @example
 * const r = await verifyManifest(client, { path: "out/0x…/manifest.json" });
 * if (!r.ok) console.log(r.problems);
 */
export async function verifyManifest(client: RendermeshClient, params: VerifyManifestParameters): Promise<VerifyManifestReturnType> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(params.path, "utf8"));
  } catch (cause) {
    throw new ClientError("MANIFEST_UNREADABLE", `Cannot read ${params.path} as JSON.`, {
      cause,
      hint: "Give the path of a manifest.json written by `rendermesh job submit`.",
    });
  }
  const parsed = Manifest.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ManifestInvalidError([`${params.path} is not a Rendermesh manifest (${issue.path.join(".")}: ${issue.message})`]);
  }
  const m = parsed.data;
  const problems: string[] = [];
  const checked: VerifyManifestReturnType["checked"] = { segments: 0, vouchers: 0, transactions: 0, payments: false, video: "none" };

  if (m.chainId !== client.chainId || !eq(m.escrow, client.deployment.escrow)) {
    throw new ManifestInvalidError(
      [
        `the manifest is for chain ${m.chainId} escrow ${m.escrow}, but this client uses chain ${client.chainId} escrow ${client.deployment.escrow}`,
      ],
      {
        hint: "Use --rpc-url and --deployment of the job's network.",
      },
    );
  }
  if (specHash(m.spec) !== m.specHash) problems.push("the spec does not hash to the manifest's specHash");
  const onChain = await getJob(client, { jobId: m.jobId });
  if (onChain.status === "none") problems.push(`the escrow has no job ${m.jobId}`);
  if (onChain.specHash.toLowerCase() !== m.specHash) problems.push("the escrow's spec hash differs from the manifest's");
  if (!eq(onChain.client, m.client)) problems.push(`the escrow's client is ${onChain.client}, not ${m.client}`);
  if (!eq(onChain.coordinator, m.coordinator)) problems.push(`the escrow's coordinator is ${onChain.coordinator}, not ${m.coordinator}`);
  if (onChain.pricePerSecond.toString() !== m.pricePerSecond) problems.push("the escrow's price per second differs from the manifest's");
  if (m.status !== "failed" && onChain.status !== "settled" && m.status === "settled")
    problems.push(`the job is ${onChain.status} on-chain, not settled`);

  // Segments: the same checks as at delivery, from IPFS.
  if (m.status === "settled" && m.segments.length !== m.spec.seconds)
    problems.push(`the manifest lists ${m.segments.length} segments for a ${m.spec.seconds}-second job`);
  if (params.segments ?? true) {
    const verifier = await client.verifier();
    for (const s of m.segments) {
      params.signal?.throwIfAborted();
      const r = await verifier.verify(
        { jobId: m.jobId, spec: m.spec, chainId: m.chainId, escrow: m.escrow, coordinator: onChain.coordinator },
        { jobId: m.jobId, segment: s.segment, peerId: s.peerId, multiaddrs: s.multiaddrs, assignment: s.assignment, delivery: s.delivery },
        { signal: params.signal },
      );
      if (!r.ok) problems.push(`segment ${s.segment} fails the ${r.failure.check} check: ${r.failure.message}`);
      else if (r.bytes && createHash("sha256").update(r.bytes).digest("hex") !== s.sha256.slice(2).toLowerCase())
        problems.push(`segment ${s.segment} does not match its recorded sha256`);
      params.onSegment?.(s.segment, r.ok, r.ok ? `luma PSNR ${r.psnrDb.toFixed(1)} dB` : r.failure.message);
      checked.segments++;
    }
  }

  // Vouchers: signed by the client, for the seconds each provider delivered.
  const domain = eip712Domain(m.chainId, m.escrow);
  const perProvider = new Map<string, number>();
  for (const s of m.segments) perProvider.set(s.provider.toLowerCase(), (perProvider.get(s.provider.toLowerCase()) ?? 0) + 1);
  for (const v of m.vouchers) {
    // As the escrow checks it: by ECDSA, or by ERC-1271 when the client is a contract wallet (a Safe, an ERC-4337 account).
    try {
      const voucher = { jobId: m.jobId, provider: v.provider, seconds: v.seconds };
      if (!(await isVoucherSignedBy(client.provider, domain, voucher, v.signature, m.client)))
        problems.push(`the voucher for ${v.provider} does not verify: it is not signed by the job's client ${m.client}`);
    } catch (err) {
      problems.push(`the voucher for ${v.provider} could not be checked on the chain: ${(err as Error).message.split("\n")[0]}`);
    }
    if ((perProvider.get(v.provider.toLowerCase()) ?? 0) !== v.seconds)
      problems.push(
        `the voucher for ${v.provider} is for ${v.seconds} s but it delivered ${perProvider.get(v.provider.toLowerCase()) ?? 0} verified segments`,
      );
    checked.vouchers++;
  }

  // Transactions and payments, from the chain.
  let closing;
  for (const t of m.transactions) {
    const receipt = await client.provider.getTransactionReceipt(t.hash);
    if (!receipt) problems.push(`transaction ${t.hash} (${t.kind}) is not on the chain`);
    else if (receipt.status !== 1) problems.push(`transaction ${t.hash} (${t.kind}) reverted`);
    else if (t.kind === "settle" || t.kind === "refund") closing = receipt;
    checked.transactions++;
  }
  if (closing) {
    const deposit = BigInt(m.deposit);
    const payments = await readPayments(
      client,
      {
        jobId: m.jobId,
        deposit,
        pricePerSecond: BigInt(m.pricePerSecond),
        coordinator: m.coordinator,
        coordinatorFeeBps: m.fees.coordinatorBps,
        treasuryFeeBps: m.fees.treasuryBps,
      },
      closing,
    );
    const same =
      payments.refund.toString() === m.payments.refund &&
      payments.coordinator.amount.toString() === m.payments.coordinatorFee &&
      payments.treasury.amount.toString() === m.payments.treasuryFee &&
      payments.providers.length === m.payments.providers.length &&
      payments.providers.every((p) =>
        m.payments.providers.some(
          (q) => eq(q.provider, getAddress(p.provider)) && q.seconds === p.seconds && q.amount === p.amount.toString(),
        ),
      );
    if (!same) problems.push("the payments differ from the chain's events");
    const total =
      payments.providers.reduce((a, p) => a + p.amount, 0n) + payments.coordinator.amount + payments.treasury.amount + payments.refund;
    if (total !== deposit) problems.push(`the payments add up to ${total}, not the deposit ${deposit}`);
    checked.payments = same && total === deposit;
  } else if (m.status !== "failed") {
    problems.push("the manifest has no settle or refund transaction");
  }

  // The joined video, if it is here.
  if (m.video) {
    const file = resolve(dirname(params.path), m.video.file);
    if (!existsSync(file)) checked.video = "missing";
    else {
      const digest = `0x${createHash("sha256").update(readFileSync(file)).digest("hex")}`;
      checked.video = digest === m.video.sha256.toLowerCase() ? "ok" : "mismatch";
      if (checked.video === "mismatch") problems.push(`${file} does not match the manifest's sha256`);
    }
  }
  return { jobId: m.jobId, ok: problems.length === 0, problems, checked };
}
