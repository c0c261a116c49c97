// The coded pictures of an MP4, read from its sample tables in this process
// (`videoPackets`), against what ffmpeg itself lists for the same file: the
// provenance digest a provider signs and `rendermesh verify` checks must not
// depend on which of the two computed it.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { concatSegments, encodeArgs, encodeSegment, MediaArgumentError, runFfmpeg } from "../src/media/index.js";
import { mp4VideoTrack } from "../src/media/mp4-samples.js";
import { createProvenanceIdentity, signMp4, videoPackets } from "../src/provenance/index.js";

let dir: string;
const files = new Map<string, Uint8Array>();

/** ffmpeg's own list: `-c copy`, SEI/SPS/PPS/AUD removed, one md5 per packet (what videoPackets ran before). */
async function ffmpegPackets(path: string): Promise<string[]> {
  const { stdout } = await runFfmpeg(
    [
      ...["-hide_banner", "-nostdin", "-loglevel", "error", "-i", path, "-map", "0:v:0", "-c", "copy"],
      ...["-bsf:v", "filter_units=remove_types=6|7|8|9", "-f", "framemd5", "pipe:1"],
    ],
    { what: "list packets" },
  );
  return stdout
    .toString("utf8")
    .split("\n")
    .filter((line) => line.startsWith("0,"))
    .map((line) => line.split(",").pop()!.trim());
}

/** Frames with structure and noise, so x264 makes several slices' worth of real data. */
function frames(width: number, height: number, count: number, seed: number): Uint8Array[] {
  const noise = randomBytes(width * height * 3);
  return Array.from({ length: count }, (_, f) => {
    const out = new Uint8Array(width * height * 3);
    for (let i = 0; i < out.length; i++) out[i] = ((i % (width * 3)) * 2 + f * 9 + seed * 40 + (noise[i]! & 0x1f)) & 0xff;
    return out;
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rendermesh-mp4-samples-"));
  const identity = await createProvenanceIdentity(new Wallet(`0x${"33".repeat(32)}`));
  const segments: Uint8Array[] = [];
  for (const [i, shape] of [
    { width: 64, height: 64, fps: 8 },
    { width: 64, height: 64, fps: 8 },
    { width: 64, height: 64, fps: 8 },
  ].entries()) {
    const mp4 = await encodeSegment(frames(shape.width, shape.height, shape.fps, i), shape);
    files.set(`segment ${i}`, mp4);
    segments.push(mp4);
  }
  files.set("large frames, one picture", await encodeSegment(frames(320, 240, 1, 7), { width: 320, height: 240, fps: 1 }));
  // Several slices per picture (Rendermesh's encoder makes one): several NAL units kept per packet.
  const sliced = join(dir, "sliced.mp4");
  const args = encodeArgs({ width: 64, height: 64, fps: 4 }, sliced);
  args[args.indexOf("-x264-params") + 1] += ":slices=3";
  await runFfmpeg(args, { what: "encode with slices", input: async (stdin) => void stdin.write(Buffer.concat(frames(64, 64, 4, 3))) });
  files.set("three slices per picture", new Uint8Array(await readFile(sliced)));
  const signed = await signMp4({
    mp4: segments[0]!,
    identity,
    title: "segment-0.mp4",
    generator: { version: "0.1.0", model: `0x${"ab".repeat(32)}` },
    assertions: [],
  });
  files.set("segment with Content Credentials", signed);
  const joined = join(dir, "joined.mp4");
  await concatSegments([signed, segments[1]!, segments[2]!], joined);
  files.set("joined video", new Uint8Array(await readFile(joined)));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("videoPackets (the MP4's sample tables, no ffmpeg)", () => {
  test("behavior: the same md5 per picture as ffmpeg lists, for segments, a credentialed one and a joined video", async () => {
    for (const [name, bytes] of files) {
      const path = join(dir, `${name.replace(/\W+/g, "-")}.mp4`);
      await writeFile(path, bytes);
      const reference = await ffmpegPackets(path);
      expect(reference.length, name).toBeGreaterThan(0);
      expect(await videoPackets(bytes), name).toEqual(reference);
      expect(await videoPackets(path), name).toEqual(reference);
    }
    expect(await videoPackets(files.get("joined video")!)).toHaveLength(24);
    // The sliced file does hold several NAL units a picture (4-byte lengths), so the 3-byte start codes were compared.
    const sliced = mp4VideoTrack(files.get("three slices per picture")!);
    const units = (sample: Uint8Array) => {
      let n = 0;
      for (let at = 0; at < sample.byteLength; n++) at += 4 + new DataView(sample.buffer, sample.byteOffset + at).getUint32(0);
      return n;
    };
    expect(Math.min(...sliced.samples.map(units))).toBeGreaterThanOrEqual(3);
  });

  test("error: not an MP4, a cut-off file, a table pointing outside the file: MediaArgumentError, never a crash", async () => {
    const segment = files.get("segment 0")!;
    await expect(videoPackets(new TextEncoder().encode("not a video at all"))).rejects.toThrow(MediaArgumentError);
    await expect(videoPackets(segment.subarray(0, segment.byteLength / 2))).rejects.toThrow(MediaArgumentError);
    await expect(videoPackets(new Uint8Array(0))).rejects.toThrow(/no moov box/);
    // A sample table naming 2^32 - 1 samples of a fixed size: refused before anything is read.
    const stszAt = Buffer.from(segment).indexOf("stsz");
    const huge = new Uint8Array(segment);
    new DataView(huge.buffer).setUint32(stszAt + 8, 16);
    new DataView(huge.buffer).setUint32(stszAt + 12, 0xffffffff);
    expect(() => mp4VideoTrack(huge)).toThrow(/over the 1048576 this reads/);
    // Every 4-byte word of the moov box set to a huge value, one at a time: each is refused or read, never more.
    const moovAt = Buffer.from(segment).indexOf("moov") - 4;
    const moovEnd = moovAt + new DataView(segment.buffer, segment.byteOffset).getUint32(moovAt);
    for (let at = moovAt + 8; at + 4 <= moovEnd; at += 4) {
      const broken = new Uint8Array(segment);
      new DataView(broken.buffer).setUint32(at, 0xfffffff0);
      try {
        const track = mp4VideoTrack(broken);
        for (const s of track.samples) expect(s.byteOffset + s.byteLength).toBeLessThanOrEqual(broken.byteLength);
      } catch (err) {
        expect(err).toBeInstanceOf(MediaArgumentError);
      }
    }
  });
});
