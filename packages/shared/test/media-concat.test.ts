import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { concatSegments, decodeSegment, encodeSegment, runFfmpeg } from "../src/media/index.js";
import { createRenderer, defaultModel, psnr, type Renderer } from "../src/model/index.js";
import { renderAll, silentLogger, smallSpec } from "./model-fixtures.js";

const spec = smallSpec({ prompt: "spinning purple galaxy", fps: 8, width: 48, height: 32 });
let dir: string;
let renderer: Renderer;
let segments: Uint8Array[];
let rendered: Uint8Array[];

/** Packet hashes of a file's video stream (ffmpeg's framemd5 with -c copy: the coded bytes, not decoded ones). */
async function packetHashes(path: string): Promise<string[]> {
  const { stdout } = await runFfmpeg(["-hide_banner", "-nostdin", "-i", path, "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "pipe:1"], {
    what: "hash packets",
  });
  return stdout
    .toString()
    .split("\n")
    .filter((l) => /^0,/.test(l))
    .map((l) => l.split(",").pop()?.trim() ?? "");
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rendermesh-concat-test-"));
  renderer = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger });
  segments = [];
  rendered = [];
  // Three one-second segments, rendered independently as three providers would.
  for (let i = 0; i < 3; i++) {
    const frames = await renderAll(renderer, spec, i * spec.fps, spec.fps);
    rendered.push(...frames);
    segments.push(await encodeSegment(frames, spec));
  }
});
afterAll(async () => {
  await renderer.close();
  await rm(dir, { recursive: true, force: true });
});

describe("concatSegments", () => {
  test("default: three segments join into 3 × fps frames at the same size and rate", async () => {
    const out = join(dir, "video.mp4");
    const info = await concatSegments(segments, out);
    expect(info).toMatchObject({ frames: 3 * spec.fps, width: 48, height: 32, fps: spec.fps, durationSeconds: 3, codec: "h264" });
    const decoded = await decodeSegment(out, spec);
    expect(decoded).toHaveLength(3 * spec.fps);
    expect(Math.min(...decoded.map((f, i) => psnr(f, rendered[i] as Uint8Array)))).toBeGreaterThan(30);
  });

  test("behavior: no re-encode — the coded frames are the segments' own, and decode bit-identically", async () => {
    const paths = await Promise.all(
      segments.map(async (s, i) => {
        const p = join(dir, `segment-${i}.mp4`);
        await writeFile(p, s);
        return p;
      }),
    );
    const out = join(dir, "from-paths.mp4");
    await concatSegments(paths, out);
    const joined = await packetHashes(out);
    const parts = (await Promise.all(paths.map(packetHashes))).flat();
    expect(joined).toHaveLength(parts.length);
    // Keyframes may carry the parameter sets in-band after the join; every other frame is byte-identical.
    const keyframes = new Set([0, spec.fps, 2 * spec.fps]);
    expect(joined.filter((_, i) => !keyframes.has(i))).toEqual(parts.filter((_, i) => !keyframes.has(i)));
    const decodedJoined = await decodeSegment(out);
    const decodedParts = (await Promise.all(segments.map((s) => decodeSegment(s)))).flat();
    expect(decodedJoined.map((f, i) => Buffer.from(f).equals(Buffer.from(decodedParts[i] as Uint8Array)))).toEqual(
      Array(3 * spec.fps).fill(true),
    );
  });

  test("error: no segments, or a missing one, is refused and leaves no output", async () => {
    await expect(concatSegments([], join(dir, "empty.mp4"))).rejects.toMatchObject({ name: "MediaArgumentError" });
    const out = join(dir, "broken.mp4");
    await expect(concatSegments([segments[0] as Uint8Array, join(dir, "missing.mp4")], out)).rejects.toMatchObject({
      name: "MediaDecodeError",
    });
    await expect(access(out)).rejects.toThrow();
  });

  test("error: segments of different sizes are refused", async () => {
    const [frame] = await renderAll(renderer, { ...spec, width: 32 }, 0, 1);
    const other = await encodeSegment([frame as Uint8Array], { ...spec, width: 32 });
    const out = join(dir, "mixed.mp4");
    await expect(concatSegments([segments[0] as Uint8Array, other], out)).rejects.toMatchObject({ name: "MediaArgumentError" });
    await expect(access(out)).rejects.toThrow();
  });
});
