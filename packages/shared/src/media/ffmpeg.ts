import { accessSync, constants, statSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import type { Writable } from "node:stream";
import { FfmpegError, FfmpegNotFoundError } from "./errors.js";
import { startProcess, type StartedProcess } from "./spawn-launcher.js";

/** Environment variable naming the ffmpeg binary to use. */
export const FFMPEG_ENV = "RENDERMESH_FFMPEG";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function findOnPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const exts = process.platform === "win32" ? (env.PATHEXT ?? ".EXE").split(";") : [""];
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = join(dir, name + ext);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

export interface ResolveFfmpegOptions {
  env?: NodeJS.ProcessEnv;
}

/**
 * The ffmpeg binary to run: `RENDERMESH_FFMPEG` if set, else `ffmpeg` on
 * PATH, else the binary shipped by `@ffmpeg-installer/ffmpeg`.
 *
 * @example
 * const ffmpeg = resolveFfmpeg(); // "/usr/bin/ffmpeg"
 */
export function resolveFfmpeg(options: ResolveFfmpegOptions = {}): string {
  const env = options.env ?? process.env;
  const fromEnv = env[FFMPEG_ENV];
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new FfmpegNotFoundError(`${FFMPEG_ENV} is set to ${fromEnv}, which is not an executable file.`);
    return fromEnv;
  }
  const onPath = findOnPath("ffmpeg", env);
  if (onPath) return onPath;
  try {
    const installer = createRequire(import.meta.url)("@ffmpeg-installer/ffmpeg") as { path: string };
    if (isExecutable(installer.path)) return installer.path;
    throw new Error(`${installer.path} is not executable`);
  } catch (cause) {
    throw new FfmpegNotFoundError(
      "No ffmpeg found: RENDERMESH_FFMPEG is unset, none is on PATH, and @ffmpeg-installer/ffmpeg has no binary for this platform.",
      {
        cause,
        details: [`platform: ${process.platform}-${process.arch}`, `installer: ${cause instanceof Error ? cause.message : String(cause)}`],
      },
    );
  }
}

export interface RunFfmpegOptions {
  ffmpeg?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Feeds stdin; ffmpeg's stdin is closed when it resolves. */
  input?: ((stdin: Writable) => Promise<void>) | undefined;
  /** Receives stdout chunks; without it stdout is collected and returned. */
  onStdout?: ((chunk: Buffer) => void) | undefined;
  /** What the command was doing, for error messages. */
  what: string;
}

export interface RunFfmpegResult {
  stdout: Buffer;
  stderr: string;
}

const STDERR_CAP = 64 * 1024;

/**
 * Runs ffmpeg with `args`, rejects with FfmpegError on a non-zero exit and
 * with the signal's reason on abort (the process is killed). A large
 * process starts it through its spawn launcher (`spawn-launcher.ts`).
 */
export function runFfmpeg(args: readonly string[], options: RunFfmpegOptions): Promise<RunFfmpegResult> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const binary = options.ffmpeg ?? resolveFfmpeg();
  return new Promise<RunFfmpegResult>((resolve, reject) => {
    const stdout: Buffer[] = [];
    let stderr = "";
    let settled = false;
    let inputError: unknown;
    let child: StartedProcess | undefined;
    const finish = (err: unknown, value?: RunFfmpegResult) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      if (err !== undefined) reject(err);
      else resolve(value as RunFfmpegResult);
    };
    const onAbort = () => {
      child?.kill("SIGKILL");
      finish(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const run = (started: StartedProcess) => {
      child = started;
      if (settled) {
        // Aborted while it started: stop it, and let its pipes drain and close so nothing of it keeps this process up.
        started.on("error", () => {});
        started.stdin?.destroy();
        started.stdout?.resume();
        started.stderr?.resume();
        started.kill("SIGKILL");
        return;
      }
      started.stdout?.on("data", (chunk: Buffer) => {
        if (!options.onStdout) {
          stdout.push(chunk);
          return;
        }
        try {
          options.onStdout(chunk);
        } catch (err) {
          // The consumer failed: stop ffmpeg and report the consumer's error.
          started.kill("SIGKILL");
          finish(err);
        }
      });
      started.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
        if (stderr.length > STDERR_CAP) stderr = stderr.slice(-STDERR_CAP);
      });
      started.on("error", (cause: Error) =>
        finish(new FfmpegError(`ffmpeg (${binary}) stopped before it could ${options.what}.`, { cause })),
      );
      started.on("close", (code: number | null) => {
        if (code === 0 && inputError === undefined) finish(undefined, { stdout: Buffer.concat(stdout), stderr });
        else if (code === 0 || (inputError !== undefined && !isPipeError(inputError))) finish(inputError);
        else finish(new FfmpegError(`ffmpeg failed to ${options.what}.`, { exitCode: code, stderr }));
      });
      if (options.input && started.stdin) {
        const stdin = started.stdin;
        stdin.on("error", () => {}); // EPIPE when ffmpeg exits early; its exit code tells why
        options.input(stdin).then(
          () => stdin.end(),
          (err: unknown) => {
            inputError = err;
            // The producer failed: stop ffmpeg, report the producer's error.
            started.kill("SIGKILL");
          },
        );
      }
    };
    startProcess(binary, args, { stdin: options.input !== undefined }).then(run, (cause: unknown) =>
      finish(new FfmpegError(`Cannot start ffmpeg (${binary}) to ${options.what}.`, { cause })),
    );
  });
}

function isPipeError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  // ECONNRESET: ffmpeg's stdin is a socket when the launcher started it.
  return code === "EPIPE" || code === "ECONNRESET" || code === "ERR_STREAM_DESTROYED" || code === "ERR_STREAM_WRITE_AFTER_END";
}

/** Writes a chunk, waiting for the pipe to drain when it is full. */
export function writeChunk(stream: Writable, chunk: Uint8Array): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (stream.destroyed || stream.writableEnded) {
      reject(Object.assign(new Error("ffmpeg's stdin is closed"), { code: "ERR_STREAM_DESTROYED" }));
      return;
    }
    const onError = (err: Error) => {
      stream.off("drain", onDrain);
      stream.off("close", onClose);
      reject(err);
    };
    const onClose = () => onError(Object.assign(new Error("ffmpeg's stdin closed"), { code: "ERR_STREAM_DESTROYED" }));
    const onDrain = () => {
      stream.off("error", onError);
      stream.off("close", onClose);
      resolve();
    };
    if (stream.write(chunk)) {
      resolve();
      return;
    }
    stream.once("drain", onDrain);
    stream.once("error", onError);
    stream.once("close", onClose);
  });
}

/** Runs `fn` with a fresh temporary directory and always removes it. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "rendermesh-media-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
