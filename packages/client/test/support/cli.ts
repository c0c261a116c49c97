import { spawn } from "node:child_process";
import { tsNodeArgs } from "@rendermesh/testing";
import { Writable } from "node:stream";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/index.js";

class Capture extends Writable {
  text = "";
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in this process with `env` merged into process.env for the call. */
export async function runCli(argv: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  const stdout = new Capture();
  const stderr = new Capture();
  try {
    const code = await main(argv, { stdout: stdout as unknown as NodeJS.WriteStream, stderr: stderr as unknown as NodeJS.WriteStream });
    return { code, stdout: stdout.text, stderr: stderr.text };
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const here = dirname(fileURLToPath(import.meta.url));

/** The CLI in a child process, from source (so it can be killed like a real one). */
export function spawnCli(argv: string[], opts: { env: Record<string, string>; cwd: string }) {
  const child = spawn(process.execPath, [...tsNodeArgs(), join(here, "cli-entry.ts"), ...argv], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  const lineWaiters: Array<{ re: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    for (const w of [...lineWaiters]) {
      const m = stdout.match(w.re);
      if (m) {
        lineWaiters.splice(lineWaiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  });
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<CliResult>((resolve) =>
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 + 9 : 1), stdout, stderr })),
  );
  return {
    child,
    exited,
    /** Resolves when stdout matches `re`. */
    waitFor(re: RegExp): Promise<RegExpMatchArray> {
      const m = stdout.match(re);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        lineWaiters.push({ re, resolve });
        void exited.then((r) => reject(new Error(`the CLI exited (${r.code}) before printing ${re}:\n${r.stdout}\n${r.stderr}`)));
      });
    },
  };
}
