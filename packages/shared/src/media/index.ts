/**
 * Video media with ffmpeg: find the binary, encode rendered frames into
 * H.264 MP4 segments with one fixed parameter set, probe and decode them for
 * verification, and join segments without re-encoding.
 */
export { resolveFfmpeg, runFfmpeg, FFMPEG_ENV } from "./ffmpeg.js";
export type { ResolveFfmpegOptions, RunFfmpegOptions, RunFfmpegResult } from "./ffmpeg.js";
export { encodeSegment, encodeArgs } from "./encode.js";
export type { EncodeFrameEvent, EncodeProgressEvent, EncodeSegmentOptions } from "./encode.js";
export { decodeSampled, decodeSegment, decodeSegmentFrames, decodeArgs } from "./decode.js";
export type { DecodeSampledOptions, DecodeSegmentOptions } from "./decode.js";
export { probeSegment, withSegmentFile } from "./probe.js";
export type { ProbeSegmentOptions, SegmentInfo, SegmentInput } from "./probe.js";
export { concatSegments } from "./concat.js";
export type { ConcatSegmentsOptions } from "./concat.js";
export { H264, h264Level } from "./h264.js";
export { FfmpegError, FfmpegNotFoundError, MediaArgumentError, MediaDecodeError } from "./errors.js";
