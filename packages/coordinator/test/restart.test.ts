import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Wallet } from "ethers";
import type { JobSpec } from "@rendermesh/shared";
import { CoordinatorStore } from "../src/store/index.js";
import { account, fundClient, MESH, openJob, registerProvider, startChain, type TestChain } from "./helpers/chain.js";
import { tempDir } from "./helpers/fixtures.js";
import { TestClient, type Event } from "./helpers/test-client.js";
import { OutputWatcher, TestProvider, tsNodeArgs } from "@rendermesh/testing";

const MODEL = `0x${"cd".repeat(32)}`;
const ASK = MESH / 1000n;
const root = join(import.meta.dirname, "../../..");

let chain: TestChain;
beforeAll(async () => {
  chain = await startChain({ model: MODEL, blockedTerm: "forbidden" });
}, 120_000);
afterAll(async () => {
  await chain?.stop();
});

/** Starts the coordinator from source in its own process, so it can be SIGKILLed. */
async function spawnCoordinator(dataDir: string): Promise<{ child: ChildProcess; info: { peerId: string; multiaddrs: string[] } }> {
  const args = {
    rpcUrl: chain.rpcUrl,
    deployment: chain.deployment,
    privateKey: account(1).privateKey,
    config: {
      dataDir,
      listen: ["/ip4/127.0.0.1/tcp/0"],
      httpPort: 0,
      heartbeatIntervalMs: 1000,
      referenceWidth: 32,
      referenceHeight: 32,
      referenceFps: 4,
      logLevel: "warn",
      segmentGraceSeconds: 4,
    },
  };
  const child = spawn(process.execPath, [...tsNodeArgs(), "packages/coordinator/test/helpers/run-coordinator.ts", JSON.stringify(args)], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  // Started is an event: its JSON line, or the output ending because it exited.
  const line = await new OutputWatcher(child.stdout).waitFor(/^\{"peerId".*$/).catch((cause: unknown) => {
    throw new Error(`coordinator did not start: ${err}`, { cause });
  });
  const info = JSON.parse(line[0]) as { peerId: string; multiaddrs: string[] };
  return { child, info };
}

describe("restart", () => {
  it("behavior: a coordinator killed with SIGKILL mid-job carries on after restart, with no lost and no duplicate segment", async () => {
    const dir = tempDir();
    const client = new Wallet(account(9).privateKey);
    await fundClient(chain, client);
    const providers: TestProvider[] = [];
    let child: ChildProcess | undefined;
    const tc = new TestClient(() => addr, { wallet: client, chainId: chain.deployment.chainId, escrow: chain.deployment.escrow });
    let addr = "";
    try {
      // Port 0 each start: the restarted coordinator gets a new port, and
      // providers and client follow `addr` (as they would a new DNS record).
      const address = (info: { peerId: string; multiaddrs: string[] }) => {
        const a = info.multiaddrs.find((m) => m.includes("/127.0.0.1/"))!;
        return a.includes("/p2p/") ? a : `${a}/p2p/${info.peerId}`;
      };
      let started = await spawnCoordinator(dir.dir);
      child = started.child;
      addr = address(started.info);
      for (const i of [2, 3]) {
        const wallet = new Wallet(account(i).privateKey);
        const p = new TestProvider({
          wallet,
          chainId: chain.deployment.chainId,
          escrow: chain.deployment.escrow,
          model: MODEL,
          askPerSecond: ASK,
          render: "stub",
          msPerFrame: 100,
          capacity: 1,
        });
        await p.start();
        providers.push(p);
        await registerProvider(chain, wallet, p.node.peerId, ASK);
        await p.announceTo(() => addr, 500);
      }
      await tc.start();
      const spec: JobSpec = {
        v: 1,
        model: MODEL as `0x${string}`,
        prompt: "a slow green tide",
        seed: 1,
        seconds: 10,
        fps: 4,
        width: 32,
        height: 32,
      };
      const jobId = await openJob(chain, client, spec, account(1).address, 2n * ASK);

      // Follow until 3 segments are verified, then SIGKILL the coordinator.
      const all: Event[] = [];
      const unreported = new Map<number, Event>();
      let verified = 0;
      const verdict = (e: Event) => {
        unreported.set(e.segment!, e);
        return undefined;
      };
      const reportPending = async () => {
        for (const [seg, e] of unreported) {
          try {
            await tc.report(e, true);
            unreported.delete(seg);
            verified++;
          } catch {
            // coordinator down: retried after reconnecting
          }
        }
      };
      const first = await tc.submit(jobId, chain.deployment.chainId, chain.deployment.escrow, spec, {
        verdict,
        until: () => {
          void reportPending();
          return verified >= 3;
        },
      });
      all.push(...first.events);
      child.kill("SIGKILL");
      await new Promise((r) => child!.once("exit", r));

      started = await spawnCoordinator(dir.dir);
      child = started.child;
      expect(started.info.peerId).toBe(addr.split("/p2p/")[1]);
      addr = address(started.info);

      // Resume: watch from the last event seen, report what is pending, until the job completes.
      for (let round = 0; round < 20 && all.at(-1)?.type !== "job-complete"; round++) {
        await reportPending();
        const fromSeq = all.at(-1)?.seq ?? 0;
        const r = await tc
          .follow(
            { type: "watch", jobId, fromSeq },
            {
              verdict,
              until: (e) => {
                void reportPending();
                return e.type === "job-complete";
              },
            },
          )
          .catch(() => ({ events: [] as Event[] }));
        all.push(...r.events);
      }
      expect(all.at(-1)?.type).toBe("job-complete");
      const seqs = all.map((e) => e.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

      child.kill("SIGTERM");
      await new Promise((r) => child!.once("exit", r));
      child = undefined;
      const store = CoordinatorStore.open(join(dir.dir, "coordinator.db"));
      try {
        const segs = store.segments(jobId);
        expect(segs.map((s) => s.status)).toEqual(Array(10).fill("verified"));
        // Exactly one counted attempt per segment, and it is a verified one.
        const attempts = store.attempts(jobId);
        expect(
          attempts
            .filter((a) => a.status === "verified")
            .map((a) => a.segment)
            .sort((a, b) => a - b),
        ).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(store.getJob(jobId)?.status).toBe("complete");
        const events = store.events(jobId);
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
      } finally {
        store.close();
      }
    } finally {
      child?.kill("SIGKILL");
      await tc.stop();
      for (const p of providers) await p.stop();
      dir.cleanup();
    }
  }, 180_000);
});
