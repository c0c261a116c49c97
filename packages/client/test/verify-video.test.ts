import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { getAddress } from "ethers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connectContracts } from "@rendermesh/shared/chain";
import { encodeSegment, runFfmpeg } from "@rendermesh/shared/media";
import {
  C2PA_BOX_UUID,
  JOB_ASSERTION,
  RENDERMESH_VERSION,
  assertionData,
  createProvenanceIdentity,
  credentialSegment,
  loadOrCreateProvenanceIdentity,
  readCredentials,
  signMp4,
  type JobAssertion,
  type ProvenanceIdentity,
} from "@rendermesh/shared/provenance";
import type { Coordinator } from "@rendermesh/coordinator";
import { generateVideo } from "../src/actions/generateVideo.js";
import { verifyVideo, type VerifyVideoReturnType } from "../src/actions/verifyVideo.js";
import type { RendermeshClient } from "../src/client.js";
import { account, fund, MESH, startChain, startNode, type TestChain, type TestNode } from "./support/chain.js";
import { runCli } from "./support/cli.js";
import { Stack, startClient, startCoordinator, startProvider, tempDir, writeDevFile } from "./support/network.js";
import { closeRenderer } from "./support/segments.js";

// A real job (Hardhat chain, the real coordinator, two test providers that
// credential their segments as real providers do), then its video checked
// as a viewer would, and every way to forge or damage it.

const ASK = MESH / 1000n;
const SPEC = { prompt: "slow golden waves at dawn", seconds: 2, fps: 4, width: 32, height: 32 };
let chain: TestChain;
let otherChain: TestNode;
let coordinator: Coordinator;
let client: RendermeshClient;
const stack = new Stack();
const dir = tempDir("rm-verify-video-");
const wallet = account(12);
let videoPath: string;
let video: Uint8Array;
let jobId: `0x${string}`;
let env: Record<string, string>;

beforeAll(async () => {
  chain = await startChain();
  otherChain = await startNode({ chainId: chain.chainId + 1 });
  coordinator = await startCoordinator(chain, stack);
  await startProvider(chain, stack, { ask: ASK, coordinator });
  await startProvider(chain, stack, { ask: ASK, coordinator });
  await fund(chain, wallet.address, 1_000n * MESH);
  client = await startClient(chain, stack, wallet, coordinator);
  const result = await generateVideo(client, SPEC);
  expect(result.status).toBe("settled");
  videoPath = result.video!.path;
  video = new Uint8Array(readFileSync(videoPath));
  jobId = result.jobId;
  env = {
    RENDERMESH_DEV_FILE: writeDevFile(chain, coordinator, wallet, dir.dir),
    RENDERMESH_DATA_DIR: join(dir.dir, "viewer"),
    RENDERMESH_LOG_LEVEL: "silent",
  };
}, 240_000);

afterAll(async () => {
  await stack.stopAll();
  await chain?.stop();
  await otherChain?.stop();
  await closeRenderer();
  dir.cleanup();
}, 60_000);

/** Writes `bytes` to a file of its own and verifies it against `chain`'s escrow. */
async function verifyBytes(
  name: string,
  bytes: Uint8Array,
  on: Pick<TestChain, "provider" | "chainId"> = chain,
): Promise<VerifyVideoReturnType> {
  const path = join(dir.dir, name);
  writeFileSync(path, bytes);
  return verifyVideo(
    {
      provider: on.provider,
      chainId: on.chainId,
      deployment: chain.deployment,
      contracts: connectContracts(on.provider, chain.deployment),
      ffmpeg: undefined,
    },
    { path },
  );
}

/** Top-level MP4 boxes as [start, end) offsets. */
function topBoxes(mp4: Uint8Array): Array<{ type: string; start: number; end: number }> {
  const view = new DataView(mp4.buffer, mp4.byteOffset, mp4.byteLength);
  const out = [];
  for (let at = 0; at + 8 <= mp4.byteLength;) {
    const size = view.getUint32(at);
    out.push({ type: String.fromCharCode(...mp4.subarray(at + 4, at + 8)), start: at, end: at + size });
    at += size;
  }
  return out;
}

const isC2paBox = (mp4: Uint8Array, b: { type: string; start: number }) =>
  b.type === "uuid" && Buffer.from(mp4.subarray(b.start + 8, b.start + 24)).toString("hex") === C2PA_BOX_UUID;

let remuxed = 0;
/** The file rewritten by ffmpeg without re-encoding, as an upload or an editor does: the frames stay, the C2PA box is gone. */
async function strip(mp4: Uint8Array): Promise<Uint8Array> {
  const n = remuxed++;
  const [from, to] = [join(dir.dir, `remux-in-${n}.mp4`), join(dir.dir, `remux-out-${n}.mp4`)];
  writeFileSync(from, mp4);
  await runFfmpeg(["-hide_banner", "-nostdin", "-loglevel", "error", "-i", from, "-map", "0", "-c", "copy", "-f", "mp4", "-y", to], {
    what: "remux",
  });
  const out = new Uint8Array(readFileSync(to));
  expect(topBoxes(out).some((b) => isC2paBox(out, b))).toBe(false);
  return out;
}

/** `target` with `source`'s C2PA box put in after its `ftyp`. */
function graft(source: Uint8Array, target: Uint8Array): Uint8Array {
  const box = topBoxes(source).find((b) => isC2paBox(source, b))!;
  const ftyp = topBoxes(target).find((b) => b.type === "ftyp")!;
  return Buffer.concat([target.subarray(0, ftyp.end), source.subarray(box.start, box.end), target.subarray(ftyp.end)]);
}

/** The segment files the client verified, as ingredients. */
function segmentIngredients(): Array<{ title: string; mp4: Uint8Array }> {
  return client.journal
    .verifiedSegments(client.journal.getJob(jobId).ref)
    .map((s) => ({ title: `segment-${s.segment}.mp4`, mp4: new Uint8Array(readFileSync(s.file)) }));
}

/** The video signed again with `identity`, the job assertion changed by `edit`, and the given ingredients. */
async function resign(
  identity: ProvenanceIdentity,
  edit: (a: JobAssertion) => JobAssertion = (a) => a,
  ingredients = segmentIngredients(),
): Promise<Uint8Array> {
  const creds = await readCredentials(video);
  const assertion = edit(assertionData<JobAssertion>(creds.active, JOB_ASSERTION)!);
  return signMp4({
    mp4: await strip(video),
    identity,
    title: "video.mp4",
    generator: { version: RENDERMESH_VERSION, model: assertion.spec.model },
    assertions: [{ label: JOB_ASSERTION, data: assertion }],
    ingredients,
  });
}

const lastCheck = (r: VerifyVideoReturnType) => r.checks.at(-1)!;

describe("verifyVideo", { timeout: 120_000 }, () => {
  test("default: a real job's video verifies on every check and names its job, model, providers and settlement", async () => {
    const r = await verifyBytes("real.mp4", video);
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checks.map((c) => c.check)).toEqual([
      "credentials",
      "c2pa",
      "generator",
      "binding",
      "chain",
      "job",
      "receipts",
      "segments",
      "frames",
      "settlement",
      "payments",
    ]);
    expect(r.claims.jobId).toBe(jobId);
    expect(r.claims.chainId).toBe(chain.chainId);
    expect(r.claims.signer).toBe(wallet.address);
    expect(r.claims.model).toBe(chain.model);
    const segments = client.journal.verifiedSegments(client.journal.getJob(jobId).ref);
    expect(r.claims.providers?.sort()).toEqual([...new Set(segments.map((s) => getAddress(s.provider)))].sort());
    expect(r.claims.settleTx).toBe(client.journal.lastTx(client.journal.getJob(jobId).ref, "settle")?.hash);
  });

  test("behavior: the plain c2pa-rs reader (c2pa-wasm, without project code) accepts the embedded manifest", async () => {
    const wasm = await import("@contentauth/c2pa-wasm");
    wasm.initSync({ module: readFileSync(createRequire(import.meta.url).resolve("@contentauth/c2pa-wasm/c2pa.wasm")) });
    const reader = await wasm.WasmReader.fromBytes("video/mp4", video);
    const store = JSON.parse(reader.json()) as {
      active_manifest: string;
      manifests: Record<string, { assertions: Array<{ label: string; data: Record<string, unknown> }>; ingredients: unknown[] }>;
      validation_state: string;
      validation_results: { activeManifest: { failure: Array<{ code: string }> } };
    };
    reader.free();
    expect(store.validation_state).toBe("Valid");
    // The certificate roots in no public trust list, by design: the chain vouches for it instead.
    expect(store.validation_results.activeManifest.failure.map((f) => f.code)).toEqual(["signingCredential.untrusted"]);
    const active = store.manifests[store.active_manifest]!;
    expect(active.assertions.find((a) => a.label === JOB_ASSERTION)?.data).toMatchObject({ jobId, chainId: chain.chainId });
    expect(active.ingredients).toHaveLength(SPEC.seconds);
  });

  test("error: edited bytes fail as tampered", async () => {
    const tampered = video.slice();
    tampered[tampered.length - 200]! ^= 0x55;
    const r = await verifyBytes("tampered.mp4", tampered);
    expect(r.ok).toBe(false);
    expect(r.reason).toBe("CONTENT_TAMPERED");
    expect(lastCheck(r).detail).toMatch(/edited after signing/);
  });

  test("error: a manifest moved onto another video fails as describing another video", async () => {
    const other = await encodeSegment(
      Array.from({ length: 8 }, () => new Uint8Array(64 * 48 * 3).fill(90)),
      { width: 64, height: 48, fps: 8 },
    );
    const r = await verifyBytes("swapped.mp4", graft(video, other));
    expect(r.reason).toBe("MANIFEST_MISMATCH");
    expect(lastCheck(r).detail).toMatch(/describes another video/);
  });

  test("error: a stripped manifest fails as having no credentials", async () => {
    const r = await verifyBytes("stripped.mp4", await strip(video));
    expect(r.reason).toBe("NO_CREDENTIALS");
    expect(r.checks).toHaveLength(1);
  });

  test("error: the client's binding copied into a manifest signed with another key fails the binding", async () => {
    const thief = await createProvenanceIdentity(account(13));
    const mine = await loadOrCreateProvenanceIdentity(client.dataDir, wallet);
    const r = await verifyBytes("forged-binding.mp4", await resign({ ...thief, binding: mine.binding }));
    expect(r.reason).toBe("BINDING_INVALID");
    expect(lastCheck(r).detail).toMatch(/vouched for another key/);
  });

  test("error: a manifest signed by someone else's vouched key for this job fails the binding", async () => {
    const r = await verifyBytes("other-signer.mp4", await resign(await createProvenanceIdentity(account(13))));
    expect(r.reason).toBe("BINDING_INVALID");
    expect(lastCheck(r).detail).toMatch(/but the job's client is/);
  });

  test("error: a job id that is not in this escrow fails as not found", async () => {
    const mine = await loadOrCreateProvenanceIdentity(client.dataDir, wallet);
    const r = await verifyBytes("unknown-job.mp4", await resign(mine, (a) => ({ ...a, jobId: `0x${"77".repeat(32)}` })));
    expect(r.reason).toBe("JOB_NOT_FOUND");
  });

  test("error: the video checked against another chain fails as from another chain", async () => {
    const r = await verifyBytes("other-chain.mp4", video, otherChain);
    expect(r.reason).toBe("WRONG_CHAIN");
    expect(lastCheck(r).detail).toContain(`chain ${chain.chainId}`);
  });

  test("error: a C2PA manifest that Rendermesh did not write fails as not Rendermesh", async () => {
    const stranger = await createProvenanceIdentity(account(13));
    const signed = await signMp4({
      mp4: await strip(video),
      identity: stranger,
      title: "video.mp4",
      generator: { version: "1.0", model: chain.model },
      assertions: [{ label: "org.example.note", data: { hello: 1 } }],
    });
    const r = await verifyBytes("not-rendermesh.mp4", signed);
    expect(r.reason).toBe("NOT_RENDERMESH");
  });

  test("error: a spec that is not the one paid for on chain fails the job check", async () => {
    const mine = await loadOrCreateProvenanceIdentity(client.dataDir, wallet);
    const r = await verifyBytes("other-spec.mp4", await resign(mine, (a) => ({ ...a, spec: { ...a.spec, prompt: "a different video" } })));
    expect(r.reason).toBe("JOB_MISMATCH");
    expect(lastCheck(r).detail).toMatch(/hashes to/);
  });

  test("error: a segment credited to a provider that did not sign its receipt fails the receipts", async () => {
    const mine = await loadOrCreateProvenanceIdentity(client.dataDir, wallet);
    const r = await verifyBytes(
      "other-provider.mp4",
      await resign(mine, (a) => ({ ...a, segments: a.segments.map((s, i) => (i === 0 ? { ...s, provider: account(13).address } : s)) })),
    );
    expect(r.reason).toBe("RECEIPT_INVALID");
  });

  test("error: segment ingredients signed by someone other than their provider fail the segments", async () => {
    const mine = await loadOrCreateProvenanceIdentity(client.dataDir, wallet);
    const impostor = await createProvenanceIdentity(account(13));
    const forged = [];
    for (const s of client.journal.verifiedSegments(client.journal.getJob(jobId).ref)) {
      const mp4 = await credentialSegment({
        mp4: await strip(new Uint8Array(readFileSync(s.file))),
        identity: impostor,
        segment: {
          chainId: chain.chainId,
          escrow: chain.deployment.escrow,
          jobId,
          segment: s.segment,
          firstFrame: s.segment * SPEC.fps,
          frameCount: SPEC.fps,
          model: chain.model,
        },
      });
      forged.push({ title: `segment-${s.segment}.mp4`, mp4 });
    }
    const r = await verifyBytes("forged-segments.mp4", await resign(mine, (a) => a, forged));
    expect(r.reason).toBe("SEGMENT_CREDENTIALS_INVALID");
    expect(lastCheck(r).detail).toMatch(/credentials name/);
  });

  test("error: other frames signed by the client with the job's real receipts and segments fail the frames check", async () => {
    const mine = await loadOrCreateProvenanceIdentity(client.dataDir, wallet);
    const frames = Array.from({ length: SPEC.seconds * SPEC.fps }, (_, i) => new Uint8Array(SPEC.width * SPEC.height * 3).fill(i * 9));
    const other = await encodeSegment(frames, SPEC);
    const creds = await readCredentials(video);
    const assertion = assertionData<JobAssertion>(creds.active, JOB_ASSERTION)!;
    const signed = await signMp4({
      mp4: other,
      identity: mine,
      title: "video.mp4",
      generator: { version: RENDERMESH_VERSION, model: assertion.spec.model },
      assertions: [{ label: JOB_ASSERTION, data: assertion }],
      ingredients: segmentIngredients(),
    });
    const r = await verifyBytes("other-frames.mp4", signed);
    expect(r.reason).toBe("FRAMES_MISMATCH");
    expect(r.checks.filter((c) => c.ok).map((c) => c.check)).toEqual([
      "credentials",
      "c2pa",
      "generator",
      "binding",
      "chain",
      "job",
      "receipts",
      "segments",
    ]);
  });

  test("error: a settle transaction that did not settle this job fails the settlement", async () => {
    const mine = await loadOrCreateProvenanceIdentity(client.dataDir, wallet);
    const openTx = client.journal.lastTx(client.journal.getJob(jobId).ref, "open")!.hash;
    const r = await verifyBytes("wrong-settle.mp4", await resign(mine, (a) => ({ ...a, settleTx: openTx })));
    expect(r.reason).toBe("SETTLEMENT_MISMATCH");
  });
});

describe("rendermesh verify", { timeout: 120_000 }, () => {
  test("default: one line per check and a verdict, exit 0", async () => {
    const r = await runCli(["verify", videoPath], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok {3}credentials/m);
    expect(r.stdout).toMatch(/^ok {3}payments/m);
    expect(r.stdout).toContain(`VALID: ${videoPath} was generated by Rendermesh for job ${jobId}`);
  });

  test("args: --json prints one document", async () => {
    const r = await runCli(["verify", videoPath, "--json"], env);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as VerifyVideoReturnType;
    expect(doc.ok).toBe(true);
    expect(doc.checks).toHaveLength(11);
  });

  test("error: a video that fails exits 3 with its reason, and --json still prints one document", async () => {
    const path = join(dir.dir, "cli-stripped.mp4");
    writeFileSync(path, await strip(video));
    const human = await runCli(["verify", path], env);
    expect(human.code).toBe(3);
    expect(human.stdout).toMatch(/^FAIL credentials/m);
    expect(human.stdout).toContain("NOT VALID (NO_CREDENTIALS)");
    const json = await runCli(["verify", path, "--json"], env);
    expect(json.code).toBe(3);
    expect((JSON.parse(json.stdout) as VerifyVideoReturnType).reason).toBe("NO_CREDENTIALS");
  });

  test("error: a missing file or argument is bad usage, exit 2", async () => {
    expect((await runCli(["verify", join(dir.dir, "nope.mp4")], env)).code).toBe(2);
    expect((await runCli(["verify"], env)).code).toBe(2);
    const text = join(dir.dir, "notes.txt");
    writeFileSync(text, "not a video");
    const notVideo = await runCli(["verify", text], env);
    expect(notVideo.code).toBe(2);
    expect(notVideo.stderr).toContain("is not an MP4 video");
  });
});
