import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { TestChain } from "@rendermesh/testing";
import { join } from "node:path";
import { DEFAULT_ARCHITECTURE, buildDefaultModel, defaultManifest, saveModel } from "@rendermesh/shared/model";
import { runCli } from "../src/cli.js";
import { startChain, tempDir } from "./helpers/provider.js";

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}, options: { stdinIsTTY?: boolean } = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: { RENDERMESH_LOG_LEVEL: "warn", ...env },
    stdinIsTTY: options.stdinIsTTY ?? false,
    // `start` returns as soon as it is serving: the "signal" comes at once.
    waitForSignal: async () => "SIGTERM",
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("rendermesh-provider CLI: usage", () => {
  test("default: --help lists the commands and exits 0", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    for (const c of ["start", "status", "withdraw", "unstake", "benchmark"]) expect(r.out).toContain(c);
  });

  test("default: every command has --help", async () => {
    for (const c of ["start", "status", "withdraw", "unstake", "benchmark"]) {
      const r = await cli([c, "--help"]);
      expect(r.code).toBe(0);
      expect(r.out).toContain("--json");
    }
    const start = await cli(["start", "--help"]);
    for (const flag of [
      "--rpc-url",
      "--keystore",
      "--coordinator",
      "--ask-per-second",
      "--model",
      "--device",
      "--ipfs",
      "--data-dir",
      "--listen",
      "--concurrency",
      "--metrics-port",
      "--register",
      "--stake",
      "--yes",
    ]) {
      expect(start.out).toContain(flag);
    }
  });

  test("error: an unknown flag exits 2 with one sentence", async () => {
    const r = await cli(["start", "--gpu", "9"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^Error: Unknown option '--gpu'\.$/m);
    expect(r.err).toMatch(/^Fix: Run `rendermesh-provider start --help` for the usage\.$/m);
  });

  test("error: a bad flag with --json exits 2 and prints the one error document every CLI prints", async () => {
    const r = await cli(["status", "--gpu", "9", "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out)).toEqual({
      ok: false,
      error: {
        code: "USAGE",
        message: "Unknown option '--gpu'.",
        hint: "Run `rendermesh-provider status --help` for the usage.",
        exitCode: 2,
      },
    });
  });

  test("error: an unknown command exits 2", async () => {
    const r = await cli(["frobnicate"]);
    expect(r.code).toBe(2);
  });

  test("error: a bad --device value exits 2", async () => {
    const r = await cli(["start", "--device", "tpu"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/tpu/);
  });

  test("error: a bad config value exits 2 naming the field", async () => {
    const r = await cli(["status", "--rpc-url", "not a url"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/rpcUrl/);
  });

  test("error: an env value is named as the env var to fix", async () => {
    const r = await cli(["status", "--json"], { RENDERMESH_PROVIDER_CONCURRENCY: "many" });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/RENDERMESH_PROVIDER_CONCURRENCY/);
  });

  test("error: unstake needs exactly one of --request or --withdraw", async () => {
    const r = await cli(["unstake"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/exactly one of --request AMOUNT or --withdraw/);
  });

  test("error: no key configured says how to set one", async () => {
    const r = await cli(["status", "--rpc-url", "http://127.0.0.1:9"]);
    // A missing setting is bad usage, as in every Rendermesh CLI.
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/No key configured/);
    expect(r.err).toMatch(/RENDERMESH_PRIVATE_KEY/);
  });

  test("default: benchmark --json measures the default model", async () => {
    const r = await cli(["benchmark", "--device", "cpu", "--frames", "1", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out) as { models: Array<{ id: string; fps: number; device: string; reference: { width: number } }> };
    expect(out.models).toHaveLength(1);
    expect(out.models[0]!.fps).toBeGreaterThan(0);
    expect(out.models[0]!.device).toBe("cpu");
  }, 120_000);
});

describe("rendermesh-provider CLI: start", () => {
  let chain: TestChain;
  const dirs: Array<{ dir: string; cleanup: () => void }> = [];
  beforeAll(async () => {
    chain = await startChain();
  }, 240_000);
  afterAll(async () => {
    await chain?.stop();
    for (const d of dirs) d.cleanup();
  });

  const args = (dataDir: string, ...extra: string[]) => [
    "start",
    "--rpc-url",
    chain.rpcUrl,
    "--deployment",
    chain.deploymentFile,
    "--data-dir",
    dataDir,
    "--listen",
    "/ip4/127.0.0.1/tcp/0",
    "--device",
    "cpu",
    "--metrics-port",
    "-1",
    "--benchmark-fps",
    "40",
    ...extra,
  ];

  test("error: an unregistered provider is told exactly what is missing and how to fix it", async () => {
    const d = tempDir();
    dirs.push(d);
    const r = await cli(args(d.dir), { RENDERMESH_PRIVATE_KEY: chain.providers[0]!.privateKey });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is not registered/);
    expect(r.err).toMatch(/Fix: Run `rendermesh-provider start --register --stake 100`/);
    expect(r.out).toMatch(/registered: no/);
  }, 120_000);

  test("error: --register without --yes and without a terminal spends nothing", async () => {
    const d = tempDir();
    dirs.push(d);
    const r = await cli(args(d.dir, "--register", "--stake", "150"), { RENDERMESH_PRIVATE_KEY: chain.providers[0]!.privateKey });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/This will:/);
    expect(r.err).toMatch(/stake 150 MESH/);
    expect(r.err).toMatch(/nothing was spent/);
    expect((await chain.contracts.registry.getProvider(chain.providers[0]!.address)).registered).toBe(false);
  }, 120_000);

  test("error: --register without --stake says a stake is needed", async () => {
    const d = tempDir();
    dirs.push(d);
    const r = await cli(args(d.dir, "--register", "--yes"), { RENDERMESH_PRIVATE_KEY: chain.providers[0]!.privateKey });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/Registering needs a stake: add --stake N/);
  }, 120_000);

  test("default: --register --stake N --yes registers, serves and stops cleanly", async () => {
    const d = tempDir();
    dirs.push(d);
    const r = await cli(args(d.dir, "--register", "--stake", "150", "--yes", "--ask-per-second", "0.002", "--json"), {
      RENDERMESH_PRIVATE_KEY: chain.providers[0]!.privateKey,
    });
    expect(r.err).not.toMatch(/error:/);
    expect(r.code).toBe(0);
    // What it spends is printed before it is spent, --yes or not.
    expect(r.err).toMatch(/This will:[\s\S]*stake 150 MESH[\s\S]*tokens to stake: 150 MESH \(plus gas\)/);
    const started = JSON.parse(r.out) as { started: boolean; address: string; peerId: string; models: Array<{ benchmarkFps: number }> };
    expect(started).toMatchObject({ started: true, address: chain.providers[0]!.address });
    expect(started.models[0]!.benchmarkFps).toBe(40);
    const entry = await chain.contracts.registry.getProvider(chain.providers[0]!.address);
    expect({ registered: entry.registered, stake: entry.stake, askPerSecond: entry.askPerSecond }).toEqual({
      registered: true,
      stake: 150n * 10n ** 18n,
      askPerSecond: 2n * 10n ** 15n,
    });

    // Started again, it is in good standing and registers nothing more.
    const again = await cli(args(d.dir), { RENDERMESH_PRIVATE_KEY: chain.providers[0]!.privateKey });
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/registered: yes; stake 150 MESH \(minimum 100 MESH\); peer id bound: yes/);
  }, 120_000);

  test("error: a model the content policy does not allow is a refusal by the rules: exit 3 and the JSON error", async () => {
    const d = tempDir();
    dirs.push(d);
    const bytes = buildDefaultModel({ ...DEFAULT_ARCHITECTURE, weightSeed: DEFAULT_ARCHITECTURE.weightSeed + 1 });
    const model = join(d.dir, "other.onnx");
    await saveModel({ bytes, manifest: defaultManifest(bytes) }, model);
    const r = await cli([...args(d.dir), "--model", model, "--json"], { RENDERMESH_PRIVATE_KEY: chain.providers[1]!.privateKey });
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^Error: None of the configured models is on the content policy's allowed list\.$/m);
    expect(JSON.parse(r.out)).toMatchObject({ ok: false, error: { code: "MODEL_REJECTED", exitCode: 3 } });
  }, 120_000);

  test("error: --device cuda without the CUDA build fails loudly instead of using the CPU", async () => {
    const d = tempDir();
    dirs.push(d);
    const r = await cli([...args(d.dir), "--device", "cuda"], { RENDERMESH_PRIVATE_KEY: chain.providers[0]!.privateKey });
    // This machine's onnxruntime-node is the CPU build (no GPU here), so CUDA cannot load.
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--device cuda was asked for/);
    expect(r.err).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
  }, 120_000);
});
