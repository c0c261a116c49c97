// What the arbiter tests share: a real Hardhat chain with the contracts, the
// spot renderer, a registered provider, real segments (ONNX + ffmpeg), and
// the moves that put a claim in dispute. Each test starts from the chain as it
// was before the first (a snapshot restored before each), so one test's
// disputes, slashes and clock moves are never another's.
import { afterAll, beforeAll, beforeEach } from "vitest";
import { segmentFrames, type JobSpec } from "@rendermesh/shared";
import { assignmentStruct, connectContracts, deliveryStruct, signDelivery } from "@rendermesh/shared/chain";
import { encodeSegment } from "@rendermesh/shared/media";
import { createSpotRenderer, defaultModel, type SpotRenderer } from "@rendermesh/shared/model";
import { closeRenderer, MESH, renderFrames, startTestChain, type TestChain } from "@rendermesh/testing";

const model = defaultModel();

/** Claim statuses as the escrow numbers them. */
export const CLAIM_DISPUTED = 2n;
export const CLAIM_PAID = 3n;
export const CLAIM_REFUSED = 4n;

/** A four-second 32×32 job of the default model. */
export function disputeSpec(prompt: string, seed: number): JobSpec {
  return { v: 1, model: model.manifest.id as `0x${string}`, prompt, seed, seconds: 4, fps: 4, width: 32, height: 32 };
}

/** The segment as an honest provider delivers it. */
export async function honestSegment(spec: JobSpec, segment: number): Promise<Uint8Array> {
  const { firstFrame, frameCount } = segmentFrames(spec, segment);
  return encodeSegment(await renderFrames(spec, firstFrame, frameCount), spec);
}

export interface DisputeChain {
  readonly chain: TestChain;
  readonly spot: SpotRenderer;
  /** Opens a job of `spec` and closes it (so claims open at once); returns its id. */
  closedJob(spec: JobSpec): Promise<`0x${string}`>;
  /**
   * The provider (`chain.providers[0]`) claims `segment` with a receipt over `cid` and `sha256`; the client disputes
   * it. The assignment's deadline is an hour away (claims are open on a closed job), or with `lapsed` just past
   * (claims open on an open job).
   */
  claimAndDispute(
    jobId: `0x${string}`,
    spec: JobSpec,
    segment: number,
    receipt: { cid: string; sha256: `0x${string}` },
    options?: { lapsed?: boolean },
  ): Promise<void>;
  /** `closedJob` then `claimAndDispute`: a fresh job with `segment` in dispute. */
  disputedClaim(spec: JobSpec, segment: number, receipt: { cid: string; sha256: `0x${string}` }): Promise<`0x${string}`>;
  claimOf(jobId: string, segment: number): Promise<{ status: bigint; deadlineAt: number }>;
  stakeOf(address: string): Promise<bigint>;
}

/** Registers the hooks that give each test of the calling file the dispute chain, restored to its first state. */
export function useDisputeChain(): DisputeChain {
  let chain: TestChain | undefined;
  let spot: SpotRenderer | undefined;
  let restore: (() => Promise<void>) | undefined;
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`${what} is only there inside a test of a file that calls useDisputeChain()`);
    return v;
  };

  beforeAll(async () => {
    chain = await startTestChain({ allowedModels: [model.manifest.id] });
    spot = await createSpotRenderer({ models: [model] });
    const c = connectContracts(chain.providers[0]!, chain.deployment);
    await (await c.token.approve(chain.deployment.registry, 1000n * MESH)).wait();
    await (await c.registry.register("0x0024080112201234", MESH / 10n, [model.manifest.id], 1000n * MESH)).wait();
    restore = await chain.snapshot();
  });

  beforeEach(async () => {
    await need(restore, "the chain snapshot")();
    restore = await need(chain, "the chain").snapshot();
  });

  afterAll(async () => {
    await spot?.close();
    await closeRenderer();
    await chain?.stop();
  });

  const d: DisputeChain = {
    get chain() {
      return need(chain, "the chain");
    },
    get spot() {
      return need(spot, "the spot renderer");
    },
    async closedJob(spec) {
      const { jobId } = await d.chain.openJob({ spec });
      await d.chain.closeJob(jobId);
      return jobId;
    },
    async claimAndDispute(jobId, spec, segment, receipt, options = {}) {
      const ch = d.chain;
      const provider = ch.providers[0]!;
      const { firstFrame, frameCount } = segmentFrames(spec, segment);
      const deadline = (await ch.chainTime()) + (options.lapsed ? -1 : 3600);
      const assignment = { jobId, segment, firstFrame, frameCount, provider: provider.address, deadline };
      const coordinatorSig = await ch.signAssignment(assignment);
      const delivery = { jobId, segment, cid: receipt.cid, sha256: receipt.sha256, frameCount };
      const providerSig = await signDelivery(provider, ch.domain, delivery);
      const asProvider = connectContracts(provider, ch.deployment);
      await (await asProvider.escrow.claim(assignmentStruct(assignment), coordinatorSig, deliveryStruct(delivery), providerSig)).wait();
      const asClient = connectContracts(ch.client, ch.deployment);
      const bond = BigInt((await asClient.escrow.getJob(jobId)).disputeBond);
      if (bond > 0n) await (await asClient.token.approve(ch.deployment.escrow, bond)).wait();
      await (await asClient.escrow.dispute(jobId, segment)).wait();
    },
    async disputedClaim(spec, segment, receipt) {
      const jobId = await d.closedJob(spec);
      await d.claimAndDispute(jobId, spec, segment, receipt);
      return jobId;
    },
    async claimOf(jobId, segment) {
      const c = await d.chain.contracts.escrow.getClaim(jobId, segment);
      return { status: BigInt(c.status), deadlineAt: Number(c.deadlineAt) };
    },
    async stakeOf(address) {
      return BigInt((await d.chain.contracts.registry.getProvider(address)).stake);
    },
  };
  return d;
}
