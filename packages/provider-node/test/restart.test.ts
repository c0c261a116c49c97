import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { JobSpec } from "@rendermesh/shared";
import { FakeCoordinator, OutputWatcher, tsNodeArgs, type Reply, type TestChain } from "@rendermesh/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { dataPaths } from "../src/config.js";
import { Journal } from "../src/journal/index.js";
import { MODEL_ID, startChain, tempDir, testConfig } from "./helpers/provider.js";

const pkg = join(import.meta.dirname, "..");

interface Child {
  process: ChildProcess;
  peerId: string;
  address: string;
  target: string;
  exited: Promise<number | null>;
  output: OutputWatcher;
}

/** Starts a provider in its own Node process (so it can be killed for real); with `hold`, its renders are held (see the fixture). */
async function startChild(chain: TestChain, dataDir: string, key: string, opts: { hold?: boolean } = {}): Promise<Child> {
  const config = testConfig(chain, dataDir);
  const child = spawn(process.execPath, [...tsNodeArgs(), "test/fixtures/child-provider.ts"], {
    cwd: pkg,
    env: {
      ...process.env,
      RENDERMESH_TEST_HOLD: opts.hold ? "1" : "0",
      RENDERMESH_PRIVATE_KEY: key,
      RENDERMESH_TEST_PROVIDER_CONFIG: JSON.stringify(config, (_k, v: unknown) => (typeof v === "bigint" ? `${v}wei` : v)),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const output = new OutputWatcher(child.stdout);
  let err = "";
  child.stderr!.on("data", (c: Buffer) => (err += c.toString()));
  const ready = await output.waitFor(/^READY (.*)$/).then(
    (m) => JSON.parse(m[1]!) as { peerId: string; address: string; multiaddrs: string[] },
    (cause: unknown) => Promise.reject(new Error(`child provider did not start:\n${err.slice(-3000)}`, { cause })),
  );
  const addr = ready.multiaddrs[0]!;
  return {
    process: child,
    peerId: ready.peerId,
    address: ready.address,
    target: addr.includes("/p2p/") ? addr : `${addr}/p2p/${ready.peerId}`,
    exited,
    output,
  };
}

describe("crash and restart", () => {
  let chain: TestChain;
  let coordinator: FakeCoordinator;
  let child: Child | undefined;
  const data = tempDir();
  const coordDir = tempDir("rm-coord-");

  beforeAll(async () => {
    chain = await startChain();
    coordinator = await new FakeCoordinator(chain, { dataDir: coordDir.dir }).start();
  }, 240_000);

  afterAll(async () => {
    if (child && child.process.exitCode === null) {
      child.process.kill("SIGKILL");
      await child.exited;
    }
    await coordinator?.stop();
    await chain?.stop();
    data.cleanup();
    coordDir.cleanup();
  }, 60_000);

  test("behavior: a provider killed mid-segment restarts with its journal intact; the segment is given back, then delivered once", async () => {
    const key = chain.providers[3]!.privateKey;
    child = await startChild(chain, data.dir, key, { hold: true });
    const first = child;
    const spec: JobSpec = {
      v: 1,
      model: MODEL_ID,
      prompt: "embers drifting over a dark lake",
      seed: 31,
      seconds: 2,
      fps: 8,
      width: 128,
      height: 128,
    };
    const { jobId } = await chain.openJob({ spec });
    const request = await coordinator.signedRequest(jobId, spec, 1, first.address);

    // Kill -9 mid-segment: once the provider has accepted (and journalled) the
    // work and its render is held at the first frame, with the stream still open.
    let accepted!: () => void;
    const acceptedSeen = new Promise<void>((resolve) => (accepted = resolve));
    const replies = coordinator
      .render(first.target, request, { onReply: (r) => r.type === "accepted" && accepted() })
      .catch((err: unknown) => [{ type: "error", code: "STREAM", message: String(err) }] as Reply[]);
    await Promise.all([acceptedSeen, first.output.waitFor(/^HELD /)]);
    first.process.kill("SIGKILL");
    await first.exited;
    await replies;

    // The journal survived the kill: the row is there, still marked in progress.
    const journalPath = dataPaths(data.dir).journal;
    const afterKill = Journal.open(journalPath);
    expect(afterKill.getAssignment(jobId, 1)).toMatchObject({ state: "accepted", attempts: 1 });
    expect(afterKill.getJob(jobId)).toMatchObject({ status: "open" });
    afterKill.close();

    // Restart with the same data dir: same identity, registration kept, the cut-off segment given back.
    child = await startChild(chain, data.dir, key);
    expect(child.peerId).toBe(first.peerId);
    const reopened = Journal.open(journalPath);
    expect(reopened.getAssignment(jobId, 1)).toMatchObject({ state: "released", releaseReason: "restart" });
    reopened.close();

    // The coordinator re-sends the same assignment: it is rendered and delivered.
    const again = await coordinator.render(child.target, request);
    const delivered = again[again.length - 1] as Extract<Reply, { type: "delivered" }>;
    expect(delivered.type).toBe("delivered");

    // Asked once more, the answer is the same delivery: never a second, different one.
    const third = await coordinator.render(child.target, request);
    expect((third[third.length - 1] as Extract<Reply, { type: "delivered" }>).delivery).toEqual(delivered.delivery);
    expect((third[third.length - 1] as Extract<Reply, { type: "delivered" }>).signature).toBe(delivered.signature);

    // A clean stop keeps the receipt for payment.
    child.process.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    const final = Journal.open(journalPath);
    expect(final.getAssignment(jobId, 1)).toMatchObject({ state: "delivered", attempts: 2, payState: "unpaid" });
    expect(final.listAssignments({ jobId })).toHaveLength(1);
    final.close();
  }, 240_000);
});
