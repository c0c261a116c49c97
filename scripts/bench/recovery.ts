// Recovery after a coordinator restart, on the local network: the
// coordinator is SIGKILLed while renders are held in flight (at the gated
// provider's gate), the renders finish while it is down, and it is started
// again on its data dir. The figure is the time from the coordinator
// answering again (its status API) to the job moving on: the first segment
// resumed (delivered from a provider's journal) or reassigned after it.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, watch, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, startDevNetwork } from "../lib/devnet.ts";
import type { BenchResult } from "./types.ts";

/** Resolves once a file whose name passes `test` is written in `dir`. */
function someFile(dir: string, test: (name: string) => boolean): Promise<void> {
  return new Promise((resolve) => {
    const w = watch(dir, (_e, name) => {
      if (!name || !test(name)) return;
      w.close();
      resolve();
    });
  });
}

export async function run(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "rm-bench-recovery-"));
  const gate = join(dir, "gate");
  mkdirSync(gate, { recursive: true });
  const net = await startDevNetwork({
    dir: join(dir, "net"),
    providers: 2,
    log: () => {},
    providerScript: () => join(repoRoot, "test", "fixtures", "gated-provider.ts"),
    providerEnv: () => ({ RENDERMESH_TEST_GATE: gate }),
  });
  try {
    const seed = 4242;
    const held = someFile(gate, (n) => n.startsWith(`held-${seed}-`));
    const done = new Promise<number>((resolve) => {
      const child = spawn(
        process.execPath,
        [join(repoRoot, "packages/client/bin/rendermesh.js"), "job", "submit", "--prompt", "a slow green tide", "--seconds", "4", "--fps", "4", "--size", "64x64", "--seed", String(seed), "--out", join(dir, "out")],
        { env: { ...process.env, RENDERMESH_DEV_FILE: net.file }, stdio: "ignore" },
      );
      child.on("exit", (c) => resolve(c ?? 1));
    });
    await held;
    await net.kill("coordinator");
    writeFileSync(join(gate, "open"), "");
    await net.restart("coordinator");
    const answeredAt = Date.now();
    const code = await done;
    if (code !== 0) throw new Error(`the job failed (exit ${code}); logs in ${dir}/net/logs`);
    const http = net.dev.coordinator.httpUrl;
    const { jobs } = (await (await fetch(`${http}/api/jobs`)).json()) as { jobs: Array<{ jobId: string }> };
    const { events } = (await (await fetch(`${http}/api/jobs/${jobs[0]!.jobId}/events`)).json()) as { events: Array<{ type: string; at: number }> };
    const resumed = events.find((e) => e.at >= answeredAt && (e.type === "segment-delivered" || e.type === "segment-assigned"));
    if (!resumed) throw new Error("no segment moved after the restart");
    return [{ name: "coordinator restart → first segment resumed or reassigned", value: (resumed.at - answeredAt) / 1000, unit: "s", target: 2, better: "lower" }];
  } finally {
    await net.stop();
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}
