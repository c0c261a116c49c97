import { C2PA_BOX_UUID } from "./constants.js";

/**
 * Just enough ISO BMFF and JUMBF (ISO 19566-5) reading to find a manifest's
 * COSE signature, whose certificate c2pa-rs validates but does not hand
 * out: the certificate's key is what the signer binding must name.
 */
interface Box {
  type: string;
  start: number;
  end: number;
  body: number;
}

function* boxes(bytes: Uint8Array, from: number, to: number): Generator<Box> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = from;
  while (at + 8 <= to) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    let body = at + 8;
    if (size === 1) {
      if (at + 16 > to) return;
      size = Number(view.getBigUint64(at + 8));
      body = at + 16;
    } else if (size === 0) size = to - at;
    if (size < body - at || at + size > to) return;
    yield { type, start: at, end: at + size, body };
    at += size;
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** A JUMBF superbox's label (from its `jumd` description box). */
function label(bytes: Uint8Array, jumb: Box): string | undefined {
  const first = boxes(bytes, jumb.body, jumb.end).next().value;
  if (!first || first.type !== "jumd") return undefined;
  const toggles = bytes[first.body + 16] ?? 0;
  if ((toggles & 0x02) === 0) return undefined;
  const start = first.body + 17;
  const nul = bytes.indexOf(0, start);
  return Buffer.from(bytes.subarray(start, nul < 0 || nul > first.end ? first.end : nul)).toString("utf8");
}

const child = (bytes: Uint8Array, parent: Box, name: string) =>
  [...boxes(bytes, parent.body, parent.end)].find((b) => b.type === "jumb" && label(bytes, b) === name);

/** The COSE_Sign1 of manifest `manifestLabel` in an MP4's C2PA store, or undefined. */
export function manifestSignature(mp4: Uint8Array, manifestLabel: string): Uint8Array | undefined {
  for (const top of boxes(mp4, 0, mp4.byteLength)) {
    if (top.type !== "uuid" || hex(mp4.subarray(top.body, top.body + 16)) !== C2PA_BOX_UUID) continue;
    // uuid, version + flags, "manifest\0", an 8-byte offset, then the JUMBF store.
    let at = top.body + 16 + 4;
    const nul = mp4.indexOf(0, at);
    if (nul < 0 || nul >= top.end) continue;
    at = nul + 1 + 8;
    for (const store of boxes(mp4, at, top.end)) {
      if (store.type !== "jumb" || label(mp4, store) !== "c2pa") continue;
      const manifest = child(mp4, store, manifestLabel);
      if (!manifest) continue;
      const sig = child(mp4, manifest, "c2pa.signature");
      if (!sig) continue;
      const content = [...boxes(mp4, sig.body, sig.end)].find((b) => b.type === "cbor");
      if (content) return mp4.slice(content.body, content.end);
    }
  }
  return undefined;
}
