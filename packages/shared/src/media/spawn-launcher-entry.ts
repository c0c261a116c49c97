// The spawn launcher: a small process that starts ffmpeg for a large one
// (spawn-launcher.ts says why). It listens on a Unix socket in a private
// directory; for each process its parent asks for (over IPC), the parent
// connects one socket per piped stdio stream and writes a 5-byte header on
// each (the request's id, u32 BE, and the stream's fd). Once it holds them
// all it spawns the program with those sockets as its stdin, stdout and
// stderr, closes its own copies, and says "spawned"; later "exit". No byte
// of a stream passes through this process: the parent writes nothing but
// the header until it hears "spawned", and this process closes its copy of
// each socket in the same turn of the event loop that spawns, so it reads
// nothing more from one.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LauncherReply, LauncherRequest } from "./spawn-launcher-protocol.js";

const HEADER = 5;

const send = (m: LauncherReply) => {
  process.send?.(m);
};

const dir = mkdtempSync(join(tmpdir(), "rendermesh-launcher-")); // mode 0700: only this user can connect
const path = join(dir, "s");

interface Pending {
  request?: Extract<LauncherRequest, { type: "spawn" }>;
  sockets: Map<number, Socket>;
}
const pending = new Map<number, Pending>();
const running = new Map<number, ChildProcess>();

const entry = (id: number) => {
  let p = pending.get(id);
  if (!p) pending.set(id, (p = { sockets: new Map() }));
  return p;
};

function trySpawn(id: number): void {
  const p = pending.get(id);
  const req = p?.request;
  if (!p || !req || p.sockets.size < req.fds.length) return;
  pending.delete(id);
  const stdio = [0, 1, 2].map((fd) => p.sockets.get(fd) ?? "ignore");
  let child: ChildProcess;
  try {
    child = spawn(req.file, req.args, { stdio, env: req.env, cwd: req.cwd, windowsHide: true });
  } catch (err) {
    for (const s of p.sockets.values()) s.destroy();
    send({ type: "error", id, message: (err as Error).message, code: (err as NodeJS.ErrnoException).code });
    return;
  }
  // The program has its own copies now; ours must go before this process reads from them.
  for (const s of p.sockets.values()) s.destroy();
  let started = false;
  child.once("spawn", () => {
    started = true;
    running.set(id, child);
    send({ type: "spawned", id, pid: child.pid! });
  });
  child.once("error", (err: NodeJS.ErrnoException) => {
    if (!started) send({ type: "error", id, message: err.message, code: err.code });
  });
  child.once("exit", (code, signal) => {
    running.delete(id);
    if (started) send({ type: "exit", id, code, signal });
  });
}

const server = createServer((socket) => {
  let header = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    header = Buffer.concat([header, chunk]);
    if (header.length < HEADER) return;
    socket.off("data", onData);
    socket.pause();
    if (header.length > HEADER) {
      // The parent breaks the protocol: nothing may follow the header before "spawned".
      socket.destroy();
      return;
    }
    const id = header.readUInt32BE(0);
    const fd = header[4]!;
    entry(id).sockets.set(fd, socket);
    trySpawn(id);
  };
  socket.on("data", onData);
  socket.on("error", () => socket.destroy());
});

process.on("message", (m: LauncherRequest) => {
  if (m.type === "spawn") {
    entry(m.id).request = m;
    trySpawn(m.id);
  } else if (m.type === "kill") {
    running.get(m.id)?.kill(m.signal);
  } else if (m.type === "forget") {
    // The parent gave up on a request before it spawned (aborted, or its sockets failed).
    const p = pending.get(m.id);
    pending.delete(m.id);
    for (const s of p?.sockets.values() ?? []) s.destroy();
  }
});

const shutdown = () => {
  for (const child of running.values()) child.kill("SIGKILL");
  server.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
};
// Without its parent there is no one to report to, nor anyone to read what the programs write.
process.on("disconnect", shutdown);
process.on("SIGTERM", shutdown);
// Ctrl-C reaches the whole process group: the parent decides what stops, and this process goes when it goes.
process.on("SIGINT", () => {});

server.listen(path, () => send({ type: "ready", path }));
