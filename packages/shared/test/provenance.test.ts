import { readFileSync } from "node:fs";
import { mkdtemp, rm, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { concatSegments, encodeSegment, probeSegment } from "../src/media/index.js";
import {
  JOB_ASSERTION,
  NoCredentialsError,
  SEGMENT_ASSERTION,
  SIGNER_ASSERTION,
  TRAINED_ALGORITHMIC_MEDIA,
  assertionData,
  checkBinding,
  createProvenanceIdentity,
  loadOrCreateProvenanceIdentity,
  readCredentials,
  signMp4,
  type ProvenanceIdentity,
} from "../src/provenance/index.js";

const shape = { width: 32, height: 32, fps: 4 };
const generator = { version: "0.1.0", model: `0x${"ab".repeat(32)}` };
const client = new Wallet(`0x${"11".repeat(32)}`);
const provider = new Wallet(`0x${"22".repeat(32)}`);
let dir: string;
let clientId: ProvenanceIdentity;
let providerId: ProvenanceIdentity;
let plain: Uint8Array[];
let segments: Uint8Array[];
let video: Uint8Array;

/** A second of frames whose colour depends on `n`, so segments differ. */
function frames(n: number): Uint8Array[] {
  return Array.from({ length: shape.fps }, (_, f) => new Uint8Array(shape.width * shape.height * 3).fill((n * 60 + f * 10) % 256));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rendermesh-provenance-test-"));
  clientId = await createProvenanceIdentity(client);
  providerId = await createProvenanceIdentity(provider);
  plain = [];
  segments = [];
  for (let i = 0; i < 2; i++) {
    const mp4 = await encodeSegment(frames(i), shape);
    plain.push(mp4);
    segments.push(
      await signMp4({
        mp4,
        identity: providerId,
        title: `segment-${i}.mp4`,
        generator,
        assertions: [{ label: SEGMENT_ASSERTION, data: { segment: i } }],
      }),
    );
  }
  const joined = join(dir, "joined.mp4");
  await concatSegments(segments, joined);
  video = await signMp4({
    mp4: new Uint8Array(await readFile(joined)),
    identity: clientId,
    title: "video.mp4",
    generator,
    assertions: [{ label: JOB_ASSERTION, data: { jobId: "0x01" } }],
    ingredients: segments.map((mp4, i) => ({ title: `segment-${i}.mp4`, mp4 })),
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("signMp4 / readCredentials", () => {
  test("default: a signed video reads back as a valid manifest with its actions, assertions, binding and ingredients", async () => {
    const creds = await readCredentials(video);
    expect(creds.state).toBe("Valid");
    expect(creds.failures).toEqual([]);
    const actions = assertionData<{ actions: Array<{ action: string; digitalSourceType: string }> }>(creds.active, "c2pa.actions.v2");
    expect(actions?.actions[0]).toMatchObject({ action: "c2pa.created", digitalSourceType: TRAINED_ALGORITHMIC_MEDIA });
    expect(creds.active.claimGenerator[0]).toMatchObject({ name: "Rendermesh", version: "0.1.0", "org.rendermesh.model": generator.model });
    expect(assertionData(creds.active, JOB_ASSERTION)).toEqual({ jobId: "0x01" });
    expect(checkBinding(assertionData(creds.active, SIGNER_ASSERTION), creds.active.signerSpki)).toEqual({ ok: true });
    expect(creds.active.ingredients.map((i) => i.relationship)).toEqual(["componentOf", "componentOf"]);
    for (const ingredient of creds.active.ingredients) {
      const m = creds.manifests.get(ingredient.activeManifest!)!;
      expect(checkBinding(assertionData(m, SIGNER_ASSERTION), m.signerSpki)).toEqual({ ok: true });
      expect((assertionData(m, SIGNER_ASSERTION) as { address: string }).address).toBe(provider.address);
    }
  });

  test("behavior: credentialed segments join without re-encoding into the same frames as plain ones", async () => {
    const fromPlain = await concatSegments(plain, join(dir, "plain.mp4"));
    const fromSigned = await probeSegment(join(dir, "joined.mp4"));
    expect(fromSigned.frames).toBe(fromPlain.frames);
    expect(fromSigned.frames).toBe(2 * shape.fps);
  });

  test("behavior: the plain c2pa-rs reader (c2pa-wasm, no project code) accepts the manifest", async () => {
    const wasm = await import("@contentauth/c2pa-wasm");
    wasm.initSync({ module: readFileSync(createRequire(import.meta.url).resolve("@contentauth/c2pa-wasm/c2pa.wasm")) });
    const reader = await wasm.WasmReader.fromBytes("video/mp4", video);
    const store = JSON.parse(reader.json()) as {
      validation_state: string;
      validation_results: { activeManifest: { failure: Array<{ code: string }>; success: Array<{ code: string }> } };
    };
    expect(store.validation_state).toBe("Valid");
    expect(store.validation_results.activeManifest.failure.map((f) => f.code)).toEqual(["signingCredential.untrusted"]);
    expect(store.validation_results.activeManifest.success.map((s) => s.code)).toEqual(
      expect.arrayContaining(["claimSignature.validated", "assertion.bmffHash.match"]),
    );
  });

  test("behavior: a segment without credentials (an older provider) is still an ingredient, without a manifest", async () => {
    const joined = join(dir, "joined-plain.mp4");
    await concatSegments(plain, joined);
    const signed = await signMp4({
      mp4: new Uint8Array(await readFile(joined)),
      identity: clientId,
      title: "video.mp4",
      generator,
      assertions: [],
      ingredients: plain.map((mp4, i) => ({ title: `segment-${i}.mp4`, mp4 })),
    });
    const creds = await readCredentials(signed);
    expect(creds.failures).toEqual([]);
    expect(creds.active.ingredients.map((i) => i.activeManifest)).toEqual([undefined, undefined]);
  });

  test("error: edited bytes fail the content hash", async () => {
    const tampered = video.slice();
    tampered[tampered.length - 64]! ^= 0xff;
    const creds = await readCredentials(tampered);
    expect(creds.state).toBe("Invalid");
    expect(creds.contentMismatch.map((f) => f.code)).toContain("assertion.bmffHash.mismatch");
  });

  test("error: a file that is not an MP4 says so", async () => {
    await expect(readCredentials(new TextEncoder().encode("not a video at all"))).rejects.toMatchObject({
      name: "ProvenanceError",
      code: "NOT_AN_MP4",
    });
  });

  test("error: a file without a manifest says so", async () => {
    await expect(readCredentials(plain[0]!)).rejects.toBeInstanceOf(NoCredentialsError);
  });

  test("error: a binding copied into a manifest signed by another key does not match its certificate", async () => {
    const thief = await createProvenanceIdentity(new Wallet(`0x${"33".repeat(32)}`));
    const forged = await signMp4({
      mp4: plain[0]!,
      identity: { ...thief, binding: clientId.binding },
      title: "x.mp4",
      generator,
      assertions: [],
    });
    const creds = await readCredentials(forged);
    expect(creds.failures).toEqual([]);
    const check = checkBinding(assertionData(creds.active, SIGNER_ASSERTION), creds.active.signerSpki);
    expect(check).toEqual({ ok: false, reason: `${client.address} vouched for another key than the one that signed this manifest` });
  });
});

describe("loadOrCreateProvenanceIdentity", () => {
  test("default: made once, then read back from the data dir", async () => {
    const dataDir = join(dir, "data");
    const a = await loadOrCreateProvenanceIdentity(dataDir, client);
    const b = await loadOrCreateProvenanceIdentity(dataDir, client);
    expect(b.binding).toEqual(a.binding);
    expect(Buffer.from(b.chain[0]!)).toEqual(Buffer.from(a.chain[0]!));
    const signed = await signMp4({ mp4: plain[0]!, identity: b, title: "x.mp4", generator, assertions: [] });
    const creds = await readCredentials(signed);
    expect(checkBinding(assertionData(creds.active, SIGNER_ASSERTION), creds.active.signerSpki)).toEqual({ ok: true });
  });

  test("behavior: a key bound to another address is replaced", async () => {
    const dataDir = join(dir, "data2");
    const a = await loadOrCreateProvenanceIdentity(dataDir, client);
    const b = await loadOrCreateProvenanceIdentity(dataDir, provider);
    expect(b.binding.address).toBe(provider.address);
    expect(b.binding.key).not.toBe(a.binding.key);
  });

  test("error: an unreadable key file is reported with its path", async () => {
    const dataDir = join(dir, "data3");
    await loadOrCreateProvenanceIdentity(dataDir, client);
    await writeFile(join(dataDir, "provenance", "chain.pem"), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    await expect(loadOrCreateProvenanceIdentity(dataDir, client)).rejects.toMatchObject({ code: "PROVENANCE_KEY_UNREADABLE" });
  });
});
