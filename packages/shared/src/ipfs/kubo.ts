import type { AbortOptions } from "@libp2p/interface";
import { isMultiaddr } from "@multiformats/multiaddr";
import { create, CID as KuboCID, type KuboRPCClient } from "kubo-rpc-client";
import { sha256 } from "multiformats/hashes/sha2";
import { CID } from "multiformats/cid";
import { DEFAULT_MAX_SEGMENT_BYTES, DEFAULT_SEGMENT_TIMEOUT } from "../net/constants.js";
import { CidMismatchError, SegmentStoreError, SegmentTooLargeError, TimeoutError } from "../net/errors.js";
import { abortError, withDeadline } from "../net/signals.js";
import { KUBO_ADD_OPTIONS, segmentCid } from "./import-settings.js";
import type { AddSegmentOptions, GetSegmentOptions, PutBlockOptions, SegmentStore } from "./segment-store.js";

export interface KuboSegmentStoreInit {
  /** Kubo's RPC API, e.g. `http://127.0.0.1:5001` (the `--ipfs-api` flag). */
  url: string | URL;
  /** Deadline of add/pin/has calls in ms (default 120 s); `get` has its own `timeout`. */
  timeout?: number;
}

/**
 * Segment store backed by an external Kubo node through its RPC API
 * (`--ipfs-api URL`).
 *
 * - `add` sends Rendermesh's import settings (`KUBO_ADD_OPTIONS`) and checks
 *   Kubo's CID against the locally computed one, so a Kubo whose `Import.*`
 *   config would change CIDs is caught at once.
 * - `get` streams `cat` and verifies the bytes by recomputing their CID with
 *   the same settings: it accepts only CIDs made the Rendermesh way, which all
 *   segments are.
 * - `providers` given as multiaddrs are connected with `swarm/connect` first;
 *   bare peer ids are left to Kubo's own routing.
 */
export function createKuboSegmentStore(init: KuboSegmentStoreInit): SegmentStore {
  return new KuboStore(create({ url: init.url.toString() }), init.url.toString(), init.timeout ?? DEFAULT_SEGMENT_TIMEOUT);
}

class KuboStore implements SegmentStore {
  readonly #client: KuboRPCClient;
  readonly #url: string;
  readonly #timeout: number;

  constructor(client: KuboRPCClient, url: string, timeout: number) {
    this.#client = client;
    this.#url = url;
    this.#timeout = timeout;
  }

  async add(bytes: Uint8Array, options: AddSegmentOptions = {}): Promise<CID> {
    return withDeadline(options, this.#timeout, (signal) => this.#add(bytes, options, signal));
  }

  async #add(bytes: Uint8Array, options: AddSegmentOptions, signal: AbortSignal): Promise<CID> {
    const expected = await segmentCid(bytes, { signal });
    const result = await this.#call("add a segment", signal, () =>
      this.#client.add(bytes, { ...KUBO_ADD_OPTIONS, pin: options.pin ?? true, signal }),
    );
    const cid = CID.parse(result.cid.toString());
    // (compared as strings: CID.equals is a type guard that narrows to never)
    if (cid.toString() !== expected.toString()) {
      throw new CidMismatchError(`Kubo added the segment as ${cid.toString()}, but Rendermesh's settings give ${expected.toString()}.`, {
        hint: "Leave Kubo's Import.UnixFSFileMaxLinks at its default (174) and Import.UnixFSRawLeaves unset.",
      });
    }
    return cid;
  }

  async pin(cid: CID, options: AbortOptions = {}): Promise<void> {
    return withDeadline(options, this.#timeout, (signal) => this.#pin(cid, signal));
  }

  async #pin(cid: CID, signal: AbortSignal): Promise<void> {
    await this.#call(`pin ${cid.toString()}`, signal, () => this.#client.pin.add(toKubo(cid), { signal }));
  }

  async get(cid: CID, options: GetSegmentOptions = {}): Promise<Uint8Array> {
    return withDeadline(options, DEFAULT_SEGMENT_TIMEOUT, (signal) => this.#get(cid, options, signal));
  }

  async #get(cid: CID, options: GetSegmentOptions, signal: AbortSignal): Promise<Uint8Array> {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_SEGMENT_BYTES;
    const addrs = (options.providers ?? []).filter(isMultiaddr);
    // Best effort: Kubo may already be connected or find the content itself.
    await Promise.allSettled(addrs.map((addr) => this.#client.swarm.connect(addr, { signal })));
    const bytes = await this.#call(`fetch ${cid.toString()}`, signal, async () => {
      const chunks: Uint8Array[] = [];
      let total = 0;
      for await (const chunk of this.#client.cat(toKubo(cid), { signal })) {
        total += chunk.byteLength;
        if (total > maxBytes) {
          throw new SegmentTooLargeError(`Segment ${cid.toString()} is over the ${maxBytes}-byte limit.`);
        }
        chunks.push(chunk);
      }
      return Buffer.concat(chunks, total);
    });
    const actual = await segmentCid(bytes, { signal });
    if (actual.toString() !== cid.toString()) {
      throw new CidMismatchError(`The bytes Kubo returned for ${cid.toString()} hash to ${actual.toString()}.`, {
        hint: "The Kubo node or one of its peers served wrong data; fetch the segment again or from another provider.",
      });
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async putBlock(cid: CID, bytes: Uint8Array, options: PutBlockOptions = {}): Promise<void> {
    return withDeadline(options, this.#timeout, (signal) => this.#putBlock(cid, bytes, options, signal));
  }

  async #putBlock(cid: CID, bytes: Uint8Array, options: PutBlockOptions, signal: AbortSignal): Promise<void> {
    // Kubo names codecs as multicodec strings: raw tensors and dag-json roots are all a trace has.
    const format = cid.code === 0x55 ? "raw" : cid.code === 0x0129 ? "dag-json" : undefined;
    if (format === undefined)
      throw new SegmentStoreError(`Block ${cid.toString()} has a codec this store does not put (0x${cid.code.toString(16)}).`);
    const put = await this.#call(`put block ${cid.toString()}`, signal, () =>
      this.#client.block.put(bytes, { format, mhtype: "sha2-256", version: 1, pin: options.pin ?? true, signal }),
    );
    if (put.toString() !== cid.toString()) throw new CidMismatchError(`Kubo stored block ${cid.toString()} as ${put.toString()}.`);
  }

  async getBlock(cid: CID, options: GetSegmentOptions = {}): Promise<Uint8Array> {
    return withDeadline(options, DEFAULT_SEGMENT_TIMEOUT, (signal) => this.#getBlock(cid, options, signal));
  }

  async #getBlock(cid: CID, options: GetSegmentOptions, signal: AbortSignal): Promise<Uint8Array> {
    const addrs = (options.providers ?? []).filter(isMultiaddr);
    await Promise.allSettled(addrs.map((addr) => this.#client.swarm.connect(addr, { signal })));
    const bytes = await this.#call(`fetch block ${cid.toString()}`, signal, () => this.#client.block.get(toKubo(cid), { signal }));
    // The RPC API does not prove the bytes: hash them.
    const digest = await sha256.digest(bytes);
    if (!equalBytes(digest.bytes, cid.multihash.bytes))
      throw new CidMismatchError(`The bytes Kubo returned for block ${cid.toString()} do not hash to it.`);
    return bytes;
  }

  async has(cid: CID, options: AbortOptions = {}): Promise<boolean> {
    return withDeadline(options, this.#timeout, (signal) => this.#has(cid, signal));
  }

  async #has(cid: CID, signal: AbortSignal): Promise<boolean> {
    try {
      // `offline` is Kubo's global flag: answer from the local blockstore only.
      await this.#client.block.stat(toKubo(cid), { signal, offline: true } as Parameters<KuboRPCClient["block"]["stat"]>[1]);
      return true;
    } catch (err) {
      if ((err as { name?: unknown } | null)?.name === "HTTPError") return false;
      throw this.#failure("check for a block", signal, err);
    }
  }

  async stop(): Promise<void> {
    // The RPC client holds no connection that outlives a request.
  }

  async #call<T>(what: string, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof SegmentTooLargeError) throw err;
      throw this.#failure(what, signal, err);
    }
  }

  #failure(what: string, signal: AbortSignal, cause: unknown): Error {
    if (signal.aborted) {
      const err = abortError(signal, `Kubo: ${what}`);
      return err instanceof TimeoutError
        ? new TimeoutError(err.shortMessage, { cause, hint: `Check the Kubo node at ${this.#url}.` })
        : err;
    }
    const http = (cause as { name?: unknown } | null)?.name === "HTTPError";
    return new SegmentStoreError(`Kubo could not ${what}.`, {
      cause,
      details: [`api: ${this.#url}`],
      hint: http
        ? "Kubo refused the request; its log says why."
        : `Start Kubo (ipfs daemon) at ${this.#url}, or drop --ipfs-api to use the embedded node.`,
    });
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function toKubo(cid: CID): KuboCID {
  return KuboCID.parse(cid.toString());
}
