import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type * as C2paWasm from "@contentauth/c2pa-wasm";

/**
 * Loads c2pa-rs (as WebAssembly, `@contentauth/c2pa-wasm`) once, on first
 * use, so importing `@rendermesh/shared/provenance` costs nothing until a
 * video is signed or read. The builder reads its source asset through the
 * browser's `FileReaderSync`; Node has none, so a `Blob` that keeps its bytes
 * and a reader that returns them stand in for it.
 */
type C2pa = typeof C2paWasm;

let loaded: Promise<C2pa> | undefined;

const BYTES = Symbol("rendermesh.blobBytes");

/** A Blob whose bytes (and those of its slices) can be read synchronously. */
export class BytesBlob extends Blob {
  readonly [BYTES]: Uint8Array;
  constructor(bytes: Uint8Array) {
    super([bytes as Uint8Array<ArrayBuffer>]);
    this[BYTES] = bytes;
  }
  override slice(start?: number, end?: number): Blob {
    return new BytesBlob(this[BYTES].subarray(start, end));
  }
}

class BytesBlobReader {
  readAsArrayBuffer(blob: Blob): ArrayBuffer {
    const bytes = (blob as Partial<BytesBlob>)[BYTES];
    if (!bytes) throw new TypeError("FileReaderSync stand-in: only a BytesBlob can be read");
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }
}

/** The initialised c2pa-wasm module. */
export function c2pa(): Promise<C2pa> {
  loaded ??= (async () => {
    const g = globalThis as { FileReaderSync?: unknown };
    g.FileReaderSync ??= BytesBlobReader;
    const mod = await import("@contentauth/c2pa-wasm");
    const wasm = readFileSync(createRequire(import.meta.url).resolve("@contentauth/c2pa-wasm/c2pa.wasm"));
    mod.initSync({ module: wasm });
    return mod;
  })();
  return loaded;
}

/**
 * Compiles and instantiates c2pa-rs now instead of at the first signature or
 * read (~100-200 ms of CPU here): a provider calls it while it starts, so
 * its first segment does not pay for it.
 */
export async function loadProvenanceEngine(): Promise<void> {
  await c2pa();
}

/** c2pa-wasm throws plain strings such as `C2pa(JumbfNotFound)`; this gives their message. */
export function c2paMessage(err: unknown): string {
  if (typeof err === "string") return err;
  if (err instanceof Error) return err.message;
  return String(err);
}
