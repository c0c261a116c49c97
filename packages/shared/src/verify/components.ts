import { multiaddr } from "@multiformats/multiaddr";
import { CID } from "multiformats/cid";
import { eip712Domain, verifyAssignment, verifyDelivery } from "../chain/index.js";
import type { SegmentStore } from "../ipfs/index.js";
import { decodeSampled } from "../media/index.js";
import { traceStepsFor, verifyTrace, type PipelineRunner, type SpotRenderer } from "../model/index.js";
import type { VerifierComponents } from "./types.js";

export interface DefaultVerifierComponentsInit {
  /** Where segments are fetched from (embedded Helia or Kubo). */
  store: Pick<SegmentStore, "get" | "getBlock">;
  /** Runners of the diffusion pipelines this client verifies, by pipeline id (lower-case). */
  pipelines?: ReadonlyMap<string, PipelineRunner> | undefined;
  /** The client's pixel renderer for the spot-check. */
  spot: Pick<SpotRenderer, "renderPixels">;
  /** ffmpeg binary (default: resolved by shared/media). */
  ffmpeg?: string | undefined;
  /** Cap on a segment's size in bytes. */
  maxSegmentBytes?: number | undefined;
}

/**
 * The verifier's components wired to the real thing: IPFS (bitswap checks
 * every block against the CID), the shared EIP-712 helpers, ffmpeg, and the
 * ONNX pixel renderer.
 */
export function defaultVerifierComponents(init: DefaultVerifierComponentsInit): VerifierComponents {
  return {
    async fetch(cid, { providers, signal }) {
      const addrs = providers.flatMap((a) => {
        try {
          return [multiaddr(a)];
        } catch {
          return [];
        }
      });
      return init.store.get(CID.parse(cid), { providers: addrs, signal, timeout: 0, maxBytes: init.maxSegmentBytes });
    },
    recoverAssignmentSigner(chainId, escrow, signed, likely) {
      return verifyAssignment(eip712Domain(chainId, escrow), signed.assignment, signed.signature, { likely });
    },
    recoverDeliverySigner(chainId, escrow, signed, likely) {
      return verifyDelivery(eip712Domain(chainId, escrow), signed.delivery, signed.signature, { likely });
    },
    async decode(bytes, keep, { signal }) {
      const { info, frames } = await decodeSampled(bytes, keep, { signal, ffmpeg: init.ffmpeg });
      return { probe: { width: info.width, height: info.height, fps: info.fps, frameCount: info.frames }, frames };
    },
    renderPixels(spec, frame, pixels, options) {
      return init.spot.renderPixels(spec, frame, pixels, options);
    },
    isPipeline(model) {
      return init.pipelines?.has(model.toLowerCase()) ?? false;
    },
    async verifyTrace(spec, segment, trace, frames, { providers, acceptedBefore, signal }) {
      const runner = init.pipelines?.get(spec.model.toLowerCase());
      const getBlock = init.store.getBlock?.bind(init.store);
      if (!runner || !getBlock) throw new Error(`no runner or block store for pipeline ${spec.model}`);
      const addrs = providers.flatMap((a) => {
        try {
          return [multiaddr(a)];
        } catch {
          return [];
        }
      });
      return verifyTrace({
        runner,
        job: { prompt: spec.prompt, seed: spec.seed, segment },
        root: CID.parse(trace),
        store: { put: async () => {}, get: (cid, o) => getBlock(cid, { providers: addrs, signal: o?.signal ?? signal }) },
        frames,
        k: traceStepsFor(runner.manifest, acceptedBefore ?? 0),
        signal,
      });
    },
  };
}
