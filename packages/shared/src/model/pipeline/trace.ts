import * as dagJson from "@ipld/dag-json";
import { CID } from "multiformats/cid";
import * as raw from "multiformats/codecs/raw";
import { create as createDigest } from "multiformats/hashes/digest";
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
  /** Stores one block; pinned on its own, unless the store has `pin`. */
  put(cid: CID, bytes: Uint8Array, options?: { signal?: AbortSignal | undefined }): Promise<unknown>;
  /**
   * Optional: stores several blocks as `put` does, in one write of the store
   * where it can (the embedded store: one SQLite transaction). With it the
   * committer hands blocks over in batches instead of one `put` each.
   */
  putMany?(blocks: ReadonlyArray<{ cid: CID; bytes: Uint8Array }>, options?: { signal?: AbortSignal | undefined }): Promise<unknown>;
  get(cid: CID, options?: { signal?: AbortSignal | undefined }): Promise<Uint8Array>;
  /**
   * Present when `put` stores without pinning: pins the root, and so every
   * block under it, once, after every block is stored. `known` holds each
   * block's bytes by CID string, so the pin walk need not read them back.
   * One recursive pin instead of ~300 per-block ones is most of a trace's
   * file-system operations saved.
   */
  pin?(root: CID, known: ReadonlyMap<string, Uint8Array>, options?: { signal?: AbortSignal | undefined }): Promise<unknown>;
}

const LITTLE_ENDIAN = new Uint8Array(Float32Array.of(1).buffer)[3] === 0x3f;

/** Canonical bytes of a float32 tensor: IEEE-754 little-endian (a single copy on little-endian hosts). */
export function tensorBytes(data: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] as number, true);
  return out;
}

export function tensorFromBytes(bytes: Uint8Array): Float32Array {
  if (bytes.byteLength % 4 !== 0) throw new RangeError(`a float32 tensor block has ${bytes.byteLength} bytes, not a multiple of 4`);
  if (LITTLE_ENDIAN) {
    // One copy into a buffer of its own (aligned, exactly the tensor): a Node Buffer's `slice` is a view of a shared pool.
    const own = new Uint8Array(bytes.byteLength);
    own.set(bytes);
    return new Float32Array(own.buffer);
  }
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

/** Builds the root of `trace`, naming each tensor by the CID `cidOf` gives it (the one place the root's layout is written). */
async function traceRoot(trace: PipelineTrace, cidOf: (data: Float32Array) => Promise<CID>): Promise<{ root: CID; rootBytes: Uint8Array }> {
  const cfg = trace.text.uncond !== undefined;
  const root: TraceRoot = {
    version: 1,
    pipeline: trace.pipeline,
    seed: trace.seed,
    segment: trace.segment,
    guidance: trace.guidance,
    latentDims: [...trace.latentDims],
    textDims: [...trace.text.dims],
    text: { cond: await cidOf(trace.text.cond), ...(cfg ? { uncond: await cidOf(trace.text.uncond as Float32Array) } : {}) },
    timesteps: trace.steps.map((s) => s.t),
    latents: await Promise.all(trace.steps.map((s) => cidOf(s.latent))),
    cond: await Promise.all(trace.steps.map((s) => cidOf(s.cond))),
    ...(cfg ? { uncond: await Promise.all(trace.steps.map((s) => cidOf(s.uncond as Float32Array))) } : {}),
    final: await cidOf(trace.final),
  };
  const rootBytes = dagJson.encode(root);
  return { root: CID.createV1(dagJson.code, await sha256.digest(rootBytes)), rootBytes };
}

/** Encodes a trace into its blocks and root. */
export async function encodeTrace(trace: PipelineTrace): Promise<EncodedTrace> {
  const blocks = new Map<string, { cid: CID; bytes: Uint8Array }>();
  const { root, rootBytes } = await traceRoot(trace, async (data) => {
    const bytes = tensorBytes(data);
    const cid = await rawCid(bytes);
    blocks.set(cid.toString(), { cid, bytes });
    return cid;
  });
  blocks.set(root.toString(), { cid: root, bytes: rootBytes });
  return { root, rootBytes, blocks };
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

export interface TraceCommitterOptions {
  signal?: AbortSignal | undefined;
  /** Blocks stored at once (default 8): a store's writes overlap, and the render is never far ahead of them. */
  concurrency?: number | undefined;
  /**
   * Blocks per `putMany` call, when the store has it (default 32, ~11
   * denoising steps): the last batch goes in `finish`. Batches are written
   * one after another.
   */
  batch?: number | undefined;
}

interface PendingBlock {
  cid: CID;
  bytes: Uint8Array;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Commits a trace while it is being made: each tensor handed to `add` (the
 * runner's `onTensor`, as soon as a step's tensors are final) is hashed and
 * put into the store at once, so the store's writes overlap the next
 * denoising steps instead of following the whole render. `finish` then
 * builds the root, with the same layout and CIDs as `encodeTrace`, stores it
 * and any tensor not added before, and waits for every write; a store with
 * `pin` then pins the root once, recursively. The result is the same blocks
 * and root as `encodeTrace` + `publishTrace`. A store with `putMany` gets the
 * blocks in batches (`batch`), one batch written at a time.
 */
export class TraceCommitter {
  readonly #store: TraceBlockStore;
  readonly #signal: AbortSignal | undefined;
  readonly #concurrency: number;
  /** CID of each tensor added, by identity (the runner hands over the very arrays the trace keeps). */
  readonly #cids = new Map<Float32Array, Promise<CID>>();
  /** Each block's write, by CID string (a tensor that repeats is stored once). */
  readonly #writes = new Map<string, Promise<void>>();
  /** Each block's bytes, by CID string, for the one recursive pin at the end (kept only when the store pins so). */
  readonly #known: Map<string, Uint8Array> | undefined;
  readonly #queue: Array<() => void> = [];
  #running = 0;
  #blocks = 0;
  readonly #batchSize: number;
  /** Blocks waiting for the next `putMany` (stores that have it). */
  #pending: PendingBlock[] = [];
  /** The last batch handed to `putMany`: the next one starts after it. */
  #lastBatch: Promise<void> = Promise.resolve();

  constructor(store: TraceBlockStore, options: TraceCommitterOptions = {}) {
    this.#store = store;
    this.#signal = options.signal;
    this.#concurrency = options.concurrency ?? 8;
    this.#batchSize = options.batch ?? 32;
    this.#known = store.pin ? new Map() : undefined;
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1)
      throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    if (!Number.isInteger(this.#batchSize) || this.#batchSize < 1)
      throw new RangeError(`batch must be a positive integer, got ${options.batch}`);
  }

  /** Hashes a final tensor and starts storing it; never throws (a failure surfaces in `finish`). */
  add(data: Float32Array): void {
    void this.#cidOf(data);
  }

  /** Stores the root and whatever is still missing; resolves with the root once every block is stored. */
  async finish(trace: PipelineTrace): Promise<{ root: CID; blocks: number }> {
    const { root, rootBytes } = await traceRoot(trace, (data) => this.#cidOf(data));
    this.#put(root, rootBytes);
    this.#flush();
    // Every write of the trace was started by now; wait for all of them (and report the first failure).
    await Promise.all(this.#writes.values());
    if (this.#store.pin && this.#known) {
      // Only once every block is stored. The pin walk is sequential, so the signal can stop it between blocks.
      this.#signal?.throwIfAborted();
      await this.#store.pin(root, this.#known, { signal: this.#signal });
    }
    return { root, blocks: this.#blocks };
  }

  /** Resolves once every write started so far has finished or failed (after a failed render). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.#cids.values());
    // Blocks still waiting for a batch are dropped, not written: the trace they belong to will never be signed.
    const dropped = this.#pending;
    this.#pending = [];
    for (const b of dropped) b.reject(new Error(`Block ${b.cid.toString()} was not stored: the render failed.`));
    await Promise.allSettled(this.#writes.values());
  }

  #cidOf(data: Float32Array): Promise<CID> {
    let cid = this.#cids.get(data);
    if (!cid) {
      const bytes = tensorBytes(data);
      cid = rawCid(bytes).then((c) => (this.#put(c, bytes), c));
      this.#cids.set(data, cid);
    }
    return cid;
  }

  #put(cid: CID, bytes: Uint8Array): void {
    const key = cid.toString();
    if (this.#writes.has(key)) return;
    this.#blocks++;
    this.#known?.set(key, bytes);
    const putMany = this.#store.putMany;
    const write = new Promise<void>((resolve, reject) => {
      if (putMany) {
        this.#pending.push({ cid, bytes, resolve, reject });
        if (this.#pending.length >= this.#batchSize) this.#flush();
        return;
      }
      const start = () => {
        this.#running++;
        Promise.resolve()
          .then(() => {
            // The signal stops writes that have not started; one that has is left to finish (each is one small
            // block). Handing the signal to several concurrent Helia writes let an abort escape as an unhandled
            // rejection from inside the blockstore, which crashed the provider.
            this.#signal?.throwIfAborted();
            return this.#store.put(cid, bytes);
          })
          .then(() => resolve(), reject)
          .finally(() => {
            this.#running--;
            this.#queue.shift()?.();
          });
      };
      if (this.#running < this.#concurrency) start();
      else this.#queue.push(start);
    });
    write.catch(() => {}); // awaited in finish
    this.#writes.set(key, write);
  }

  /** Hands the pending blocks to `putMany` once the batch before has been written. */
  #flush(): void {
    const blocks = this.#pending;
    if (blocks.length === 0) return;
    this.#pending = [];
    this.#lastBatch = this.#lastBatch.then(async () => {
      try {
        // As with single writes, the signal stops batches that have not started and is not handed to the store.
        this.#signal?.throwIfAborted();
        await this.#store.putMany!(blocks.map(({ cid, bytes }) => ({ cid, bytes })));
        for (const b of blocks) b.resolve();
      } catch (err) {
        for (const b of blocks) b.reject(err);
      }
    });
  }
}

/** Decodes and validates a root block's bytes (throws on anything malformed). */
export function decodeTraceRoot(bytes: Uint8Array): TraceRoot {
  return TraceRoot.parse(canonicalDagJson(bytes) ?? dagJson.decode(bytes));
}

/**
 * A CIDv1 of a raw block with a sha2-256 digest in base32 — every tensor link of a trace: the prefix bytes
 * 01 55 12 20 are "afkrei" plus the two zero high bits of the next character (a–h), 52 characters carry the
 * digest, and the last one only 3 bits (its low 2 bits zero, as base32's decoder insists). Any string of this
 * form is such a CID; any other goes to `CID.parse`.
 */
const RAW_SHA256_LINK = /^bafkrei[a-h][a-z2-7]{50}[aeimquy4]$/;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const BASE32_VALUE = new Uint8Array(128);
for (let i = 0; i < BASE32.length; i++) BASE32_VALUE[BASE32.charCodeAt(i)] = i;

/** The CID of a `RAW_SHA256_LINK` string: what `CID.parse` gives, without its generic decoder (~6 µs a link, 300 links a root). */
function rawSha256Cid(link: string): CID {
  const bytes = new Uint8Array(36);
  let bits = 0;
  let acc = 0;
  let at = 0;
  for (let i = 1; i < link.length; i++) {
    acc = (acc << 5) | (BASE32_VALUE[link.charCodeAt(i)] as number);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes[at++] = (acc >> bits) & 0xff;
    }
  }
  return CID.createV1(raw.code, createDigest(sha256.code, bytes.subarray(4)));
}

/**
 * The fast path of `dagJson.decode` for the root's plain, canonical form, or
 * undefined when the bytes are not in it (then dag-json's own decoder
 * decides). dag-json's tokenizer took ~4–8 ms of CPU per segment for a
 * 100-step root — the largest fixed cost of verifying one, more than a
 * denoiser run — while `JSON.parse` takes ~0.1 ms. It is used only where both
 * give the same value: printable ASCII without escapes, compact with no
 * duplicate keys and canonical numbers (`JSON.stringify` gives back the same
 * text), only safe integers and plain decimals, and `{"/": "…"}` as the only
 * special form, a link, parsed with the same `CID.parse`. Anything else —
 * bytes, a malformed link form, big integers, a `__proto__` key — goes to dag-json.
 */
function canonicalDagJson(bytes: Uint8Array): unknown {
  // Invalid UTF-8 decodes to U+FFFD, which is not printable ASCII either.
  const text = new TextDecoder().decode(bytes);
  if (/[^\x20-\x5b\x5d-\x7e]/.test(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (JSON.stringify(value) !== text) return undefined;
  const NOT_PLAIN = Symbol("not plain");
  const walk = (v: unknown): unknown => {
    if (typeof v === "number") {
      if (Number.isInteger(v) ? !Number.isSafeInteger(v) : /e/i.test(String(v))) throw NOT_PLAIN;
      return v;
    }
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === "object") {
      const entries = Object.entries(v);
      if (Object.hasOwn(v, "__proto__")) throw NOT_PLAIN;
      if (Object.hasOwn(v, "/")) {
        const link = (v as Record<string, unknown>)["/"];
        if (entries.length !== 1 || typeof link !== "string") throw NOT_PLAIN;
        return RAW_SHA256_LINK.test(link) ? rawSha256Cid(link) : CID.parse(link);
      }
      return Object.fromEntries(entries.map(([k, x]) => [k, walk(x)]));
    }
    return v;
  };
  try {
    return walk(value);
  } catch (err) {
    if (err === NOT_PLAIN) return undefined;
    throw err;
  }
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
