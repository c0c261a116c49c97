// The spawn launcher (src/media/spawn-launcher.ts): programs started
// through it behave as ones spawned directly (stdio, exit codes, errors,
// kill), it is their parent rather than this process, and it goes when
// this process goes. Real processes and sockets throughout.
import { fork } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { connect } from "node:net";
import { dirname } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { encodeSegment, runFfmpeg } from "../src/media/index.js";
import { spawnLauncherInfo, startProcess, stopSpawnLauncher, type StartedProcess } from "../src/media/spawn-launcher.js";

/** Runs a started program to its end: what it wrote and its exit code. */
async function collect(p: StartedProcess, input?: Uint8Array): Promise<{ stdout: Buffer; stderr: string; code: number | null }> {
  const out: Buffer[] = [];
  let stderr = "";
  p.stdout!.on("data", (d: Buffer) => out.push(d));
  p.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  p.stdin?.on("error", () => {});
  if (p.stdin) p.stdin.end(input);
  const [code] = (await once(p, "close")) as [number | null];
  return { stdout: Buffer.concat(out), stderr, code };
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

afterAll(() => stopSpawnLauncher());

describe.runIf(process.platform === "linux")("spawn launcher", () => {
  test("default: a program started through it is its child, with stdin, stdout, stderr and exit code as a direct spawn gives", async () => {
    const script = 'echo "$PPID"; wc -c; echo oops >&2; exit 3';
    const input = new Uint8Array(300_000).fill(7);
    const launched = await collect(await startProcess("/bin/sh", ["-c", script], { stdin: true, via: "launcher" }), input);
    const direct = await collect(await startProcess("/bin/sh", ["-c", script], { stdin: true, via: "direct" }), input);
    const info = await spawnLauncherInfo();
    expect(info).toBeDefined();
    const [launchedParent, launchedCount] = launched.stdout.toString().trim().split("\n");
    const [directParent, directCount] = direct.stdout.toString().trim().split("\n");
    expect(Number(launchedParent)).toBe(info!.pid);
    expect(Number(directParent)).toBe(process.pid);
    expect(launchedCount!.trim()).toBe("300000");
    expect(directCount!.trim()).toBe("300000");
    expect(launched.stderr).toBe("oops\n");
    expect(launched.code).toBe(3);
    expect(direct.code).toBe(3);
  });

  test("behavior: megabytes through stdin and back out of stdout arrive whole, several programs at once", async () => {
    const input = new Uint8Array(8 * 2 ** 20);
    for (let i = 0; i < input.length; i++) input[i] = (i * 2654435761) >>> 24;
    const runs = await Promise.all(
      [0, 1, 2].map(async () => collect(await startProcess("/bin/cat", [], { stdin: true, via: "launcher" }), input)),
    );
    for (const r of runs) {
      expect(r.code).toBe(0);
      expect(r.stdout.length).toBe(input.length);
      expect(sha(r.stdout)).toBe(sha(input));
    }
  });

  test("behavior: ffmpeg through the launcher encodes the same segment, byte for byte, as ffmpeg spawned directly", async () => {
    const frames = Array.from({ length: 8 }, (_, f) => new Uint8Array(64 * 64 * 3).map((_, i) => (i * 7 + f * 31) % 256));
    const encode = async (via: string) => {
      const before = process.env.RENDERMESH_SPAWN_LAUNCHER;
      process.env.RENDERMESH_SPAWN_LAUNCHER = via;
      try {
        return await encodeSegment(frames, { width: 64, height: 64, fps: 8 });
      } finally {
        if (before === undefined) delete process.env.RENDERMESH_SPAWN_LAUNCHER;
        else process.env.RENDERMESH_SPAWN_LAUNCHER = before;
      }
    };
    const launched = await encode("1");
    const direct = await encode("0");
    expect(launched.byteLength).toBeGreaterThan(1000);
    expect(sha(launched)).toBe(sha(direct));
  });

  test("error: runFfmpeg aborted while ffmpeg starts through the launcher rejects with the reason, and the next run works", async () => {
    const before = process.env.RENDERMESH_SPAWN_LAUNCHER;
    process.env.RENDERMESH_SPAWN_LAUNCHER = "1";
    try {
      const controller = new AbortController();
      // Real time, so it would run for 30 s if not stopped.
      const long = runFfmpeg(["-hide_banner", "-re", "-f", "lavfi", "-i", "color=c=red:s=64x64:d=30", "-f", "null", "-"], {
        signal: controller.signal,
        what: "run for 30 s",
      });
      controller.abort(new Error("stopped by the test"));
      await expect(long).rejects.toThrow("stopped by the test");
      const { stderr } = await runFfmpeg(["-hide_banner", "-f", "lavfi", "-i", "color=c=red:s=64x64:d=0.25", "-f", "null", "-"], {
        what: "run briefly",
      });
      expect(typeof stderr).toBe("string");
    } finally {
      if (before === undefined) delete process.env.RENDERMESH_SPAWN_LAUNCHER;
      else process.env.RENDERMESH_SPAWN_LAUNCHER = before;
    }
  });

  test("error: a program that does not exist rejects as spawn does (ENOENT), and the launcher starts the next one", async () => {
    await expect(startProcess("/nonexistent/rendermesh-test", [], { stdin: false, via: "launcher" })).rejects.toMatchObject({
      code: "ENOENT",
    });
    const next = await collect(await startProcess("/bin/sh", ["-c", "exit 0"], { stdin: false, via: "launcher" }));
    expect(next.code).toBe(0);
  });

  test("behavior: kill ends a program it started, and close says no exit code", async () => {
    const p = await startProcess("/bin/cat", [], { stdin: true, via: "launcher" });
    const closed = once(p, "close");
    expect(p.kill("SIGKILL")).toBe(true);
    expect(await closed).toEqual([null]);
  });

  test("error: the launcher dying fails the programs it ran, and the next program starts a new launcher", async () => {
    const p = await startProcess("/bin/cat", [], { stdin: true, via: "launcher" });
    const first = (await spawnLauncherInfo())!;
    const failed = once(p, "error");
    process.kill(first.pid, "SIGKILL");
    const [err] = (await failed) as [Error];
    expect(err.message).toMatch(/spawn launcher \(pid \d+\) exited .*the next program starts a new one/);
    const next = await collect(await startProcess("/bin/sh", ["-c", "exit 5"], { stdin: false, via: "launcher" }));
    expect(next.code).toBe(5);
    expect((await spawnLauncherInfo())!.pid).not.toBe(first.pid);
  });

  test("behavior: the launcher exits when the process it serves exits", async () => {
    const register = new URL("../src/source-imports/register.ts", import.meta.url).href;
    const parent = fork(new URL("./fixtures/launcher-parent.ts", import.meta.url), [], { execArgv: ["--import", register] });
    const [{ launcher }] = (await once(parent, "message")) as [{ launcher: { pid: number; path: string } }];
    // A connection to the launcher's socket closes when the launcher's process ends, whatever ends it.
    const watch = connect(launcher.path);
    await once(watch, "connect");
    const launcherGone = once(watch, "close");
    parent.send("exit");
    await once(parent, "exit");
    await launcherGone;
    // It removed its socket's directory on the way out (before the exit that closed the connection).
    expect(existsSync(dirname(launcher.path))).toBe(false);
  });
});
