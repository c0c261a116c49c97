// CPU time of the processes of a local network, from /proc (Linux), for the
// e2e benchmark's account of where a job's CPU went. Every process of the
// network runs on the same cores as the inference the ideal measures, so the
// CPU they used beside it bounds the figure on one machine whatever the
// scheduling: wall >= (CPU used) / cores, while the ideal is about
// (inference CPU) / cores.
import { readdirSync, readFileSync } from "node:fs";

/** /proc reports CPU in USER_HZ ticks, which Linux fixes at 100 for user space whatever the kernel's HZ. */
const TICKS_PER_SECOND = 100;

/** A process's CPU in seconds: its own (user + system) and its children's (those it has waited for; in `readTreeCpu`, its live descendants too). */
export interface ProcCpu {
  own: number;
  children: number;
}

/**
 * Parses the text of /proc/<pid>/stat. The command name (field 2) is in
 * parentheses and may itself hold spaces and parentheses, so the fields are
 * counted from the last ")".
 */
export function parseProcStat(text: string): ProcCpu {
  const close = text.lastIndexOf(")");
  if (close < 0) throw new Error(`not a /proc/<pid>/stat line: ${JSON.stringify(text.slice(0, 80))}`);
  // After ")": field 3 (state) is index 0, so utime (14), stime (15), cutime (16), cstime (17) are 11..14.
  const f = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  const tick = (i: number) => {
    const v = Number(f[i]);
    if (!Number.isFinite(v)) throw new Error(`/proc/<pid>/stat field ${i + 3} is not a number: ${JSON.stringify(f[i])}`);
    return v / TICKS_PER_SECOND;
  };
  return { own: tick(11) + tick(12), children: tick(13) + tick(14) };
}

/** The CPU of a live process, or undefined once it has gone (or where there is no /proc). */
export function readProcCpu(pid: number | "self"): ProcCpu | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** The pids of `root`'s live descendants (its children, theirs, ...), from every process's parent in /proc. */
export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue; // gone since the listing
    }
    const ppid = Number(text.slice(text.lastIndexOf(")") + 1).trim().split(/\s+/)[1]);
    const list = children.get(ppid) ?? [];
    list.push(Number(name));
    children.set(ppid, list);
  }
  const out: number[] = [];
  const stack = [...(children.get(root) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * The CPU of a process and of its live descendants (a spawn launcher and
 * the ffmpeg it has not reaped yet): a program's CPU moves into its
 * parent's `children` when the parent reaps it, so live processes and
 * reaped children together count each program once.
 */
export function readTreeCpu(root: number, descendants: readonly number[]): ProcCpu | undefined {
  const own = readProcCpu(root);
  if (!own) return undefined;
  let tree = 0;
  for (const pid of descendants) {
    const c = readProcCpu(pid);
    if (c) tree += c.own + c.children;
  }
  return { own: own.own, children: own.children + tree };
}

/** One reading: wall-clock time (ms since the epoch, as the coordinator's job events) and CPU-seconds so far. */
interface Reading extends ProcCpu {
  at: number;
}

/**
 * Reads the CPU of named processes (each with its descendants: the
 * programs it starts, and their launcher) every `intervalMs` while it runs, and
 * says how much each used between two instants (linear between readings;
 * before its first reading a process counts from that reading, after its
 * last one (it exited) up to that one).
 */
export class CpuSampler {
  readonly #series = new Map<string, { pid: number; readings: Reading[]; descendants: number[] }>();
  #samples = 0;
  readonly #timer: NodeJS.Timeout;

  constructor(pids: Record<string, number | undefined>, intervalMs = 50) {
    for (const [name, pid] of Object.entries(pids)) if (pid !== undefined) this.watch(name, pid);
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  /** Starts reading another process (a client spawned for a job). */
  watch(name: string, pid: number): void {
    this.#series.set(name, { pid, readings: [], descendants: descendantsOf(pid) });
    this.sample(name);
  }

  /** Takes a reading now (of one process, or of all). */
  sample(only?: string): void {
    const at = Date.now();
    // Long-lived descendants (a launcher) are found again now and then; short-lived ones end up in a parent's `children`.
    const refresh = only === undefined && ++this.#samples % 10 === 0;
    for (const [name, s] of this.#series) {
      if (only !== undefined && name !== only) continue;
      if (refresh) s.descendants = descendantsOf(s.pid);
      const c = readTreeCpu(s.pid, s.descendants);
      if (c) s.readings.push({ at, ...c });
    }
  }

  /** CPU-seconds each process (and its reaped children) used between `from` and `to` (ms since the epoch). */
  between(from: number, to: number): Record<string, ProcCpu> {
    const out: Record<string, ProcCpu> = {};
    for (const [name, s] of this.#series) {
      const used = (k: keyof ProcCpu) => Math.max(0, cpuAt(s.readings, to, k) - cpuAt(s.readings, from, k));
      out[name] = { own: used("own"), children: used("children") };
    }
    return out;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function cpuAt(readings: readonly Reading[], at: number, k: keyof ProcCpu): number {
  if (readings.length === 0) return 0;
  if (at <= readings[0]!.at) return readings[0]![k];
  for (let i = 1; i < readings.length; i++) {
    const b = readings[i]!;
    if (at <= b.at) {
      const a = readings[i - 1]!;
      return b.at === a.at ? b[k] : a[k] + ((b[k] - a[k]) * (at - a.at)) / (b.at - a.at);
    }
  }
  return readings[readings.length - 1]![k];
}
