import { join, relative } from "node:path";
import type { RendermeshClient } from "../client.js";
import { toJson } from "../json.js";
import { MANIFEST_FILE, type ManifestInput } from "../manifest.js";
import { DEFAULT_PSNR_THRESHOLD_DB } from "../verify/constants.js";
import { writeFileAtomic, type AssembleVideoReturnType } from "./assembleVideo.js";
import type { Payments } from "./payments.js";

export interface WriteManifestParameters {
  jobId: string;
  payments: Payments;
  video: AssembleVideoReturnType | undefined;
  status: "settled" | "failed" | "refunded";
}

export interface WriteManifestReturnType {
  path: string;
  manifest: ManifestInput;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * Writes `<outDir>/manifest.json` from the journal: the spec, each
 * segment's CID, receipt, assignment and verification, the vouchers, the
 * transactions with their hashes and gas, the payments and timings.
 *
 * @example
 * const { path } = await writeManifest(client, { jobId, payments, video, status: "settled" });
 */
export async function writeManifest(client: RendermeshClient, params: WriteManifestParameters): Promise<WriteManifestReturnType> {
  const job = client.journal.getJob(params.jobId);
  const threshold = client.config.verifier?.psnrThresholdDb ?? DEFAULT_PSNR_THRESHOLD_DB;
  const acked = new Map(client.journal.vouchers(job.ref).map((v) => [v.provider, v]));
  const path = join(job.outDir, MANIFEST_FILE);
  const p = params.payments;
  const manifest: ManifestInput = {
    manifest: "rendermesh/job-manifest/1",
    jobId: job.jobId!,
    chainId: job.chainId,
    escrow: job.escrow,
    token: client.deployment.token,
    client: job.client,
    coordinator: job.coordinator,
    status: params.status,
    spec: job.spec,
    specHash: job.specHash,
    pricePerSecond: job.pricePerSecond.toString(),
    deposit: job.deposit.toString(),
    deadline: job.deadline,
    policyVersion: job.policyVersion.toString(),
    fees: { coordinatorBps: job.coordinatorFeeBps, treasuryBps: job.treasuryFeeBps },
    segments: client.journal.verifiedSegments(job.ref).map((s) => ({
      segment: s.segment,
      provider: s.provider,
      peerId: s.peerId,
      multiaddrs: s.multiaddrs,
      cid: s.cid,
      sha256: s.sha256,
      bytes: s.bytes,
      assignment: s.assignment,
      delivery: s.delivery,
      verification: {
        lumaPsnrDb: Number.isFinite(s.psnrDb) ? s.psnrDb : "Infinity",
        sampledFrames: s.sampledFrames,
        thresholdDb: threshold,
      },
      timings: {
        deliveredAt: iso(s.deliveredAt)!,
        verifiedAt: iso(s.verifiedAt)!,
        fetchMs: Math.round(s.fetchMs),
        verifyMs: Math.round(s.verifyMs),
      },
    })),
    rejections: client.journal.rejections(job.ref).map((r) => ({ ...r, at: iso(r.at)! })),
    vouchers: [...acked.values()].map((v) => ({
      provider: v.provider,
      seconds: v.seconds,
      signature: v.signature,
      signedAt: iso(v.signedAt)!,
      acknowledged: v.ackedAt !== undefined,
    })),
    transactions: client.journal.txs(job.ref).map((t) => ({
      kind: t.kind,
      hash: t.hash,
      blockNumber: t.blockNumber ?? null,
      gasUsed: t.gasUsed?.toString() ?? null,
      status: t.state,
    })),
    payments: {
      providers: p.providers.map((x) => ({ provider: x.provider, seconds: x.seconds, amount: x.amount.toString() })),
      coordinatorFee: p.coordinator.amount.toString(),
      treasuryFee: p.treasury.amount.toString(),
      refund: p.refund.toString(),
      paid: p.paid.toString(),
      deposit: p.deposit.toString(),
    },
    video: params.video
      ? {
          file: relative(job.outDir, params.video.path),
          cid: params.video.cid,
          sha256: params.video.sha256,
          bytes: params.video.bytes,
          frames: params.video.frames,
        }
      : null,
    timings: {
      createdAt: iso(job.createdAt)!,
      openedAt: iso(job.openedAt),
      submittedAt: iso(job.submittedAt),
      completedAt: iso(job.completedAt),
      settledAt: iso(job.settledAt),
      writtenAt: new Date().toISOString(),
    },
  };
  await writeFileAtomic(path, `${toJson(manifest, 2)}\n`);
  client.journal.updateJob(job.ref, { manifestPath: path });
  return { path, manifest };
}
