import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { FfmpegError, FfmpegNotFoundError, resolveFfmpeg, runFfmpeg } from "../src/media/index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rendermesh-ffmpeg-test-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fakeBinary(name: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, "#!/bin/sh\nexit 0\n");
  await chmod(path, 0o755);
  return path;
}

describe("resolveFfmpeg", () => {
  test("default: RENDERMESH_FFMPEG wins over PATH", async () => {
    const chosen = await fakeBinary("my-ffmpeg");
    await fakeBinary("ffmpeg");
    expect(resolveFfmpeg({ env: { RENDERMESH_FFMPEG: chosen, PATH: dir } })).toBe(chosen);
  });

  test("behavior: an ffmpeg on PATH is used next", async () => {
    const onPath = await fakeBinary("ffmpeg");
    expect(resolveFfmpeg({ env: { PATH: `/nonexistent:${dir}` } })).toBe(onPath);
  });

  test("behavior: without either, the @ffmpeg-installer binary runs and has libx264", async () => {
    const bundled = resolveFfmpeg({ env: { PATH: "" } });
    expect(bundled).toContain("@ffmpeg-installer");
    const { stdout } = await runFfmpeg(["-hide_banner", "-encoders"], { ffmpeg: bundled, what: "list encoders" });
    expect(stdout.toString()).toContain("libx264");
  });

  test("error: RENDERMESH_FFMPEG naming no executable is refused", () => {
    expect(() => resolveFfmpeg({ env: { RENDERMESH_FFMPEG: join(dir, "missing") } })).toThrow(FfmpegNotFoundError);
  });
});

describe("runFfmpeg", () => {
  test("error: a failing command is an FfmpegError with the exit code and stderr", async () => {
    const err = await runFfmpeg(["-hide_banner", "-i", join(dir, "missing.mp4"), "-f", "null", "-"], { what: "read a missing file" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FfmpegError);
    expect((err as FfmpegError).exitCode).not.toBe(0);
    expect((err as FfmpegError).stderr).toContain("No such file");
  });
});
