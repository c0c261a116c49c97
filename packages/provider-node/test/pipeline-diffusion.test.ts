import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type JobSpec } from "@rendermesh/shared";
import { eip712Domain, signDelivery, verifyDelivery } from "@rendermesh/shared/chain";
import { createMeshNode, type MeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore, type HeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { decodeSegment, encodeSegment } from "@rendermesh/shared/media";
import {
  decodeTraceRoot,
  defaultPipelinePath,
  loadPipeline,
  PipelineFrameSource,
  PipelineRunner,
  PipelineRunnerThread,
  verifyTrace,
} from "@rendermesh/shared/model";
import { Wallet } from "ethers";
import { CID } from "multiformats/cid";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { produceSegment, type PipelineComponents } from "../src/render/pipeline.js";

const domain = eip712Domain(31337, "0x00000000000000000000000000000000000000e5");
const wallet = Wallet.createRandom();
const jobId = `0x${"43".repeat(32)}` as `0x${string}`;

describe("render pipeline for a diffusion model (runner → ffmpeg → Helia blocks of the trace → EIP-712 with trace)", () => {
  let dir: string;
  let provider: MeshNode;
  let client: MeshNode;
  let providerStore: HeliaSegmentStore;
  let clientStore: HeliaSegmentStore;
  let source: PipelineFrameSource;
  let verifier: PipelineRunner;
  let components: PipelineComponents;
  let spec: JobSpec;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "rm-diffusion-"));
    provider = await createMeshNode({ listen: ["/ip4/127.0.0.1/tcp/0"] });
    client = await createMeshNode({ listen: ["/ip4/127.0.0.1/tcp/0"] });
    providerStore = await createHeliaSegmentStore({ libp2p: provider, dataDir: join(dir, "p") });
    clientStore = await createHeliaSegmentStore({ libp2p: client, dataDir: join(dir, "c") });
    const pipeline = await loadPipeline(defaultPipelinePath());
    // Rendered on the inference thread, as a provider renders; verified on the caller's thread, as a client verifies.
    source = new PipelineFrameSource(await PipelineRunnerThread.create({ pipeline, device: "cpu", threads: 1 }));
    verifier = await PipelineRunner.create({ pipeline, device: "cpu", threads: 1 });
    const v = pipeline.manifest.video;
    spec = {
      v: 1,
      model: pipeline.manifest.id,
      prompt: "a red circle moving left on a blue background",
      seed: 11,
      seconds: 2,
      fps: v.fps,
      width: v.width,
      height: v.height,
    };
    components = {
      renderer: source,
      encode: (frames, o) => encodeSegment(frames, o),
      store: { put: async (bytes, o) => (await providerStore.add(bytes, { pin: true, signal: o?.signal })).toString() },
      signDelivery: (d) => signDelivery(wallet, domain, d),
      // As the provider wires it: blocks stored unpinned, the root pinned once, recursively.
      traces: {
        put: (cid, bytes, o) => providerStore.putBlock(cid, bytes, { ...o, pin: false }),
        get: (cid, o) => providerStore.getBlock(cid, o),
        pin: (root, known, o) => providerStore.pin(root, { known, signal: o?.signal }),
      },
    };
  });

  afterAll(async () => {
    await source?.close();
    await verifier?.close();
    await clientStore?.stop();
    await providerStore?.stop();
    await client?.stop();
    await provider?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("signs the trace root; a client fetches only sampled blocks over bitswap and the segment verifies", async () => {
    const events: string[] = [];
    const out = await produceSegment({ jobId, segment: 1, spec, firstFrame: spec.fps, frameCount: spec.fps }, components, {
      onProgress: (e) => events.push(e.type),
    });
    expect(events).toContain("trace:done");
    expect(out.delivery.trace).toMatch(/^baguqe/); // dag-json CIDv1
    expect(verifyDelivery(domain, out.delivery, out.signature, wallet.address)).toBe(wallet.address);
    // The signature covers the trace: the same receipt with another root or none does not verify.
    expect(() => verifyDelivery(domain, { ...out.delivery, trace: out.delivery.cid }, out.signature, wallet.address)).toThrow();
    expect(() => verifyDelivery(domain, { ...out.delivery, trace: undefined }, out.signature, wallet.address)).toThrow();

    // Every block of the trace is pinned, by one recursive pin of its root (and the segment's own).
    const root = CID.parse(out.delivery.trace as string);
    const links = decodeTraceRoot(await providerStore.getBlock(root));
    for (const cid of [root, links.text.cond, ...links.latents, ...links.cond, ...(links.uncond ?? []), links.final])
      expect(await providerStore.helia.pins.isPinned(cid)).toBe(true);
    const pins: string[] = [];
    for await (const p of providerStore.helia.pins.ls()) pins.push(p.cid.toString());
    expect(pins.sort()).toEqual([out.delivery.cid, root.toString()].sort());

    const providers = provider.getMultiaddrs();
    const mp4 = await clientStore.get(CID.parse(out.delivery.cid), { providers });
    const frames = await decodeSegment(mp4);
    const fetched: string[] = [];
    const verdict = await verifyTrace({
      runner: verifier,
      job: { prompt: spec.prompt, seed: spec.seed, segment: 1 },
      root: CID.parse(out.delivery.trace as string),
      store: { put: async () => {}, get: async (cid, o) => (fetched.push(cid.toString()), clientStore.getBlock(cid, { ...o, providers })) },
      frames,
    });
    expect(verdict).toMatchObject({ ok: true });
    expect(verdict.measured.tilePsnrDb).toBeGreaterThan(source.manifest.verification.tolerances.tilePsnrDb);
    const steps = source.manifest.sampling.steps.default;
    expect(fetched.length).toBeLessThan(steps); // of 3·steps + 4 blocks
  });
});
