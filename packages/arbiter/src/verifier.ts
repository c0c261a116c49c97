import { join } from "node:path";
import { createHeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { createSpotRenderer, defaultModel, defaultPipelinePath, loadPipeline, PipelineRunner } from "@rendermesh/shared/model";
import { createMeshNode, loadOrCreatePeerKey } from "@rendermesh/shared/net";
import { defaultVerifierComponents, SegmentVerifier, type Verifier } from "@rendermesh/shared/verify";

export interface DefaultVerifierInit {
  dataDir: string;
  listen?: string[] | undefined;
  ffmpeg?: string | undefined;
}

/**
 * The client's verifier, wired as the client wires it (packages/client/src/client.ts): embedded Helia on a libp2p
 * node of the arbiter's own, the default model's spot renderer and the default diffusion pipeline's runner.
 */
export async function createDefaultVerifier(init: DefaultVerifierInit): Promise<{ verifier: Verifier; close(): Promise<void> }> {
  const node = await createMeshNode({
    privateKey: await loadOrCreatePeerKey(init.dataDir),
    listen: init.listen ?? ["/ip4/127.0.0.1/tcp/0"],
    userAgent: "rendermesh-arbiter",
  });
  const closers: (() => unknown)[] = [() => node.stop()];
  const close = async () => {
    for (const c of closers.reverse())
      await Promise.resolve()
        .then(c)
        .catch(() => undefined);
  };
  try {
    const store = await createHeliaSegmentStore({ libp2p: node, dataDir: join(init.dataDir, "ipfs") });
    closers.push(() => store.stop());
    const spot = await createSpotRenderer({ models: [defaultModel()] });
    closers.push(() => spot.close());
    // One thread: a check runs a few single denoiser steps, where more threads cost more CPU than they save
    // (measured 109 -> 103 ms per segment), and segments are verified side by side anyway.
    const runner = await PipelineRunner.create({ pipeline: await loadPipeline(defaultPipelinePath()), device: "cpu", threads: 1 });
    closers.push(() => runner.close());
    const pipelines = new Map([[runner.manifest.id.toLowerCase(), runner]]);
    return { verifier: new SegmentVerifier(defaultVerifierComponents({ store, spot, pipelines, ffmpeg: init.ffmpeg })), close };
  } catch (err) {
    await close();
    throw err;
  }
}
