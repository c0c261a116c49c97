// `pnpm demo`: starts the local network, runs one paid job through the real
// `rendermesh` CLI (progress on screen), then prints who was paid what, checks
// it against the chain, prints the gas used, checks the video's Content
// Credentials with `rendermesh verify`, and stops everything.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { defaultPipelinePath, loadPipeline } from "@rendermesh/shared/model";
import { formatUnits } from "ethers";
import { repoRoot, startDevNetwork } from "./lib/devnet.ts";

const { values } = parseArgs({
  options: {
    // The default model is the project's trained diffusion pipeline (models/diffusion-default): 64x64 at 8 fps.
    prompt: { type: "string", default: "a red circle moving left on a blue background" },
    seconds: { type: "string", default: "4" },
    fps: { type: "string", default: "8" },
    size: { type: "string", default: "64x64" },
    model: { type: "string" },
    out: { type: "string", default: "out" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("usage: pnpm demo [--prompt TEXT] [--seconds N] [--fps N] [--size WxH] [--model ID] [--out DIR]");
  process.exit(0);
}

const model = values.model ?? (await loadPipeline(defaultPipelinePath())).manifest.id;
const started = Date.now();
console.log("== starting the local network (Hardhat node, contracts, coordinator, 3 providers) ==");
const net = await startDevNetwork({ log: (l) => console.log(`   ${l}`) });
const outDir = join(repoRoot, values.out);
let exitCode = 0;
try {
  console.log(`\n== submitting a paid job: "${values.prompt}", ${values.seconds} s at ${values.fps} fps, ${values.size} ==\n`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, "packages", "client", "bin", "rendermesh.js"),
        "job",
        "submit",
        "--prompt",
        values.prompt!,
        "--seconds",
        values.seconds!,
        "--fps",
        values.fps!,
        "--size",
        values.size!,
        "--model",
        model,
        "--out",
        outDir,
      ],
      { cwd: repoRoot, stdio: "inherit", env: { ...process.env, RENDERMESH_DEV_FILE: net.file } },
    );
    child.on("exit", (c) => resolve(c ?? 1));
  });
  if (code !== 0) throw new Error(`rendermesh job submit exited with code ${code}; provider and coordinator logs are in ${net.dir}/logs/`);

  // The newest job directory under out/ is this run's.
  const jobDir = readdirSync(outDir)
    .map((d) => join(outDir, d))
    .filter((d) => existsSync(join(d, "manifest.json")))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
  if (!jobDir) throw new Error(`no manifest under ${outDir}`);
  const manifest = JSON.parse(readFileSync(join(jobDir, "manifest.json"), "utf8")) as {
    jobId: string;
    spec: { seconds: number };
    transactions: Array<{ kind: string; hash: string; gasUsed: string | null }>;
    payments: {
      providers: Array<{ provider: string; seconds: number; amount: string }>;
      coordinatorFee: string;
      treasuryFee: string;
      refund: string;
      deposit: string;
    };
  };

  const mesh = (x: string | bigint) => `${formatUnits(BigInt(x), 18)} MESH`;
  const p = manifest.payments;
  const total =
    p.providers.reduce((a, x) => a + BigInt(x.amount), 0n) + BigInt(p.coordinatorFee) + BigInt(p.treasuryFee) + BigInt(p.refund);
  console.log("\n== who was paid what ==");
  console.table([
    ...p.providers.map((x) => ({ to: `provider ${x.provider}`, seconds: x.seconds, amount: mesh(x.amount) })),
    { to: "coordinator fee", seconds: "", amount: mesh(p.coordinatorFee) },
    { to: "DAO treasury fee", seconds: "", amount: mesh(p.treasuryFee) },
    { to: "refund to client", seconds: "", amount: mesh(p.refund) },
    { to: "total = deposit", seconds: "", amount: `${mesh(total)} ${total === BigInt(p.deposit) ? "=" : "≠"} ${mesh(p.deposit)}` },
  ]);
  if (total !== BigInt(p.deposit)) {
    exitCode = 1;
    console.error("tokens are not conserved: payments + fees + refund differ from the deposit");
  }

  console.log("== gas used ==");
  let gas = 0n;
  const rows = manifest.transactions.map((t) => {
    gas += BigInt(t.gasUsed ?? 0);
    return { transaction: t.kind, hash: `${t.hash.slice(0, 18)}…`, gas: Number(t.gasUsed ?? 0) };
  });
  console.table(rows);
  console.log(`total ${gas} gas, ${(Number(gas) / manifest.spec.seconds).toFixed(0)} gas per generated second`);

  // What any viewer holding only the MP4 can check: its Content Credentials, against the chain.
  const video = join(jobDir, "video.mp4");
  console.log(`\n== rendermesh verify ${relative(repoRoot, video)} (its Content Credentials, checked against the chain) ==`);
  const verified = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, "packages", "client", "bin", "rendermesh.js"), "verify", video], {
      cwd: repoRoot,
      stdio: "inherit",
      env: { ...process.env, RENDERMESH_DEV_FILE: net.file },
    });
    child.on("exit", (c) => resolve(c ?? 1));
  });
  if (verified !== 0) {
    exitCode = 1;
    console.error(`rendermesh verify exited with code ${verified}: the video's credentials do not check out`);
  }
  console.log(`\nvideo     ${video}\nmanifest  ${join(jobDir, "manifest.json")}`);
} catch (err) {
  exitCode = 1;
  console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  console.log("\n== stopping the network ==");
  await net.stop();
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
process.exit(exitCode);
