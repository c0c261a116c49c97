import { z } from "zod";
import { Bytes32, JobSpec, SignedAssignment, SignedDelivery } from "@rendermesh/shared";

/**
 * `manifest.json`: everything needed to re-verify a finished job from IPFS
 * and the chain alone — the spec, every segment's CID, receipt and
 * assignment, the client's vouchers, the transactions and the payments.
 * Amounts are decimal strings (token base units).
 */
const Amount = z.string().regex(/^[0-9]+$/);
const Hex = z.string().regex(/^0x[0-9a-fA-F]*$/);

const ManifestSegment = z.object({
  segment: z.number().int().nonnegative(),
  provider: z.string(),
  peerId: z.string(),
  multiaddrs: z.array(z.string()),
  cid: z.string(),
  sha256: Hex,
  bytes: z.number().int().nonnegative(),
  assignment: SignedAssignment,
  delivery: SignedDelivery,
  verification: z.object({
    lumaPsnrDb: z.union([z.number(), z.literal("Infinity")]),
    sampledFrames: z.array(z.number().int()),
    thresholdDb: z.number(),
  }),
  timings: z.object({ deliveredAt: z.string(), verifiedAt: z.string(), fetchMs: z.number(), verifyMs: z.number() }),
});

export const Manifest = z.object({
  manifest: z.literal("rendermesh/job-manifest/1"),
  jobId: Bytes32,
  chainId: z.number().int().positive(),
  escrow: z.string(),
  token: z.string(),
  client: z.string(),
  coordinator: z.string(),
  status: z.enum(["settled", "failed", "refunded"]),
  spec: JobSpec,
  specHash: Bytes32,
  pricePerSecond: Amount,
  deposit: Amount,
  deadline: z.number().int(),
  policyVersion: Amount,
  fees: z.object({ coordinatorBps: z.number().int(), treasuryBps: z.number().int() }),
  segments: z.array(ManifestSegment),
  rejections: z.array(
    z.object({ segment: z.number().int(), provider: z.string(), cid: z.string(), check: z.string(), message: z.string(), at: z.string() }),
  ),
  vouchers: z.array(
    z.object({ provider: z.string(), seconds: z.number().int(), signature: Hex, signedAt: z.string(), acknowledged: z.boolean() }),
  ),
  transactions: z.array(
    z.object({ kind: z.string(), hash: Hex, blockNumber: z.number().int().nullable(), gasUsed: Amount.nullable(), status: z.string() }),
  ),
  payments: z.object({
    providers: z.array(z.object({ provider: z.string(), seconds: z.number().int(), amount: Amount })),
    coordinatorFee: Amount,
    treasuryFee: Amount,
    refund: Amount,
    paid: Amount,
    deposit: Amount,
  }),
  video: z
    .object({
      /** Relative to the manifest's directory. */
      file: z.string(),
      cid: z.string(),
      sha256: Hex,
      bytes: z.number().int(),
      frames: z.number().int(),
    })
    .nullable(),
  timings: z.object({
    createdAt: z.string(),
    openedAt: z.string().nullable(),
    submittedAt: z.string().nullable(),
    completedAt: z.string().nullable(),
    settledAt: z.string().nullable(),
    writtenAt: z.string(),
  }),
});
export type Manifest = z.output<typeof Manifest>;
export type ManifestInput = z.input<typeof Manifest>;

export const MANIFEST_FILE = "manifest.json";
