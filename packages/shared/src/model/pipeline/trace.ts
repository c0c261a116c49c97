import * as dagJson from "@ipld/dag-json";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { sha256 } from "multiformats/hashes/sha2";
import { z } from "zod";
import type { PipelineTrace } from "./runner.js";

/**
 * The IPFS form of a render trace. Every tensor is one raw block (float32,
 * little-endian, in the latent's BCFHW order) named by its CIDv1; one
 * dag-json root links them all. The provider signs the root's binary CID as
 * `trace` in its Delivery receipt, so it commits to every step before it
 * knows which ones a verifier will sample; a verifier fetches the root and
 * only the blocks of the steps it draws.
 */

const CidLink = z.custom<CID>((v) => CID.asCID(v) !== null, "must be a CID link");

export const TraceRoot = z.strictObject({
  version: z.literal(1),
  pipeline: z.string().regex(/^0x[0-9a-f]{64}$/),
  seed: z.number().int().min(0),
  segment: z.number().int().min(0),
  guidance: z.number(),
  latentDims: z.array(z.number().int().positive()).min(1),
  textDims: z.array(z.number().int().positive()).min(1),
  text: z.strictObject({ cond: CidLink, uncond: CidLink.optional() }),
  /** The model timestep of each step (float32 values). */
  timesteps: z.array(z.number()),
  /** The input latent of step i. */
  latents: z.array(CidLink),
  /** The denoiser's output of step i on the prompt, and on the negative prompt under guidance. */
  cond: z.array(CidLink),
  uncond: z.array(CidLink).optional(),
  /** The latent after the last step. */
  final: CidLink,
});
export type TraceRoot = z.output<typeof TraceRoot>;

export interface EncodedTrace {
  root: CID;
  rootBytes: Uint8Array;
  /** Every block, the root included, by CID string (shared tensors appear once). */
  blocks: Map<string, { cid: CID; bytes: Uint8Array }>;
}

/** Where trace blocks go and come from (Helia's blockstore fits; the store verifies each block against its CID). */
export interface TraceBlockStore {
  put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal | undefined }): Promise<unknown>;
  get(cid: CID, options?: { signal?: AbortSignal | undefined }): Promise<Uint8Array>;
}

/** Canonical bytes of a float32 tensor: IEEE-754 little-endian. */
export function tensorBytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
  return out;
}

export function tensorFromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`a float32 tensor block has ${bytes.byteLength} bytes, not a multiple of 4`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

/** The CIDv1 (raw, sha2-256) of a tensor's canonical bytes. */
export async function tensorCid(data: Float32Array): Promise<CID> {
  return rawCid(tensorBytes(data));
}

export async function rawCid(bytes: Uint8Array): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(bytes));
}

/** Encodes a trace into its blocks and root. */
export async function encodeTrace(trace: PipelineTrace): Promise<EncodedTrace> {
  const blocks = new Map<string, { cid: CID; bytes: Uint8Array }>();
  const add = async (data: Float32Array) => {
    const bytes = tensorBytes(data);
    const cid = await rawCid(bytes);
    blocks.set(cid.toString(), { cid, bytes });
    return cid;
  };
  const cfg = trace.text.uncond !== undefined;
  const root: TraceRoot = {
    version: 1,
    pipeline: trace.pipeline,
    seed: trace.seed,
    segment: trace.segment,
    guidance: trace.guidance,
    latentDims: [...trace.latentDims],
    textDims: [...trace.text.dims],
    text: { cond: await add(trace.text.cond), ...(cfg ? { uncond: await add(trace.text.uncond as Float32Array) } : {}) },
    timesteps: trace.steps.map((s) => s.t),
    latents: await Promise.all(trace.steps.map((s) => add(s.latent))),
    cond: await Promise.all(trace.steps.map((s) => add(s.cond))),
    ...(cfg ? { uncond: await Promise.all(trace.steps.map((s) => add(s.uncond as Float32Array))) } : {}),
    final: await add(trace.final),
  };
  const rootBytes = dagJson.encode(root);
  const rootCid = CID.createV1(dagJson.code, await sha256.digest(rootBytes));
  blocks.set(rootCid.toString(), { cid: rootCid, bytes: rootBytes });
  return { root: rootCid, rootBytes, blocks };
}

/** Puts every block of an encoded trace into a store; returns the root CID. */
export async function publishTrace(
  encoded: EncodedTrace,
  store: TraceBlockStore,
  options: { signal?: AbortSignal | undefined } = {},
): Promise<CID> {
  for (const { cid, bytes } of encoded.blocks.values()) await store.put(cid, bytes, options);
  return encoded.root;
}

/** Decodes and validates a root block's bytes (throws on anything malformed). */
export function decodeTraceRoot(bytes: Uint8Array): TraceRoot {
  return TraceRoot.parse(dagJson.decode(bytes));
}

/** An in-memory trace store (tests, and a provider before it hands blocks to IPFS). */
export class MemoryTraceStore implements TraceBlockStore {
  readonly blocks = new Map<string, Uint8Array>();
  readonly fetched: string[] = [];
  async put(cid: CID, bytes: Uint8Array): Promise<void> {
    this.blocks.set(cid.toString(), bytes);
  }
  async get(cid: CID): Promise<Uint8Array> {
    const bytes = this.blocks.get(cid.toString());
    if (bytes === undefined) throw new Error(`block ${cid.toString()} is not in the store`);
    this.fetched.push(cid.toString());
    return bytes;
  }
}
