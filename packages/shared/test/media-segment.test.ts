import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  MediaArgumentError,
  decodeSegment,
  decodeSegmentFrames,
  encodeSegment,
  h264Level,
  probeSegment,
  runFfmpeg,
  withSegmentFile,
  type EncodeProgressEvent,
} from "../src/media/index.js";
import { createRenderer, defaultModel, psnr, type Renderer } from "../src/model/index.js";
import { renderAll, silentLogger, smallSpec } from "./model-fixtures.js";

const spec = smallSpec({ prompt: "a slow golden river", fps: 12 });
let renderer: Renderer;
let frames: Uint8Array[];
let mp4: Uint8Array;
beforeAll(async () => {
  renderer = await createRenderer({ model: defaultModel(), device: "cpu", logger: silentLogger });
  frames = await renderAll(renderer, spec, 12, 12);
  mp4 = await encodeSegment(frames, spec);
});
afterAll(async () => {
  await renderer.close();
});

describe("encodeSegment", () => {
  test("default: encodes an H.264 MP4 that probes to the right frame count, size, fps and duration", async () => {
    expect(Buffer.from(mp4.subarray(4, 8)).toString("latin1")).toBe("ftyp");
    const info = await probeSegment(mp4);
    expect(info).toMatchObject({
      frames: 12,
      width: 64,
      height: 64,
      fps: 12,
      durationSeconds: 1,
      codec: "h264",
      pixelFormat: "yuv420p",
      profile: "High",
    });
  });

  test("behavior: the same frames encode to the same bytes", async () => {
    const again = await encodeSegment(frames, spec);
    expect(Buffer.from(again).equals(Buffer.from(mp4))).toBe(true);
  });

  test("behavior: frames stream in from the renderer and report progress", async () => {
    const events: EncodeProgressEvent[] = [];
    const streamed = await encodeSegment(renderer.renderFrames({ spec, firstFrame: 12, frameCount: 12 }), {
      ...spec,
      onProgress: (e) => events.push(e),
    });
    expect(Buffer.from(streamed).equals(Buffer.from(mp4))).toBe(true);
    expect(events.map((e) => e.done)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  test("behavior: the first frame is the only keyframe", async () => {
    const keyframes = await withSegmentFile(mp4, async (path) => {
      const { stdout } = await runFfmpeg(
        [
          "-hide_banner",
          "-nostdin",
          "-skip_frame",
          "nokey",
          "-i",
          path,
          "-vsync",
          "passthrough",
          "-f",
          "rawvideo",
          "-pix_fmt",
          "rgb24",
          "pipe:1",
        ],
        {
          what: "decode keyframes",
        },
      );
      return stdout.length / (64 * 64 * 3);
    });
    expect(keyframes).toBe(1);
  });

  test("behavior: the H.264 level follows size and rate", () => {
    expect(h264Level(64, 64, 12)).toBe("3.0");
    expect(h264Level(1280, 720, 30)).toBe("3.1");
    expect(h264Level(1920, 1080, 30)).toBe("4.0");
    expect(h264Level(1920, 1080, 60)).toBe("4.2");
    expect(h264Level(2048, 2048, 60)).toBe("5.1");
  });

  test("error: a frame of the wrong size, odd dimensions or no frames are refused", async () => {
    await expect(encodeSegment([new Uint8Array(10)], spec)).rejects.toBeInstanceOf(MediaArgumentError);
    await expect(encodeSegment(frames, { ...spec, width: 63 })).rejects.toMatchObject({ name: "MediaArgumentError" });
    await expect(encodeSegment([], spec)).rejects.toBeInstanceOf(MediaArgumentError);
  });

  test("error: an aborted signal stops the encoder", async () => {
    const controller = new AbortController();
    async function* slow() {
      for (const f of frames) {
        yield f;
        controller.abort(new Error("cancelled"));
      }
    }
    await expect(encodeSegment(slow(), { ...spec, signal: controller.signal })).rejects.toThrow("cancelled");
  });
});

describe("decodeSegment", () => {
  test("default: decodes every frame at the right size, close to what was rendered", async () => {
    const decoded = await decodeSegment(mp4, { width: 64, height: 64 });
    expect(decoded).toHaveLength(12);
    for (const f of decoded) expect(f.length).toBe(64 * 64 * 3);
    const values = decoded.map((f, i) => psnr(f, frames[i] as Uint8Array));
    expect(Math.min(...values)).toBeGreaterThan(32);
  });

  test("behavior: decodeSegmentFrames streams frames and stops when the consumer fails", async () => {
    const seen: number[] = [];
    const info = await decodeSegmentFrames(mp4, {}, (_, index) => seen.push(index));
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(info).toMatchObject({ frames: 12, decodedFrames: 12, width: 64, height: 64 });
    const full = new Error("consumer is full");
    await expect(
      decodeSegmentFrames(mp4, {}, () => {
        throw full;
      }),
    ).rejects.toBe(full);
  });

  test("error: a segment of another size or garbage bytes are refused", async () => {
    await expect(decodeSegment(mp4, { width: 32, height: 32 })).rejects.toMatchObject({ name: "MediaDecodeError" });
    await expect(decodeSegment(new Uint8Array(1000).fill(7))).rejects.toMatchObject({ name: "MediaDecodeError" });
    await expect(probeSegment(mp4.subarray(0, 200))).rejects.toMatchObject({ name: "MediaDecodeError" });
  });
});
