// End to end, all real parts together: a Hardhat node over JSON-RPC, the
// deployed contracts, one coordinator and three provider nodes (libp2p,
// ONNX Runtime, ffmpeg, Helia, SQLite), driven by the real `rendermesh` CLI.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { dirname } from "node:path";
import { JsonRpcProvider, Network, Wallet } from "ethers";
import { MAX_MESSAGE_BYTES, PROTOCOLS, RenderResponse, parseJobSpec, termHash } from "@rendermesh/shared";
import { eip712Domain, loadDeployment, signAssignment } from "@rendermesh/shared/chain";
import { request } from "@rendermesh/shared/net";
import { DEFAULT_MODEL_ID } from "@rendermesh/shared/model";
import { probeSegment } from "@rendermesh/shared/media";
import { createRendermeshClient, openJob, quoteJob, runGovernanceCycle, submitJob } from "@rendermesh/client";
import { OutputWatcher } from "@rendermesh/testing";
import { PassThrough } from "node:stream";
import { repoRoot, startDevNetwork, type RunningDevNetwork } from "../scripts/lib/devnet.ts";
import { chain, askEachBlock, readManifest, removeTempDirs, runCli, tempDir } from "./helpers/network.ts";

let net: RunningDevNetwork;
let dir: string;

beforeAll(async () => {
  dir = tempDir("net");
  // Provider 1 (the victim of the kill test) can be held in flight on demand (see the fixture).
  net = await startDevNetwork({
    dir,
    providers: 3,
    log: () => {},
    providerScript: (i) => (i === 0 ? join(repoRoot, "test", "fixtures", "held-provider.ts") : undefined),
  });
});

afterAll(async () => {
  await net?.stop();
  removeTempDirs();
});

const lower = (s: string) => s.toLowerCase();

describe("a paid job on the local network", () => {
  test("default: three providers render, every segment is verified, and the chain pays exact amounts", async () => {
    const { escrow, token, policy, provider } = chain(net.dev);
    const client = net.dev.accounts.client.address;
    const before = (await token.getFunction("balanceOf")(client)) as bigint;
    const out = tempDir("out");

    const r = await runCli(
      ["job", "submit", "--prompt", "a calm blue sea at dawn", "--seconds", "4", "--fps", "4", "--size", "64x64", "--out", out],
      net.file,
    );
    expect(r.code, r.stderr).toBe(0);

    const { dir: jobDir, manifest } = readManifest(out);
    expect(manifest.status).toBe("settled");
    expect(manifest.segments.map((s) => s.segment).sort()).toEqual([0, 1, 2, 3]);
    expect(new Set(manifest.segments.map((s) => lower(s.provider))).size).toBeGreaterThanOrEqual(2);

    // Tokens are conserved and the chain agrees with the manifest to the unit.
    const p = manifest.payments;
    const paid = p.providers.reduce((a, x) => a + BigInt(x.amount), 0n);
    expect(paid + BigInt(p.coordinatorFee) + BigInt(p.treasuryFee) + BigInt(p.refund)).toBe(BigInt(p.deposit));
    expect(p.providers.reduce((a, x) => a + x.seconds, 0)).toBe(4);
    for (const x of p.providers) {
      expect((await escrow.getFunction("balanceOf")(x.provider)) as bigint).toBe(BigInt(x.amount));
      expect(x.seconds).toBe(manifest.segments.filter((s) => lower(s.provider) === lower(x.provider)).length);
    }
    expect((await escrow.getFunction("balanceOf")(net.dev.accounts.coordinator.address)) as bigint).toBe(BigInt(p.coordinatorFee));
    const treasury = (await policy.getFunction("treasury")()) as string;
    expect((await escrow.getFunction("balanceOf")(treasury)) as bigint).toBe(BigInt(p.treasuryFee));
    const after = (await token.getFunction("balanceOf")(client)) as bigint;
    expect(before - after).toBe(BigInt(p.deposit) - BigInt(p.refund));
    const job = (await escrow.getFunction("getJob")(manifest.jobId)) as { status: bigint };
    expect(Number(job.status)).toBe(2); // Settled

    // The assembled video is playable and as long as asked.
    const info = await probeSegment(join(jobDir, "video.mp4"));
    expect(info).toMatchObject({ frames: 16, width: 64, height: 64, fps: 4 });

    // Its Content Credentials name the job, the model and the provider-node segments, and match the chain.
    const verified = await runCli(["verify", join(jobDir, "video.mp4"), "--json"], net.file);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const v = JSON.parse(verified.stdout) as {
      ok: boolean;
      checks: Array<{ check: string; ok: boolean }>;
      claims: { jobId: string; model: string; providers: string[]; signer: string };
    };
    expect(v.ok).toBe(true);
    expect(v.checks.every((c) => c.ok)).toBe(true);
    expect(v.claims).toMatchObject({ jobId: manifest.jobId, model: DEFAULT_MODEL_ID });
    expect(lower(v.claims.signer)).toBe(lower(client));
    expect(v.claims.providers.map(lower).sort()).toEqual([...new Set(manifest.segments.map((s) => lower(s.provider)))].sort());
    provider.destroy();
  });

  test("behavior: a term the DAO blocks is refused by the CLI before any gas, by the coordinator and by a provider", async () => {
    const { provider } = chain(net.dev);
    const result = await runGovernanceCycle({
      rpcUrl: net.dev.rpcUrl,
      deployment: net.dev.deploymentFile,
      members: net.dev.accounts.dao,
      actions: [{ type: "block-term", terms: ["forbidden city"] }],
      description: "Block a test phrase",
      dataDir: tempDir("dao"),
    });
    expect(result.state).toBe("Executed");
    expect(result.policyVersionAfter).toBeGreaterThan(result.policyVersionBefore);

    const client = net.dev.accounts.client.address;
    const nonce = await provider.getTransactionCount(client);
    const out = tempDir("out");
    const refused = await runCli(
      ["job", "submit", "--prompt", "the Forbidden, city at night", "--seconds", "2", "--fps", "4", "--size", "64x64", "--out", out],
      net.file,
    );
    expect(refused.code).toBe(3);
    expect(refused.stderr + refused.stdout).toContain("forbidden city");
    expect(await provider.getTransactionCount(client)).toBe(nonce); // nothing spent, not even gas

    // The coordinator follows the policy change too (it re-reads it every 15 s).
    await askEachBlock(net.dev, "the coordinator to see the blocked term", async () => {
      const body = JSON.stringify(await (await fetch(`${net.dev.coordinator.httpUrl}/api/policy`)).json());
      return body.includes(termHash("forbidden city")) ? true : undefined;
    });

    // Around the CLI: a job with the blocked prompt opened straight through the SDK…
    const rpc = new JsonRpcProvider(net.dev.rpcUrl, Network.from(net.dev.chainId), { staticNetwork: true, cacheTimeout: -1 });
    const deployment = loadDeployment(net.dev.chainId, dirname(net.dev.deploymentFile));
    const sdk = await createRendermeshClient({
      wallet: new Wallet(net.dev.accounts.client.privateKey, rpc),
      deployment,
      dataDir: tempDir("sdk"),
      coordinator: net.dev.coordinator.multiaddrs,
    });
    try {
      const spec = parseJobSpec({
        v: 1,
        model: DEFAULT_MODEL_ID,
        prompt: "the forbidden city",
        seed: 1,
        seconds: 2,
        fps: 4,
        width: 64,
        height: 64,
      });
      const quote = await quoteJob(sdk, { spec });
      const opened = await openJob(sdk, {
        spec,
        quote,
        policyVersion: quote.policyVersion,
        coordinatorPeer: net.dev.coordinator.multiaddrs,
      });
      // …is refused by the coordinator at intake…
      const refusal = await (async () => {
        try {
          for await (const _ of await submitJob(sdk, { jobId: opened.jobId, spec })) void _;
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(refusal).toMatchObject({ name: "PeerRefusedError", reason: "POLICY_BLOCKED_TERM" });
      // …and by a provider, even with an assignment the job's coordinator signed.
      const assignment = {
        jobId: opened.jobId,
        segment: 0,
        firstFrame: 0,
        frameCount: 4,
        provider: net.dev.providers[1]!.address as `0x${string}`,
        deadline: Math.floor(Date.now() / 1000) + 600,
      };
      const signature = await signAssignment(
        new Wallet(net.dev.accounts.coordinator.privateKey),
        eip712Domain(net.dev.chainId, deployment.escrow),
        assignment,
      );
      const { node } = await sdk.net();
      const answer = await request(
        node,
        net.dev.providers[1]!.multiaddrs[0]!,
        PROTOCOLS.render,
        { type: "render", chainId: net.dev.chainId, escrow: deployment.escrow, spec, assignment, signature },
        RenderResponse,
        { maxMessageBytes: MAX_MESSAGE_BYTES },
      );
      expect(answer).toMatchObject({ type: "error", code: "POLICY_BLOCKED_TERM" });
    } finally {
      await sdk.close();
      rpc.destroy();
    }

    // A job without the term still runs and settles under the new policy.
    const ok = await runCli(
      ["job", "submit", "--prompt", "a quiet city at night", "--seconds", "2", "--fps", "4", "--size", "64x64", "--out", out],
      net.file,
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(readManifest(out).manifest.status).toBe("settled");
    provider.destroy();
  });

  test("behavior: a provider killed with SIGKILL mid-job is paid only for what it delivered, and the job completes", async () => {
    const { escrow, provider } = chain(net.dev);
    const victim = net.dev.providers[0]!.address;
    const balanceBefore = (await escrow.getFunction("balanceOf")(victim)) as bigint;
    const out = tempDir("out");
    const http = net.dev.coordinator.httpUrl;

    // The victim delivers one segment and holds the next in flight, so the
    // kill lands mid-job and after a verified delivery on any machine.
    const victimOut = new OutputWatcher(net.processes.find((p) => p.name === "provider-1")!.child.stdout);
    net.processes.find((p) => p.name === "provider-1")!.child.kill("SIGUSR2");
    await victimOut.waitFor(/^ARMED$/);
    const cliOut = new PassThrough();
    const cli = new OutputWatcher(cliOut);
    const running = runCli(
      ["job", "submit", "--prompt", "fast red storm clouds", "--seconds", "10", "--fps", "8", "--size", "96x96", "--out", out],
      net.file,
      {
        onStdout: (chunk) => cliOut.write(chunk),
      },
    ).finally(() => cliOut.end());
    const [, jobId] = await cli.waitFor(/Job (0x[0-9a-f]{64}) opened/);
    const [, segment] = await victimOut.waitFor(/^DELIVERED (\d+)$/);
    await victimOut.waitFor(/^HELD /);
    await cli.waitFor(new RegExp(`^segment ${segment}: verified`));
    const { jobs } = (await (await fetch(`${http}/api/jobs?status=running`)).json()) as { jobs: Array<{ jobId: string }> };
    expect(jobs.map((j) => j.jobId)).toContain(jobId); // the kill happens mid-job
    await net.killProvider(0, "SIGKILL");

    const r = await running;
    expect(r.code, r.stderr).toBe(0);
    const { manifest } = readManifest(out);
    expect(manifest.segments.map((s) => s.segment).sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    const delivered = manifest.segments.filter((s) => lower(s.provider) === lower(victim)).length;
    expect(delivered).toBeGreaterThanOrEqual(1);
    const paid = manifest.payments.providers.find((x) => lower(x.provider) === lower(victim));
    expect(paid?.seconds).toBe(delivered);
    const balanceAfter = (await escrow.getFunction("balanceOf")(victim)) as bigint;
    expect(balanceAfter - balanceBefore).toBe(BigInt(paid!.amount));
    provider.destroy();
  });
});
