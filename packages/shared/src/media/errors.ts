import { BaseError, type BaseErrorOptions } from "../errors.js";

/** No usable ffmpeg binary was found. */
export class FfmpegNotFoundError extends BaseError {
  override name = "FfmpegNotFoundError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("FFMPEG_NOT_FOUND", shortMessage, {
      hint: "Install ffmpeg with libx264 on PATH, set RENDERMESH_FFMPEG to its path, or reinstall dependencies so @ffmpeg-installer/ffmpeg ships its binary.",
      ...options,
    });
  }
}

/** ffmpeg ran but failed; `details` carry the command's last stderr lines. */
export class FfmpegError extends BaseError {
  override name = "FfmpegError";
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(shortMessage: string, options: BaseErrorOptions & { exitCode?: number | null; stderr?: string } = {}) {
    const stderr = options.stderr ?? "";
    const tail = stderr.trim().split("\n").slice(-8);
    super("FFMPEG_FAILED", shortMessage, {
      ...options,
      details: [
        ...(options.details ?? []),
        ...(options.exitCode === undefined ? [] : [`exit code: ${options.exitCode}`]),
        ...tail.map((l) => `ffmpeg: ${l}`),
      ],
      hint:
        options.hint ??
        (/Unknown encoder 'libx264'/.test(stderr)
          ? "This ffmpeg lacks libx264; set RENDERMESH_FFMPEG to one that has it (the bundled @ffmpeg-installer binary does)."
          : undefined),
    });
    this.exitCode = options.exitCode ?? null;
    this.stderr = stderr;
  }
}

/** Bad arguments to a media function (sizes, fps, frame length). */
export class MediaArgumentError extends BaseError {
  override name = "MediaArgumentError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("MEDIA_ARGUMENT", shortMessage, options);
  }
}

/** A segment is not a decodable H.264 MP4 of the expected shape. */
export class MediaDecodeError extends BaseError {
  override name = "MediaDecodeError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("MEDIA_DECODE", shortMessage, options);
  }
}
