import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { JobSpec } from "@rendermesh/shared";
import { eip712Domain, signDelivery, verifyDelivery } from "@rendermesh/shared/chain";
import { createMeshNode, type MeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore, type HeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { createRenderer, defaultModel, type Renderer } from "@rendermesh/shared/model";
import { encodeSegment, probeSegment } from "@rendermesh/shared/media";
import { Wallet } from "ethers";
import { CID } from "multiformats/cid";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  SEGMENT_ASSERTION,
  SIGNER_ASSERTION,
  assertionData,
  checkBinding,
  createProvenanceIdentity,
  credentialSegment,
  readCredentials,
} from "@rendermesh/shared/provenance";
import { produceSegment, type PipelineComponents, type SegmentProgressEvent } from "../src/render/pipeline.js";

const escrow = "0x00000000000000000000000000000000000000e5";
const domain = eip712Domain(31337, escrow);
const wallet = Wallet.createRandom();
const jobId = `0x${"42".repeat(32)}` as `0x${string}`;

describe("render pipeline (ONNX Runtime → ffmpeg → sha256 → Helia → EIP-712)", () => {
  let dir: string;
  let node: MeshNode;
  let store: HeliaSegmentStore;
  let renderer: Renderer;
  let spec: JobSpec;
  let components: PipelineComponents;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rm-pipeline-"));
    node = await createMeshNode({ listen: ["/ip4/127.0.0.1/tcp/0"] });
    store = await createHeliaSegmentStore({ libp2p: node, dataDir: dir });
    const model = defaultModel();
    renderer = await createRenderer({ model, device: "cpu" });
    spec = {
      v: 1,
      model: model.manifest.id as `0x${string}`,
      prompt: "a slow blue spiral",
      seed: 7,
      seconds: 2,
      fps: 4,
      width: 64,
      height: 64,
    };
    components = {
      renderer,
      encode: (frames, o) => encodeSegment(frames, o),
      store: { put: async (bytes, o) => (await store.add(bytes, { pin: true, signal: o?.signal })).toString() },
      signDelivery: (d) => signDelivery(wallet, domain, d),
    };
  });

  afterAll(async () => {
    await renderer?.close();
    await store?.stop();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("default: one segment is rendered, encoded, hashed, pinned and signed", async () => {
    const events: SegmentProgressEvent[] = [];
    const out = await produceSegment({ jobId, segment: 1, spec, firstFrame: 4, frameCount: 4 }, components, {
      onProgress: (e) => events.push(e),
    });

    // The receipt names what was stored, and the provider's key signed it.
    const cid = CID.parse(out.delivery.cid);
    expect(cid.version).toBe(1);
    const bytes = await store.get(cid);
    expect(bytes.byteLength).toBe(out.bytes);
    expect(out.delivery.sha256).toBe(`0x${createHash("sha256").update(bytes).digest("hex")}`);
    expect(out.delivery).toMatchObject({ jobId, segment: 1, frameCount: 4 });
    expect(verifyDelivery(domain, out.delivery, out.signature)).toBe(wallet.address);
    expect(await store.helia.pins.isPinned(cid)).toBe(true);

    // H.264 MP4 with the frames asked for.
    const info = await probeSegment(bytes);
    expect(info).toMatchObject({ frames: 4, width: 64, height: 64, codec: "h264", pixelFormat: expect.stringContaining("yuv420p") });

    // Progress per frame, then each later stage once, in order.
    expect(events.filter((e) => e.type === "render:frame").map((e) => (e as { framesDone: number }).framesDone)).toEqual([1, 2, 3, 4]);
    expect(events.slice(4).map((e) => e.type)).toEqual(["encode:done", "hash:done", "store:done", "sign:done"]);
  });

  test("behavior: with a provenance identity, the segment carries Content Credentials naming the provider, and the receipt hashes the credentialed file", async () => {
    const identity = await createProvenanceIdentity(wallet);
    const credentialed: PipelineComponents = {
      ...components,
      credential: (mp4, work) =>
        credentialSegment({
          mp4,
          identity,
          segment: {
            chainId: 31337,
            escrow,
            jobId: work.jobId,
            segment: work.segment,
            firstFrame: work.firstFrame,
            frameCount: work.frameCount,
            model: work.spec.model,
          },
        }),
    };
    const events: SegmentProgressEvent[] = [];
    const out = await produceSegment({ jobId, segment: 1, spec, firstFrame: 4, frameCount: 4 }, credentialed, {
      onProgress: (e) => events.push(e),
    });
    const bytes = await store.get(CID.parse(out.delivery.cid));
    expect(out.delivery.sha256).toBe(`0x${createHash("sha256").update(bytes).digest("hex")}`);
    expect(events.slice(4).map((e) => e.type)).toEqual(["encode:done", "credential:done", "hash:done", "store:done", "sign:done"]);
    const creds = await readCredentials(bytes);
    expect(creds.failures).toEqual([]);
    expect(assertionData(creds.active, SEGMENT_ASSERTION)).toEqual({
      version: 1,
      chainId: 31337,
      escrow,
      jobId,
      segment: 1,
      firstFrame: 4,
      frameCount: 4,
      model: spec.model,
      provider: wallet.address,
      packets: expect.stringMatching(/^0x[0-9a-f]{64}$/),
    });
    expect(checkBinding(assertionData(creds.active, SIGNER_ASSERTION), creds.active.signerSpki)).toEqual({ ok: true });
    // Still a plain H.264 MP4 of the frames asked for.
    expect(await probeSegment(bytes)).toMatchObject({ frames: 4, width: 64, height: 64, codec: "h264" });
  });

  test("behavior: the same segment gives the same bytes and CID", async () => {
    const a = await produceSegment({ jobId, segment: 0, spec, firstFrame: 0, frameCount: 4 }, components);
    const b = await produceSegment({ jobId, segment: 0, spec, firstFrame: 0, frameCount: 4 }, components);
    expect(b.delivery.cid).toBe(a.delivery.cid);
    expect(b.delivery.sha256).toBe(a.delivery.sha256);
  });

  test("error: a renderer that yields too few frames fails the segment", async () => {
    const short: PipelineComponents = {
      ...components,
      renderer: {
        async *renderFrames(o) {
          yield new Uint8Array(o.spec.width * o.spec.height * 3);
        },
      },
    };
    await expect(produceSegment({ jobId, segment: 0, spec, firstFrame: 0, frameCount: 4 }, short)).rejects.toMatchObject({
      name: "SegmentPipelineError",
    });
  });

  test("error: an aborted segment stops before it is stored", async () => {
    const controller = new AbortController();
    controller.abort(new Error("coordinator gone"));
    let stored = false;
    const c: PipelineComponents = { ...components, store: { put: async () => ((stored = true), "bafy") } };
    await expect(
      produceSegment({ jobId, segment: 0, spec, firstFrame: 0, frameCount: 4 }, c, { signal: controller.signal }),
    ).rejects.toBeDefined();
    expect(stored).toBe(false);
  });
});
