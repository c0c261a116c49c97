/**
 * The one set of H.264 parameters every provider encodes with. Segments of a
 * job then share SPS/PPS and timescale, so the client joins them with the
 * concat demuxer and `-c copy`, without re-encoding.
 */
export const H264 = Object.freeze({
  encoder: "libx264",
  preset: "medium",
  crf: 18,
  profile: "high",
  pixelFormat: "yuv420p",
  /** x264 threads: fixed, because the bitstream depends on the thread count. */
  threads: 1,
  /** One IDR at the start, no scene-cut keyframes, no B-frames (so no reordering across segment joins). */
  x264Params: "keyint=infinite:min-keyint=1:scenecut=0:open-gop=0:bframes=0",
  colour: "bt709",
  /** swscale flags: bit-exact, accurate rounding, full chroma interpolation. */
  swsFlags: "bitexact+accurate_rnd+full_chroma_int",
  /** Track timescale per fps: 1000 ticks per frame. */
  ticksPerFrame: 1000,
});

/** [level, MaxFS (macroblocks per frame), MaxMBPS (macroblocks per second)] from H.264 Table A-1. */
const LEVELS: readonly (readonly [string, number, number])[] = [
  ["3.0", 1620, 40500],
  ["3.1", 3600, 108000],
  ["3.2", 5120, 216000],
  ["4.0", 8192, 245760],
  ["4.2", 8704, 522240],
  ["5.0", 22080, 589824],
  ["5.1", 36864, 983040],
  ["5.2", 36864, 2073600],
  ["6.0", 139264, 4177920],
  ["6.1", 139264, 8355840],
  ["6.2", 139264, 16711680],
];

/** The lowest H.264 level (3.0 or above) whose frame size and macroblock rate fit `width × height @ fps`. */
export function h264Level(width: number, height: number, fps: number): string {
  const mbW = Math.ceil(width / 16);
  const mbH = Math.ceil(height / 16);
  const frameMbs = mbW * mbH;
  for (const [level, maxFs, maxMbps] of LEVELS) {
    const maxSide = Math.sqrt(maxFs * 8);
    if (frameMbs <= maxFs && mbW <= maxSide && mbH <= maxSide && frameMbs * fps <= maxMbps) return level;
  }
  return "6.2";
}
