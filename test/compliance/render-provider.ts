// The render provider compliance suite (after js-libp2p's
// interface-compliance-tests): every implementation of the provider side of
// `/rendermesh/render` — the real ONNX provider, a coordinator's test
// provider — must pass it. It plays a coordinator: it opens funded jobs on a
// real escrow, signs assignments, sends them over libp2p and checks what
// comes back, including fetching the delivered segment over bitswap.
//
//   import { runProviderCompliance } from "../../../test/compliance/render-provider.js";
//   runProviderCompliance("my provider", async () => ({ provider, chain, model, blockedTerm }));
//
// Each test opens its own job and stands alone (any one runs with -t).
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { segmentFrames, type JobSpec } from "@rendermesh/shared";
import { verifyDelivery, type RendermeshDomain } from "@rendermesh/shared/chain";
import { createMeshNode, type MeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore, type HeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { probeSegment } from "@rendermesh/shared/media";
import { renderExchange, type Reply } from "@rendermesh/testing";
import { Wallet, type Signer } from "ethers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

/** A provider started on loopback for the suite. */
interface RenderProviderHandle {
  peerId: string;
  /** Its listen addresses, each with or without `/p2p/<peerId>`. */
  multiaddrs: string[];
  /** Its Ethereum address (assignments name it, deliveries are signed by it). */
  address: string;
  stop(): Promise<void>;
}

/** What the suite needs to build real, signed assignments for the provider (`@rendermesh/testing`'s `TestChain` fits). */
interface ComplianceChain {
  chainId: number;
  domain: RendermeshDomain;
  deployment: { escrow: string };
  /** The job coordinator's key; assignments it signs are valid. */
  coordinator: Signer & { address: string };
  openJob(options: { spec: JobSpec }): Promise<{ jobId: `0x${string}` }>;
  /** Leaves the job not open (settled or refunded). */
  closeJob(jobId: string): Promise<void>;
  signAssignment(
    assignment: { jobId: string; segment: number; firstFrame: number; frameCount: number; provider: string; deadline: number },
    signer?: Signer,
  ): Promise<`0x${string}`>;
}

interface RenderProviderComplianceSetup {
  provider: RenderProviderHandle;
  chain: ComplianceChain;
  /** A model id the provider serves and the policy allows. */
  model: `0x${string}`;
  /** A word the content policy blocks. */
  blockedTerm: string;
  /** Frame size and rate of the jobs the suite opens (default 64x64 at 4 fps: small, quick). */
  size?: { width: number; height: number; fps: number };
  /** Stops whatever the factory started besides the provider (the chain, say). */
  teardown?: () => Promise<void>;
}

export type RenderProviderFactory = () => Promise<RenderProviderComplianceSetup>;

interface Exchange {
  replies: Reply[];
  last: Reply;
}

export function runProviderCompliance(name: string, factory: RenderProviderFactory): void {
  describe(`render provider compliance: ${name}`, () => {
    let setup: RenderProviderComplianceSetup;
    let node: MeshNode;
    let store: HeliaSegmentStore;
    let dir: string;
    let target: string;

    beforeAll(async () => {
      setup = await factory();
      dir = mkdtempSync(join(tmpdir(), "rm-compliance-"));
      node = await createMeshNode({ listen: ["/ip4/127.0.0.1/tcp/0"] });
      store = await createHeliaSegmentStore({ libp2p: node, dataDir: dir });
      const addr = setup.provider.multiaddrs.find((a) => a.includes("/127.0.0.1/")) ?? setup.provider.multiaddrs[0]!;
      target = addr.includes("/p2p/") ? addr : `${addr}/p2p/${setup.provider.peerId}`;
    }, 240_000);

    afterAll(async () => {
      await store?.stop();
      await node?.stop();
      await setup?.provider.stop();
      await setup?.teardown?.();
      if (dir) rmSync(dir, { recursive: true, force: true });
    }, 60_000);

    const size = () => setup.size ?? { width: 64, height: 64, fps: 4 };
    const makeSpec = (over: Partial<JobSpec> = {}): JobSpec => ({
      v: 1,
      model: setup.model,
      prompt: "a lighthouse at dusk, slow waves",
      seed: 11,
      seconds: 2,
      ...size(),
      ...over,
    });

    async function assignmentFor(jobId: `0x${string}`, spec: JobSpec, segment: number, over: { deadline?: number; signer?: Signer } = {}) {
      const range = segmentFrames(spec, segment);
      const assignment = {
        jobId,
        segment,
        ...range,
        provider: setup.provider.address as `0x${string}`,
        deadline: over.deadline ?? Math.floor(Date.now() / 1000) + 600,
      };
      const signature = await setup.chain.signAssignment(assignment, over.signer);
      return { assignment, signature };
    }

    async function send(message: unknown): Promise<Exchange> {
      const replies = await renderExchange(node, target, message);
      return { replies, last: replies[replies.length - 1]! };
    }

    const request = (spec: JobSpec, signed: { assignment: unknown; signature: string }, over: { chainId?: number } = {}) => ({
      type: "render",
      chainId: over.chainId ?? setup.chain.chainId,
      escrow: setup.chain.deployment.escrow,
      spec,
      ...signed,
    });

    const expectRefusal = (exchange: Exchange, code: string) => {
      expect(exchange.last).toMatchObject({ type: "error", code });
      expect(exchange.replies.some((r) => r.type === "delivered")).toBe(false);
    };

    test("default: an assigned segment is rendered and answered with a signed, fetchable delivery", async () => {
      const spec = makeSpec();
      const { jobId } = await setup.chain.openJob({ spec });
      const signed = await assignmentFor(jobId, spec, 1);
      const { replies, last } = await send(request(spec, signed));

      expect(replies[0]).toMatchObject({ type: "accepted", jobId, segment: 1 });
      const progress = replies.filter((r) => r.type === "progress") as Array<Extract<Reply, { type: "progress" }>>;
      expect(progress.length).toBeGreaterThan(0);
      for (let i = 1; i < progress.length; i++) expect(progress[i]!.framesDone).toBeGreaterThanOrEqual(progress[i - 1]!.framesDone);
      for (const p of progress) expect(p).toMatchObject({ jobId, segment: 1, frameCount: spec.fps });
      expect(last.type).toBe("delivered");
      const delivered = last as Extract<Reply, { type: "delivered" }>;
      expect(delivered.delivery).toMatchObject({ jobId, segment: 1, frameCount: spec.fps });
      expect(verifyDelivery(setup.chain.domain, delivered.delivery, delivered.signature)).toBe(setup.provider.address);
      expect(delivered.multiaddrs.length).toBeGreaterThan(0);

      // The segment is on IPFS at the CID the receipt names, with the receipt's sha256.
      const probe = await store.add(new Uint8Array([0]), { pin: false });
      const cid = (probe.constructor as unknown as { parse(s: string): typeof probe }).parse(delivered.delivery.cid);
      expect(cid.version).toBe(1);
      // The render stream left this node connected to the provider, so bitswap asks it directly.
      const bytes = await store.get(cid, { timeout: 60_000 });
      expect(`0x${createHash("sha256").update(bytes).digest("hex")}`).toBe(delivered.delivery.sha256);
      const info = await probeSegment(bytes);
      expect(info).toMatchObject({ frames: spec.fps, width: spec.width, height: spec.height, codec: "h264" });
    }, 180_000);

    test("behavior: the same assignment sent again is answered with the same delivery", async () => {
      const spec = makeSpec({ seed: 22 });
      const { jobId } = await setup.chain.openJob({ spec });
      const signed = await assignmentFor(jobId, spec, 1);
      const first = await send(request(spec, signed));
      expect(first.last.type).toBe("delivered");
      const delivered = first.last as Extract<Reply, { type: "delivered" }>;
      const again = await send(request(spec, signed));
      expect(again.replies[0]).toMatchObject({ type: "accepted", jobId: delivered.delivery.jobId, segment: 1 });
      expect(again.last.type).toBe("delivered");
      const d = again.last as Extract<Reply, { type: "delivered" }>;
      expect(d.delivery).toEqual(delivered.delivery);
      expect(verifyDelivery(setup.chain.domain, d.delivery, d.signature)).toBe(setup.provider.address);
    }, 120_000);

    test("error: an assignment not signed by the job's coordinator is refused with BAD_SIGNATURE", async () => {
      const spec = makeSpec({ seed: 12 });
      const { jobId } = await setup.chain.openJob({ spec });
      expectRefusal(await send(request(spec, await assignmentFor(jobId, spec, 0, { signer: Wallet.createRandom() }))), "BAD_SIGNATURE");
    }, 60_000);

    test("error: an assignment for a job the escrow never opened is refused with UNKNOWN_JOB", async () => {
      const spec = makeSpec({ seed: 13 });
      const jobId = `0x${createHash("sha256").update("no such job").digest("hex")}` as `0x${string}`;
      expectRefusal(await send(request(spec, await assignmentFor(jobId, spec, 0))), "UNKNOWN_JOB");
    }, 60_000);

    test("error: an assignment for a job that is no longer open (its deposit gone) is refused with JOB_NOT_OPEN", async () => {
      const spec = makeSpec({ seed: 14 });
      const { jobId } = await setup.chain.openJob({ spec });
      await setup.chain.closeJob(jobId);
      expectRefusal(await send(request(spec, await assignmentFor(jobId, spec, 0))), "JOB_NOT_OPEN");
    }, 60_000);

    test("error: a spec against the content policy is refused with POLICY_BLOCKED_TERM", async () => {
      const spec = makeSpec({ prompt: `a ${setup.blockedTerm} in the rain`, seed: 15 });
      const { jobId } = await setup.chain.openJob({ spec });
      expectRefusal(await send(request(spec, await assignmentFor(jobId, spec, 0))), "POLICY_BLOCKED_TERM");
    }, 60_000);

    test("error: a spec other than the one the job was opened with is refused with SPEC_HASH_MISMATCH", async () => {
      const spec = makeSpec({ seed: 16 });
      const { jobId } = await setup.chain.openJob({ spec });
      expectRefusal(await send(request({ ...spec, seed: 17 }, await assignmentFor(jobId, spec, 0))), "SPEC_HASH_MISMATCH");
    }, 60_000);

    test("error: a lapsed assignment is refused with ASSIGNMENT_EXPIRED", async () => {
      const spec = makeSpec({ seed: 18 });
      const { jobId } = await setup.chain.openJob({ spec });
      expectRefusal(
        await send(request(spec, await assignmentFor(jobId, spec, 0, { deadline: Math.floor(Date.now() / 1000) - 5 }))),
        "ASSIGNMENT_EXPIRED",
      );
    }, 60_000);

    test("error: an assignment on another chain is refused with WRONG_CHAIN", async () => {
      const spec = makeSpec({ seed: 19 });
      const { jobId } = await setup.chain.openJob({ spec });
      expectRefusal(await send(request(spec, await assignmentFor(jobId, spec, 0), { chainId: setup.chain.chainId + 1 })), "WRONG_CHAIN");
    }, 60_000);

    test("error: a model the provider does not serve is refused with MODEL_NOT_SERVED", async () => {
      const spec = makeSpec({ model: `0x${"5e".repeat(32)}`, seed: 20 });
      const { jobId } = await setup.chain.openJob({ spec });
      expectRefusal(await send(request(spec, await assignmentFor(jobId, spec, 0))), "MODEL_NOT_SERVED");
    }, 60_000);

    test("error: a malformed request is answered with BAD_MESSAGE and the provider keeps serving", async () => {
      expectRefusal(await send({ type: "render", chainId: "nope" }), "BAD_MESSAGE");
      const spec = makeSpec({ seed: 21 });
      const { jobId } = await setup.chain.openJob({ spec });
      expectRefusal(await send(request(spec, await assignmentFor(jobId, spec, 0, { signer: Wallet.createRandom() }))), "BAD_SIGNATURE");
    }, 60_000);
  });
}
