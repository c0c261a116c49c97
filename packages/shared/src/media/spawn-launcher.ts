import { fork, spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { workerEntry } from "../source-imports/worker-entry.js";
import type { LauncherReply, LauncherRequest } from "./spawn-launcher-protocol.js";

/**
 * What `runFfmpeg` needs of a started program; a `ChildProcess` is one.
 * `close` comes once the program has exited and its stdout and stderr have
 * ended, with its exit code (null when a signal ended it).
 */
export interface StartedProcess extends EventEmitter {
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals): boolean;
}

/**
 * Above this resident size a process starts its programs through the spawn
 * launcher. libuv starts a program with fork() on Linux, which copies the
 * parent's page tables: ~7 ms of CPU and ~15 ms of a blocked event loop per
 * GiB of resident memory on the machines this was measured on, for every
 * ffmpeg a provider encodes with or a client decodes with. A provider with
 * its models loaded is well over this, and one with a real video model at
 * 720p many times over; a small process spawns directly, since the launcher
 * itself costs one start (~50 ms, once).
 */
const LAUNCHER_MIN_RSS = 256 * 2 ** 20;

/** `RENDERMESH_SPAWN_LAUNCHER`: `0` never uses the launcher, `1` always does (Linux only); unset, it goes by `LAUNCHER_MIN_RSS`. */
const SPAWN_LAUNCHER_ENV = "RENDERMESH_SPAWN_LAUNCHER";

export interface StartProcessOptions {
  /** Pipe the program's stdin (else it is /dev/null). stdout and stderr are always piped. */
  stdin: boolean;
  /** `direct`: spawn from this process; `launcher`: through the launcher; default: by `SPAWN_LAUNCHER_ENV` and this process's size. */
  via?: "direct" | "launcher" | undefined;
}

/**
 * Starts `file` with `args`, resolving once it runs, with its stdio piped to
 * this process either way; rejects as `spawn` reports a program that cannot
 * start (the error's `code`, e.g. `ENOENT`). Chosen by size, a launcher
 * that fails (cannot start, or exits while starting the program) leaves
 * this program to start directly; asked for by `via`, it rejects.
 */
export async function startProcess(file: string, args: readonly string[], options: StartProcessOptions): Promise<StartedProcess> {
  const via = options.via ?? chooseVia();
  if (via === "direct") return startDirect(file, args, options.stdin);
  try {
    return await (await getLauncher()).start(file, args, options.stdin);
  } catch (err) {
    if (options.via === "launcher") throw err;
    return startDirect(file, args, options.stdin);
  }
}

function chooseVia(): "direct" | "launcher" {
  if (process.platform !== "linux") return "direct"; // macOS's libuv uses posix_spawn already; Windows has no fork
  const env = process.env[SPAWN_LAUNCHER_ENV];
  if (env === "0") return "direct";
  if (env === "1") return "launcher";
  return process.memoryUsage.rss() > LAUNCHER_MIN_RSS ? "launcher" : "direct";
}

function startDirect(file: string, args: readonly string[], stdin: boolean): Promise<StartedProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"], windowsHide: true });
    const onError = (err: Error) => reject(err);
    child.once("error", onError);
    child.once("spawn", () => {
      child.off("error", onError);
      resolve(child);
    });
  });
}

/** A program the launcher started: its stdio are sockets whose other ends it holds. */
class LaunchedProcess extends EventEmitter implements StartedProcess {
  readonly stdin: Socket | null;
  readonly stdout: Socket;
  readonly stderr: Socket;
  exitCode: number | null | undefined;
  readonly #sendKill: (signal: NodeJS.Signals) => void;
  #open = 2;
  #killed = false;

  constructor(stdin: Socket | null, stdout: Socket, stderr: Socket, sendKill: (signal: NodeJS.Signals) => void) {
    super();
    this.stdin = stdin;
    this.stdout = stdout;
    this.stderr = stderr;
    this.#sendKill = sendKill;
    const closed = () => {
      if (--this.#open === 0) this.#maybeClose();
    };
    stdout.once("close", closed);
    stderr.once("close", closed);
  }

  kill(signal: NodeJS.Signals = "SIGTERM"): boolean {
    if (this.exitCode !== undefined || this.#killed) return false;
    this.#killed = signal === "SIGKILL";
    this.#sendKill(signal);
    return true;
  }

  exited(code: number | null): void {
    this.exitCode = code;
    // As a ChildProcess does: nothing reads the program's stdin any more.
    this.stdin?.destroy();
    this.#maybeClose();
  }

  /** The launcher went away while the program ran: no exit code will come. */
  lost(err: Error): void {
    if (this.exitCode !== undefined) return;
    this.exitCode = null;
    for (const s of [this.stdin, this.stdout, this.stderr]) s?.destroy();
    this.emit("error", err);
  }

  #maybeClose(): void {
    // After the turn that resolved `start`: "spawned" and "exit" can arrive in one read of the IPC channel.
    if (this.#open === 0 && this.exitCode !== undefined) setImmediate(() => this.emit("close", this.exitCode));
  }
}

class Launcher {
  #nextId = 1;
  readonly #running = new Map<number, LaunchedProcess>();
  readonly #starting = new Map<number, { resolve: () => void; reject: (err: Error) => void; proc: LaunchedProcess }>();

  readonly child: ChildProcess;
  readonly path: string;

  constructor(child: ChildProcess, path: string) {
    this.child = child;
    this.path = path;
    child.on("message", (m: LauncherReply) => this.#onReply(m));
    child.once("exit", (code, signal) => {
      if (launcher && launcherChild === child) launcher = undefined;
      const err = new Error(`The spawn launcher (pid ${child.pid}) exited (${signal ?? code}); the next program starts a new one.`);
      for (const s of this.#starting.values()) s.reject(err);
      for (const p of this.#running.values()) p.lost(err);
      this.#starting.clear();
      this.#running.clear();
    });
  }

  /** Only while a program is starting or running does the IPC channel keep this process alive. */
  #updateRef(): void {
    if (this.#starting.size + this.#running.size > 0) this.child.channel?.ref();
    else this.child.channel?.unref();
  }

  #send(m: LauncherRequest): void {
    if (this.child.connected) this.child.send(m);
  }

  async start(file: string, args: readonly string[], stdin: boolean): Promise<StartedProcess> {
    const id = this.#nextId++;
    const fds = stdin ? [0, 1, 2] : [1, 2];
    const sockets = await Promise.all(fds.map((fd) => this.#connect(id, fd))).catch((err: unknown) => {
      this.#send({ type: "forget", id });
      throw err;
    });
    const [stdinSocket, stdout, stderr] = stdin ? sockets : [null, ...sockets];
    // Made now, not at "spawned": a program that exits at once may close its sockets before that message is read.
    const proc = new LaunchedProcess(stdinSocket ?? null, stdout!, stderr!, (signal) => this.#send({ type: "kill", id, signal }));
    return new Promise<LaunchedProcess>((resolve, reject) => {
      this.#starting.set(id, {
        resolve: () => resolve(proc),
        reject: (err) => {
          for (const s of sockets) s.destroy();
          reject(err);
        },
        proc,
      });
      this.#updateRef();
      this.#send({ type: "spawn", id, file, args: [...args], fds, env: process.env, cwd: process.cwd() });
    });
  }

  /** One socket of program `id`'s stdio: connected, and its header written (nothing else is, until "spawned"). */
  #connect(id: number, fd: number): Promise<Socket> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.path);
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        const header = Buffer.alloc(5);
        header.writeUInt32BE(id, 0);
        header[4] = fd;
        socket.write(header);
        resolve(socket);
      });
    });
  }

  #onReply(m: LauncherReply): void {
    if (m.type === "ready") return;
    if (m.type === "exit") {
      const p = this.#running.get(m.id);
      this.#running.delete(m.id);
      this.#updateRef();
      p?.exited(m.code);
      return;
    }
    const s = this.#starting.get(m.id);
    if (!s) return;
    this.#starting.delete(m.id);
    if (m.type === "error") {
      s.reject(Object.assign(new Error(m.message), { code: m.code }));
      this.#updateRef();
      return;
    }
    this.#running.set(m.id, s.proc);
    s.resolve();
  }
}

let launcher: Promise<Launcher> | undefined;
let launcherChild: ChildProcess | undefined;

/** This process's launcher, started on first use. */
function getLauncher(): Promise<Launcher> {
  launcher ??= openLauncher();
  const opening = launcher;
  opening.catch(() => {
    if (launcher === opening) launcher = undefined;
  });
  return opening;
}

function openLauncher(): Promise<Launcher> {
  const entry = workerEntry(import.meta.url, "spawn-launcher-entry");
  // Its own flags only: a parent's --cpu-prof or heap size is not the launcher's.
  const child = fork(fileURLToPath(entry.url), [], { execArgv: entry.execArgv ?? [], stdio: ["ignore", "ignore", "inherit", "ipc"] });
  launcherChild = child;
  child.unref();
  return new Promise<Launcher>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`The spawn launcher exited (${code}) before it was ready.`));
    child.once("error", reject);
    child.once("exit", onExit);
    child.once("message", (m: LauncherReply) => {
      child.off("error", reject);
      child.off("exit", onExit);
      if (m.type !== "ready") {
        child.kill();
        reject(new Error(`The spawn launcher said ${m.type} before it was ready.`));
        return;
      }
      const l = new Launcher(child, m.path);
      child.channel?.unref();
      resolve(l);
    });
  });
}

/** The running launcher's pid and socket path, if there is one (for tests and diagnostics). */
export async function spawnLauncherInfo(): Promise<{ pid: number; path: string } | undefined> {
  const l = await launcher?.catch(() => undefined);
  return l?.child.pid === undefined ? undefined : { pid: l.child.pid, path: l.path };
}

/** Stops this process's launcher (programs it started are killed); the next program through it starts a new one. */
export async function stopSpawnLauncher(): Promise<void> {
  const l = await launcher?.catch(() => undefined);
  launcher = undefined;
  if (!l || l.child.exitCode !== null || l.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => l.child.once("exit", () => resolve()));
  l.child.kill("SIGTERM");
  await exited;
}
