import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import { ContractFactory, NonceManager, parseUnits } from "ethers";
import type { Coordinator } from "@rendermesh/coordinator";
import { account, fund, MESH, root, startChain, startNode, type TestChain } from "./support/chain.js";
import { runCli, spawnCli } from "./support/cli.js";
import { PipelineHold } from "@rendermesh/testing";
import { Stack, startCoordinator, startProvider, tempDir, writeDevFile } from "./support/network.js";
import { closeRenderer } from "./support/segments.js";

// The CLI against a real local network described by a dev.json, as `pnpm dev`
// writes it: every command runs with no flags beyond the job's own.

const ASK = MESH / 1000n;
let chain: TestChain;
let coordinator: Coordinator;
const stack = new Stack();
const dir = tempDir("rm-cli-net-");
let env: Record<string, string>;
const client = account(16);
/** Both providers render through it; open unless a test holds it. */
const hold = new PipelineHold();

beforeAll(async () => {
  chain = await startChain();
  coordinator = await startCoordinator(chain, stack);
  await startProvider(chain, stack, { ask: ASK, coordinator, hold });
  await startProvider(chain, stack, { ask: ASK, coordinator, hold });
  await fund(chain, client.address, 1_000n * MESH);
  env = {
    RENDERMESH_DEV_FILE: writeDevFile(chain, coordinator, client, dir.dir),
    RENDERMESH_DATA_DIR: join(dir.dir, "client"),
    RENDERMESH_LOG_LEVEL: "silent",
  };
}, 180_000);

afterEach(() => hold.release());

afterAll(async () => {
  await stack.stopAll();
  await chain?.stop();
  await closeRenderer();
  dir.cleanup();
}, 60_000);

const settledLogs = async (jobId: string) =>
  chain.provider.getLogs({
    address: chain.deployment.escrow,
    topics: [chain.contracts.escrow.interface.getEvent("JobSettled")!.topicHash, jobId],
    fromBlock: 0,
  });

describe("rendermesh job on the dev network", { timeout: 180_000 }, () => {
  test("behavior: a CLI killed (SIGKILL) between open and settle resumes with `job resume` and settles once", async () => {
    // One segment renders; the other two are held in flight, so the job cannot settle before the kill.
    hold.hold({ passFirst: 1 });
    const run = spawnCli(["job", "submit", "--prompt", "a slow teal river flowing", "--seconds", "3", "--fps", "4", "--size", "32x32"], {
      env,
      cwd: dir.dir,
    });
    const [, jobId] = await run.waitFor(/Job (0x[0-9a-f]{64}) opened/);
    await run.waitFor(/segment \d+: verified/);
    run.child.kill("SIGKILL");
    await run.exited;
    expect(await settledLogs(jobId!)).toHaveLength(0);

    // Meanwhile `job status` shows the network's view beside the journal: the coordinator still runs the job,
    // with segments held rendering at the providers.
    await hold.reached(1);
    const during = await runCli(["job", "status", jobId!, "--json"], env);
    expect(during.code, during.stderr).toBe(0);
    const view = JSON.parse(during.stdout) as {
      journal: { phase: string };
      network: {
        reachable: boolean;
        status: string;
        segments: number;
        counts: Record<"verified" | "delivered" | "active", number>;
        items: Array<{ segment: number; status: string; attempts?: Array<{ status: string; provider: string }> }>;
      };
    };
    expect(view.network).toMatchObject({ reachable: true, status: "running", segments: 3 });
    expect(view.network.items.map((i) => i.segment)).toEqual([0, 1, 2]);
    expect(view.network.counts.active).toBeGreaterThanOrEqual(1);
    expect(view.network.counts.verified + view.network.counts.delivered).toBeGreaterThanOrEqual(1);
    // Asked as the job's client: each segment's attempts come too.
    for (const i of view.network.items) expect(i.attempts?.length).toBeGreaterThanOrEqual(1);
    const text = await runCli(["job", "status", jobId!], env);
    expect(text.stdout).toMatch(/^Network: {3}running at the coordinator; \d\/3 verified, \d rendering/m);
    expect(text.stdout).toMatch(/^ {11}segment \d: rendering on 0x[0-9a-fA-F]{40} \(attempt \d/m);
    // A coordinator that cannot be reached is said so; the journal and the chain still show.
    const gone = await runCli(["job", "status", jobId!, "--json"], {
      ...env,
      RENDERMESH_COORDINATOR: `/ip4/127.0.0.1/tcp/1/p2p/${coordinator.peerId}`,
    });
    expect(gone.code, gone.stderr).toBe(0);
    expect(JSON.parse(gone.stdout)).toMatchObject({
      network: { reachable: false, reason: expect.any(String) },
      journal: { phase: expect.any(String) },
    });
    hold.release();
    const before = await chain.contracts.token.balanceOf(client.address);

    const resumed = await spawnCli(["job", "resume", jobId!], { env, cwd: dir.dir }).exited;
    expect(resumed.stderr).toBe("");
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/^Video: {4}.*video\.mp4/m);
    expect(resumed.stdout).toMatch(/^Manifest: .*manifest\.json/m);
    expect(resumed.stdout).toMatch(/^payee\s+seconds\s+MESH$/m);
    expect(resumed.stdout).toMatch(/^refund to you\s+0$/m);
    expect(await settledLogs(jobId!)).toHaveLength(1);
    // The deposit was taken at open; settling refunds nothing (every second verified) and takes nothing more.
    expect(await chain.contracts.token.balanceOf(client.address)).toBe(before);

    // Resuming a settled job sends nothing.
    const nonce = await chain.provider.getTransactionCount(client.address);
    const again = await runCli(["job", "resume", jobId!, "--json"], env);
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout) as {
      ok: boolean;
      status: string;
      manifestPath: string;
      payments: { deposit: string; refund: string };
    };
    expect(result).toMatchObject({ ok: true, status: "settled", payments: { refund: "0" } });
    expect(await chain.provider.getTransactionCount(client.address)).toBe(nonce);
    expect(await settledLogs(jobId!)).toHaveLength(1);

    const status = await runCli(["job", "status", jobId!, "--json"], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ chain: { status: "settled" }, journal: { phase: "settled", seconds: 3 } });

    const verified = await runCli(["job", "verify", result.manifestPath, "--json"], env);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, problems: [], checked: { segments: 3, payments: true, video: "ok" } });

    const list = await runCli(["job", "list"], env);
    expect(list.stdout).toContain(jobId);
  });

  test("default: `job quote` and `wallet balance` need no flags on the dev network", async () => {
    const q = await runCli(["job", "quote", "--seconds", "2", "--json"], env);
    expect(q.code, q.stderr).toBe(0);
    expect(JSON.parse(q.stdout)).toMatchObject({ ok: true, quote: { chainId: chain.chainId, providers: 2 } });
    const b = await runCli(["wallet", "balance"], env);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(new RegExp(`^Account  ${client.address}`, "m"));
  });

  test("error: a blocked prompt is refused before gas, naming the word (exit 3)", async () => {
    const nonce = await chain.provider.getTransactionCount(client.address);
    const r = await runCli(["job", "submit", "--prompt", "a FORBIDDEN city", "--seconds", "2", "--size", "32x32"], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^Error: The prompt contains "forbidden", which the content policy blocks\.$/m);
    expect(await chain.provider.getTransactionCount(client.address)).toBe(nonce);
  });

  test("error: a quote above --max-price is refused before gas (exit 3)", async () => {
    const r = await runCli(
      ["job", "submit", "--prompt", "sea", "--seconds", "2", "--size", "32x32", "--max-price", "0.000000000000000001"],
      env,
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^Error: The quoted price of .* per second is above your maximum of 0\.000000000000000001 MESH\.$/m);
  });

  test("error: the faucet refuses a chain other than 31337 (exit 3)", async () => {
    const r = await runCli(["token", "faucet"], env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`only on the local dev network \\(chain 31337\\); this is chain ${chain.chainId}`));
  });
});

describe("rendermesh deposit, withdraw and job submit from the deposit account", { timeout: 180_000 }, () => {
  test("behavior: a job the deposit account covers is opened from it, its escrow balance pays, and withdraw takes the rest out", async () => {
    // Its own client and data dir, so the account's balance decides nothing for the other tests.
    const saver = account(18);
    await fund(chain, saver.address, 10n * MESH);
    const own = tempDir("rm-cli-deposit-");
    const e = {
      RENDERMESH_DEV_FILE: writeDevFile(chain, coordinator, saver, own.dir),
      RENDERMESH_DATA_DIR: join(own.dir, "client"),
      RENDERMESH_LOG_LEVEL: "silent",
    };
    const escrowOf = () => chain.contracts.escrow.balanceOf(saver.address);
    const meshOf = () => chain.contracts.token.balanceOf(saver.address);
    const submit = ["job", "submit", "--prompt", "a lantern over still water", "--seconds", "2", "--fps", "4", "--size", "32x32"];
    try {
      // Nothing deposited yet: --from-deposit refuses before any gas (exit 3) and says how much to deposit.
      const nonce = await chain.provider.getTransactionCount(saver.address);
      const short = await runCli([...submit, "--from-deposit"], e);
      expect(short.code, short.stderr).toBe(3);
      expect(short.stderr).toMatch(
        /^Error: The job needs a deposit of .* MESH but the escrow deposit account of 0x[0-9a-fA-F]{40} holds 0\.0 MESH\.$/m,
      );
      expect(await chain.provider.getTransactionCount(saver.address)).toBe(nonce);

      const d = await runCli(["deposit", "1", "--json"], e);
      expect(d.code, d.stderr).toBe(0);
      expect(JSON.parse(d.stdout)).toMatchObject({ ok: true, amount: MESH.toString(), balance: MESH.toString() });
      expect(await escrowOf()).toBe(MESH);
      expect(await meshOf()).toBe(9n * MESH);

      // Without a flag the account pays, since it covers the job: the wallet's MESH is not touched.
      const r = await runCli([...submit, "--json"], e);
      expect(r.code, r.stderr).toBe(0);
      const job = JSON.parse(r.stdout) as { ok: boolean; jobId: string; payments: { deposit: string; refund: string } };
      expect(job).toMatchObject({ ok: true, payments: { refund: "0" } });
      const [opened] = await chain.provider.getLogs({
        address: chain.deployment.escrow,
        topics: [chain.contracts.escrow.interface.getEvent("JobOpened")!.topicHash, job.jobId],
        fromBlock: 0,
      });
      const openTx = await chain.provider.getTransaction(opened!.transactionHash);
      expect(chain.contracts.escrow.interface.parseTransaction({ data: openTx!.data })?.name).toBe("openJobFromDeposit");
      expect(await meshOf()).toBe(9n * MESH);
      expect(await escrowOf()).toBe(MESH - BigInt(job.payments.deposit));

      const w = await runCli(["withdraw", "--json"], e);
      expect(w.code, w.stderr).toBe(0);
      expect(JSON.parse(w.stdout)).toMatchObject({ ok: true, withdrawn: (MESH - BigInt(job.payments.deposit)).toString() });
      expect(await escrowOf()).toBe(0n);
      expect(await meshOf()).toBe(10n * MESH - BigInt(job.payments.deposit));
      // An empty account sends nothing.
      const again = await runCli(["withdraw", "--json"], e);
      expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, withdrawn: "0" });
      expect(JSON.parse(again.stdout).txHash).toBeUndefined();
    } finally {
      own.cleanup();
    }
  });
});

describe("rendermesh token faucet on chain 31337", { timeout: 120_000 }, () => {
  test("default: sends MESH from the dev deployer to the wallet", async () => {
    // A bare Hardhat node on 31337 with only MeshToken (deployed from its artifact, without Ignition,
    // so the dev network's Ignition journal is never touched).
    const local = await startNode({ chainId: 31337 });
    try {
      const artifact = JSON.parse(readFileSync(join(root, "artifacts/contracts/src/MeshToken.sol/MeshToken.json"), "utf8")) as {
        abi: never;
        bytecode: string;
      };
      const deployer = new NonceManager(account(0).connect(local.provider));
      const token = await new ContractFactory(artifact.abi, artifact.bytecode, deployer).deploy(
        account(0).address,
        parseUnits("1000000", 18),
      );
      await token.waitForDeployment();
      const address = await token.getAddress();
      const { writeFileSync } = await import("node:fs");
      const deploymentFile = join(dir.dir, "31337.json");
      writeFileSync(
        deploymentFile,
        JSON.stringify({
          chainId: 31337,
          token: address,
          registry: address,
          escrow: address,
          policy: address,
          governor: address,
          timelock: address,
          startBlock: 0,
        }),
      );
      const fake = { rpcUrl: local.rpcUrl, chainId: local.chainId, deploymentFile };
      const devDir = tempDir("rm-faucet-");
      const devEnv = {
        RENDERMESH_DEV_FILE: writeDevFile(fake, coordinator, account(17), devDir.dir),
        RENDERMESH_DATA_DIR: join(devDir.dir, "client"),
      };
      const r = await runCli(["token", "faucet", "--amount", "5", "--json"], devEnv);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({
        to: account(17).address,
        amount: (5n * MESH).toString(),
        balance: (5n * MESH).toString(),
      });
      devDir.cleanup();
      expect(existsSync(deploymentFile)).toBe(true);
    } finally {
      await local.stop();
    }
  });
});
