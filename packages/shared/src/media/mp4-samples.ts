import { MediaArgumentError } from "./errors.js";

/** The coded pictures of an MP4's first video track, each as stored (AVCC: length-prefixed NAL units). */
export interface Mp4VideoTrack {
  /** Bytes of each NAL unit length prefix (the avcC record's lengthSizeMinusOne + 1). */
  nalLengthSize: number;
  /** Each sample, in decode order, as a view into the file's bytes. */
  samples: Uint8Array[];
}

/** Pictures read at most: ~12 hours at 24 fps, far beyond any job. */
const MAX_SAMPLES = 1 << 20;

interface Box {
  type: string;
  /** Offset of the payload (after the header) and its end, in the file. */
  start: number;
  end: number;
}

/**
 * The samples of the first H.264 video track of an MP4, read from the
 * sample tables (`stsz`, `stsc`, `stco`/`co64`) without decoding anything:
 * the same packets ffmpeg's MP4 demuxer hands on with `-c copy`. Why not
 * ffmpeg: listing a segment's packets was a process spawn per segment, and
 * a spawn forks the whole calling process (~5–15 ms of a provider's
 * JavaScript thread at a few hundred MB to 1 GB of memory, measured), on
 * the thread that also runs inference.
 *
 * Throws `MediaArgumentError` for anything it cannot read: not an MP4, no
 * H.264 video track, tables that point outside the file.
 */
export function mp4VideoTrack(file: Uint8Array): Mp4VideoTrack {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const fail = (why: string): never => {
    throw new MediaArgumentError(`Cannot read the MP4's video samples: ${why}.`, {
      hint: "The segment is not an MP4 with an H.264 video track as Rendermesh encodes it.",
    });
  };
  const children = (start: number, end: number): Box[] => {
    const out: Box[] = [];
    let at = start;
    while (at + 8 <= end) {
      let size = view.getUint32(at);
      const type = String.fromCharCode(file[at + 4]!, file[at + 5]!, file[at + 6]!, file[at + 7]!);
      let header = 8;
      if (size === 1) {
        if (at + 16 > end) fail(`box ${type} at ${at} is cut off`);
        const big = view.getBigUint64(at + 8);
        if (big > BigInt(end - at)) fail(`box ${type} at ${at} is larger than its parent`);
        size = Number(big);
        header = 16;
      } else if (size === 0) size = end - at;
      if (size < header || at + size > end) fail(`box ${type} at ${at} has size ${size}, outside its parent`);
      out.push({ type, start: at + header, end: at + size });
      at += size;
    }
    return out;
  };
  const find = (boxes: Box[], type: string): Box | undefined => boxes.find((b) => b.type === type);

  const moov = find(children(0, file.byteLength), "moov") ?? fail("it has no moov box");
  for (const trak of children(moov.start, moov.end).filter((b) => b.type === "trak")) {
    const mdia = find(children(trak.start, trak.end), "mdia");
    if (!mdia) continue;
    const inMdia = children(mdia.start, mdia.end);
    const hdlr = find(inMdia, "hdlr");
    if (!hdlr || hdlr.end - hdlr.start < 12 || fourcc(file, hdlr.start + 8) !== "vide") continue;
    const minf = find(inMdia, "minf") ?? fail("its video track has no minf box");
    const stbl = find(children(minf.start, minf.end), "stbl") ?? fail("its video track has no stbl box");
    return readTrack(file, view, children(stbl.start, stbl.end), children, fail);
  }
  return fail("it has no video track");
}

function readTrack(
  file: Uint8Array,
  view: DataView,
  stbl: Box[],
  children: (start: number, end: number) => Box[],
  fail: (why: string) => never,
): Mp4VideoTrack {
  const table = (type: string): Box | undefined => stbl.find((b) => b.type === type);
  const need = (box: Box, bytes: number, what: string) => {
    if (box.end - box.start < bytes) fail(`its ${what} table is cut off`);
  };

  // stsd → avc1 → avcC: the length of each NAL unit's prefix.
  const stsd = table("stsd") ?? fail("its video track has no stsd box");
  need(stsd, 8, "stsd");
  const entries = children(stsd.start + 8, stsd.end);
  const avc1 = entries[0];
  if (!avc1 || (avc1.type !== "avc1" && avc1.type !== "avc3")) fail(`its video is ${avc1?.type ?? "nothing"}, not H.264 (avc1)`);
  // A visual sample entry's fixed fields take 78 bytes before its own boxes.
  const avcC = children(avc1!.start + 78, avc1!.end).find((b) => b.type === "avcC") ?? fail("its avc1 entry has no avcC box");
  need(avcC, 5, "avcC");
  const nalLengthSize = (file[avcC.start + 4]! & 0x03) + 1;

  const stsz = table("stsz") ?? fail("its video track has no stsz table (stz2 is not read)");
  need(stsz, 12, "stsz");
  const fixed = view.getUint32(stsz.start + 4);
  const count = view.getUint32(stsz.start + 8);
  if (fixed === 0) need(stsz, 12 + 4 * count, "stsz");
  // A crafted file could name billions of tiny samples (a view each): refuse what no segment or video holds.
  if (count > MAX_SAMPLES) fail(`it names ${count} samples, over the ${MAX_SAMPLES} this reads`);
  if (fixed !== 0 && fixed <= nalLengthSize) fail(`its samples are ${fixed} bytes, too small to hold a NAL unit`);
  const sizeOf = (i: number) => (fixed !== 0 ? fixed : view.getUint32(stsz.start + 12 + 4 * i));

  const stsc = table("stsc") ?? fail("its video track has no stsc table");
  need(stsc, 8, "stsc");
  const runs = view.getUint32(stsc.start + 4);
  need(stsc, 8 + 12 * runs, "stsc");

  const stco = table("stco");
  const co64 = table("co64");
  const offsets = stco ?? co64 ?? fail("its video track has no chunk offsets (stco or co64)");
  need(offsets, 8, offsets.type);
  const chunks = view.getUint32(offsets.start + 4);
  const wide = offsets === co64 && !stco;
  need(offsets, 8 + (wide ? 8 : 4) * chunks, offsets.type);
  const chunkOffset = (c: number) =>
    wide ? Number(view.getBigUint64(offsets.start + 8 + 8 * c)) : view.getUint32(offsets.start + 8 + 4 * c);

  const samples: Uint8Array[] = [];
  let sample = 0;
  for (let r = 0; r < runs && sample < count; r++) {
    const first = view.getUint32(stsc.start + 8 + 12 * r) - 1;
    const perChunk = view.getUint32(stsc.start + 12 + 12 * r);
    const next = r + 1 < runs ? view.getUint32(stsc.start + 8 + 12 * (r + 1)) - 1 : chunks;
    if (first < 0 || next < first || next > chunks) fail("its stsc table names chunks that are not there");
    for (let c = first; c < next && sample < count; c++) {
      let at = chunkOffset(c);
      for (let k = 0; k < perChunk && sample < count; k++, sample++) {
        const size = sizeOf(sample);
        if (at + size > file.byteLength) fail(`sample ${sample} lies outside the file`);
        samples.push(file.subarray(at, at + size));
        at += size;
      }
    }
  }
  if (sample !== count) fail(`its tables place ${sample} of ${count} samples`);
  return { nalLengthSize, samples };
}

function fourcc(file: Uint8Array, at: number): string {
  return String.fromCharCode(file[at]!, file[at + 1]!, file[at + 2]!, file[at + 3]!);
}

/**
 * A sample's NAL units without the given types, in the Annex B form that
 * ffmpeg's `filter_units=remove_types=…` writes them in: a 4-byte start code
 * before the first unit kept, a 3-byte one before each further unit (its
 * coded bitstream writer adds the leading zero byte only to an access
 * unit's first unit and to parameter sets, which are removed here).
 */
export function withoutNalTypes(sample: Uint8Array, nalLengthSize: number, remove: ReadonlySet<number>): Uint8Array {
  const kept: Uint8Array[] = [];
  let at = 0;
  let total = 0;
  while (at < sample.byteLength) {
    if (at + nalLengthSize > sample.byteLength) throw new MediaArgumentError("A video sample ends inside a NAL unit's length.");
    let length = 0;
    for (let i = 0; i < nalLengthSize; i++) length = length * 256 + sample[at + i]!;
    const start = at + nalLengthSize;
    const end = start + length;
    if (length === 0 || end > sample.byteLength) throw new MediaArgumentError("A video sample holds a NAL unit longer than the sample.");
    if (!remove.has(sample[start]! & 0x1f)) {
      kept.push(sample.subarray(start, end));
      total += (kept.length === 1 ? 4 : 3) + length;
    }
    at = end;
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const [i, unit] of kept.entries()) {
    o += i === 0 ? 3 : 2;
    out[o++] = 1;
    out.set(unit, o);
    o += unit.byteLength;
  }
  return out;
}
