// Fault trials against real processes: the local network (Hardhat node,
// coordinator, two provider nodes) with the real `rendermesh` CLI, where one
// process is SIGKILLed (or the chain SIGSTOPped) at a known point of a job
// and started again. Each trial asserts that the job completes with its
// video, that every provider is paid exactly for the segments the client
// verified from it, and that the deposit is conserved to the unit.
//
// Kill points are events, never times: a line the CLI prints, a file the
// gated provider writes when a render reaches its gate (renders wait there
// until the test opens it), a log line of a provider or the coordinator.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, rmSync, watch, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { OutputWatcher } from "@rendermesh/testing";
import { probeSegment } from "@rendermesh/shared/media";
import { repoRoot, startDevNetwork, type RunningDevNetwork } from "../scripts/lib/devnet.ts";
import { CLI, chain, readManifest, removeTempDirs, tempDir, type ManifestLite } from "./helpers/network.ts";

let net: RunningDevNetwork;
let gate: string;
const watchers = new Map<string, OutputWatcher>();

beforeAll(async () => {
  const dir = tempDir("faults");
  gate = join(dir, "gate");
  mkdirSync(gate, { recursive: true });
  writeFileSync(join(gate, "open"), "");
  net = await startDevNetwork({
    dir,
    providers: 2,
    log: () => {},
    providerScript: () => join(repoRoot, "test", "fixtures", "gated-provider.ts"),
    providerEnv: () => ({ RENDERMESH_TEST_GATE: gate }),
  });
  for (const p of net.processes)
    if (p.name.startsWith("provider-")) watchers.set(p.name, new OutputWatcher(p.child.stdout, p.child.stderr));
});

afterAll(async () => {
  await net?.stop();
  removeTempDirs();
});

const lower = (s: string) => s.toLowerCase();
/** The dev coordinator's liveness window: 3 heartbeats of 5 s. */
const LIVENESS_MS = 15_000;

type LogLine = { msg?: string; time?: number; [k: string]: unknown };
/** A child's JSON log lines as they come, with a wait on a condition over all of them (checked on each chunk). */
function lines(child: ChildProcess) {
  let text = "";
  const waiters = new Set<() => void>();
  const parse = (): LogLine[] =>
    text
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as LogLine];
        } catch {
          return [];
        }
      });
  const onData = (d: Buffer) => {
    text += d.toString();
    for (const w of [...waiters]) w();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  return {
    all: parse,
    until: (done: (all: LogLine[]) => boolean) =>
      new Promise<void>((resolve) => {
        const check = () => {
          if (!done(parse())) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
    stop: () => {
      child.stdout?.off("data", onData);
      child.stderr?.off("data", onData);
    },
  };
}
const closeGate = () => rmSync(join(gate, "open"), { force: true });
const openGate = () => writeFileSync(join(gate, "open"), "");

/** Resolves once one of `names` exists in `dir` (now or later), by watching the directory. */
function fileAppears(dir: string, ...names: string[]): Promise<void> {
  return new Promise((resolve) => {
    const there = () => names.some((n) => existsSync(join(dir, n)));
    const w = watch(dir, () => {
      if (!there()) return;
      w.close();
      resolve();
    });
    if (there()) {
      w.close();
      resolve();
    }
  });
}

/** The CLI as a user runs it, with its output watchable line by line and a hook on each stdout chunk. */
function startCli(args: string[], onStdout?: (chunk: string) => void) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: repoRoot,
    env: { ...process.env, RENDERMESH_DEV_FILE: net.file, NO_COLOR: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => {
    stdout += d.toString();
    onStdout?.(d.toString());
    out.write(d);
  });
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    err.write(d);
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on("close", (code, signal) => {
      out.end();
      err.end();
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, watcher: new OutputWatcher(out, err), done };
}

const submitArgs = (seed: number, out: string) => [
  "job",
  "submit",
  "--prompt",
  "a slow green tide",
  "--seconds",
  "2",
  "--fps",
  "4",
  "--size",
  "64x64",
  "--seed",
  String(seed),
  "--out",
  out,
];

/** Balances that a job moves: the client's tokens, and escrow balances of providers, coordinator and treasury. */
async function balances() {
  const { escrow, token, policy, provider } = chain(net.dev);
  const treasury = (await policy.getFunction("treasury")()) as string;
  const escrowOf = async (a: string) => (await escrow.getFunction("balanceOf")(a)) as bigint;
  const snapshot = {
    client: (await token.getFunction("balanceOf")(net.dev.accounts.client.address)) as bigint,
    coordinator: await escrowOf(net.dev.coordinator.address),
    treasury: await escrowOf(treasury),
    providers: new Map<string, bigint>(),
  };
  for (const p of net.dev.providers) snapshot.providers.set(lower(p.address), await escrowOf(p.address));
  provider.destroy();
  return snapshot;
}

/** The job completed with its video, each provider got exactly its verified seconds, and no token was made or lost. */
async function expectPaidExactly(out: string, before: Awaited<ReturnType<typeof balances>>): Promise<ManifestLite> {
  const { dir, manifest } = readManifest(out);
  expect(manifest.status).toBe("settled");
  expect(manifest.segments.map((s) => s.segment).sort((a, b) => a - b)).toEqual([0, 1]);
  const info = await probeSegment(join(dir, "video.mp4"));
  expect(info).toMatchObject({ frames: 8, width: 64, height: 64 });

  const after = await balances();
  const p = manifest.payments;
  const paid = p.providers.reduce((a, x) => a + BigInt(x.amount), 0n);
  expect(paid + BigInt(p.coordinatorFee) + BigInt(p.treasuryFee) + BigInt(p.refund)).toBe(BigInt(p.deposit));
  for (const prov of net.dev.providers) {
    const a = lower(prov.address);
    const verified = manifest.segments.filter((s) => lower(s.provider) === a).length;
    const row = p.providers.find((x) => lower(x.provider) === a);
    expect(row?.seconds ?? 0).toBe(verified);
    expect(after.providers.get(a)! - before.providers.get(a)!).toBe(BigInt(row?.amount ?? 0));
  }
  expect(after.coordinator - before.coordinator).toBe(BigInt(p.coordinatorFee));
  expect(after.treasury - before.treasury).toBe(BigInt(p.treasuryFee));
  expect(before.client - after.client).toBe(BigInt(p.deposit) - BigInt(p.refund));
  return manifest;
}

describe("fault trials", () => {
  test("behavior: the coordinator SIGKILLed before the job reaches it (while the client opens the escrow) takes the job once restarted", async () => {
    openGate();
    const before = await balances();
    const out = tempDir("out");
    const coordinator = () => net.processes.find((p) => p.name === "coordinator")!.child;
    let killed = false;
    const cli = startCli(submitArgs(301, out), (chunk) => {
      // Killed the moment the client starts opening the escrow: the submit that follows finds no coordinator.
      if (!killed && chunk.includes("Opening the escrow")) {
        killed = true;
        coordinator().kill("SIGKILL");
      }
    });
    await cli.watcher.waitFor(/job stream broke; reconnecting/);
    await net.restart("coordinator");
    const r = await cli.done;
    expect(r.code, r.stderr).toBe(0);
    await expectPaidExactly(out, before);
  });

  test("behavior: the coordinator SIGKILLed with renders in flight, which finish while it is down, resumes them after its restart without rendering them again", async () => {
    closeGate();
    const before = await balances();
    const out = tempDir("out");
    const seed = 302;
    const cli = startCli(submitArgs(seed, out));
    const [, jobId] = await cli.watcher.waitFor(/Job (0x[0-9a-f]{64}) opened/);
    // A segment reached its provider's gate (the other renders beside it or waits in a queue): the renders are in flight.
    await fileAppears(gate, `held-${seed}-0`, `held-${seed}-4`);
    await net.kill("coordinator");
    openGate();
    // The renders finish, and are journalled, while no coordinator listens.
    const delivered = (segment: number) =>
      Promise.any(
        [...watchers.values()].map((w) => w.waitFor(new RegExp(`"job":"${jobId}","segment":${segment},.*"msg":"segment delivered"`, "i"))),
      );
    await Promise.all([delivered(0), delivered(1)]);
    await net.restart("coordinator");
    const r = await cli.done;
    expect(r.code, r.stderr).toBe(0);
    await expectPaidExactly(out, before);
    // Resumed, not rendered again: every segment was rendered by one assignment only.
    for (const w of watchers.values()) {
      const rendered = w.text
        .split("\n")
        .filter((l) => new RegExp(`"job":"${jobId}"`, "i").test(l) && l.includes('"msg":"segment delivered"'));
      expect(rendered.length).toBeLessThanOrEqual(2);
    }
    const all = [...watchers.values()]
      .flatMap((w) => w.text.split("\n"))
      .filter((l) => new RegExp(`"job":"${jobId}"`, "i").test(l) && l.includes('"msg":"segment delivered"'));
    expect(
      all.length,
      [...watchers.values()]
        .map((w) =>
          w.text
            .split("\n")
            .filter((l) => new RegExp(`"job":"${jobId}"`, "i").test(l))
            .map((l) => l.slice(0, 400))
            .join("\n"),
        )
        .join("\n----\n"),
    ).toBe(2);
  });

  test("behavior: the coordinator SIGKILLed with the client's verdicts pending hears them after its restart (resent from the client's journal) and the job completes", async () => {
    openGate();
    const before = await balances();
    const out = tempDir("out");
    const coordinator = () => net.processes.find((p) => p.name === "coordinator")!.child;
    let killed = false;
    const cli = startCli(submitArgs(303, out), (chunk) => {
      // Killed the moment the client hears of a delivery: its verdict on it cannot reach this coordinator.
      if (!killed && /segment \d: delivered by/.test(chunk)) {
        killed = true;
        coordinator().kill("SIGKILL");
      }
    });
    const [, segment] = await cli.watcher.waitFor(/^segment (\d): delivered by/);
    await cli.watcher.waitFor(new RegExp(`^segment ${segment}: verified`));
    await net.restart("coordinator");
    const r = await cli.done;
    expect(r.code, r.stderr).toBe(0);
    await expectPaidExactly(out, before);
  });

  test("behavior: the client SIGKILLed after a verified segment finishes the job with `job resume`, paying nobody twice", async () => {
    openGate();
    const before = await balances();
    const out = tempDir("out");
    const cli = startCli(submitArgs(304, out));
    const [, jobId] = await cli.watcher.waitFor(/Job (0x[0-9a-f]{64}) opened/);
    await cli.watcher.waitFor(/^segment \d: verified/);
    cli.child.kill("SIGKILL");
    await cli.done;
    const resumed = startCli(["job", "resume", jobId!, "--json"]);
    const r = await resumed.done;
    expect(r.code, r.stderr).toBe(0);
    // Exactly one JSON document on stdout, whatever was logged (on stderr).
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, status: "settled" });
    await expectPaidExactly(out, before);
  });

  test("behavior: a chain stalled (the Hardhat node SIGSTOPped) mid-job past the coordinator's liveness window keeps every provider, and the job completes once it runs again", async () => {
    openGate();
    const before = await balances();
    const out = tempDir("out");
    const hardhat = () => net.processes.find((p) => p.name === "hardhat-node")!.child;
    const coordinator = net.processes.find((p) => p.name === "coordinator")!.child;
    const coordinatorLog = lines(coordinator);
    let stopped = false;
    const cli = startCli(submitArgs(305, out), (chunk) => {
      if (!stopped && /segment \d: delivered by/.test(chunk)) {
        stopped = true;
        hardhat().kill("SIGSTOP");
      }
    });
    // The client verifies without the chain.
    await cli.watcher.waitFor(/^segment \d: verified/);
    // The stall outlasts the providers' on-chain bindings and then a whole liveness window (3 heartbeats): each
    // provider's announcements, which the coordinator cannot check against the chain, keep it on its last known
    // binding across that window. Before, the coordinator dropped them all as "stopped announcing".
    const kept = "the chain does not answer; keeping the provider on its last known on-chain binding";
    await coordinatorLog.until((all) =>
      net.dev.providers.every((p) => {
        const times = all.filter((l) => l.msg === kept && lower(String(l.provider)) === lower(p.address)).map((l) => Number(l.time));
        return times.length > 0 && Math.max(...times) - Math.min(...times) >= LIVENESS_MS;
      }),
    );
    hardhat().kill("SIGCONT");
    const r = await cli.done;
    expect(r.code, r.stderr).toBe(0);
    await expectPaidExactly(out, before);
    coordinatorLog.stop();
    expect(coordinatorLog.all().filter((l) => l.msg === "provider stopped announcing")).toEqual([]);
    // Both still live at the coordinator.
    const { providers } = (await (await fetch(`${net.dev.coordinator.httpUrl}/api/providers`)).json()) as {
      providers: Array<{ address: string; live: boolean }>;
    };
    for (const p of net.dev.providers) expect(providers.find((x) => lower(x.address) === lower(p.address))?.live).toBe(true);
  });

  test("behavior: a provider SIGKILLed with a segment in flight and started again on its data dir gives the segment back; the job completes, each party paid exactly what was verified", async () => {
    closeGate();
    const before = await balances();
    const out = tempDir("out");
    const cli = startCli(submitArgs(306, out));
    const [, jobId] = await cli.watcher.waitFor(/Job (0x[0-9a-f]{64}) opened/);
    // The kill point: a provider accepted (and journalled) a segment of this job, which waits at the closed gate.
    const accepted = new RegExp(`"job":"${jobId}","segment":(\\d+),.*"msg":"assignment accepted"`, "i");
    const victim = await Promise.any([...watchers].map(([name, w]) => w.waitFor(accepted).then(() => name)));
    await net.kill(victim);
    openGate();
    const restarted = await net.restart(victim);
    const watcher = new OutputWatcher(restarted.child.stdout, restarted.child.stderr);
    watchers.set(victim, watcher);
    // On its data dir it gives back what the kill cut off, and serves again.
    await watcher.waitFor(/gave back segments interrupted by the last shutdown/);
    await watcher.waitFor(/"msg":"provider started"/);
    const r = await cli.done;
    expect(r.code, r.stderr).toBe(0);
    await expectPaidExactly(out, before);
  });
});
