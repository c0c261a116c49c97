import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  ModelIntegrityError,
  ModelLoadError,
  createRenderer,
  defaultModel,
  loadModel,
  manifestPath,
  saveModel,
} from "../src/model/index.js";
import { renderAll, silentLogger, smallSpec } from "./model-fixtures.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "rendermesh-model-test-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadModel", () => {
  test("default: loads a saved model with its manifest, and it renders", async () => {
    const model = defaultModel();
    const path = join(dir, "field.onnx");
    await saveModel(model, path);
    const loaded = await loadModel(path);
    expect(loaded.manifest).toEqual(model.manifest);
    expect(Buffer.from(loaded.bytes).equals(Buffer.from(model.bytes))).toBe(true);
    const renderer = await createRenderer({ model: loaded, device: "cpu", logger: silentLogger });
    try {
      expect(await renderAll(renderer, smallSpec(), 0, 1)).toHaveLength(1);
    } finally {
      await renderer.close();
    }
  });

  test("error: bytes that do not hash to the manifest id are refused", async () => {
    const path = join(dir, "field.onnx");
    await saveModel(defaultModel(), path);
    const bytes = await readFile(path);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    await writeFile(path, bytes);
    const err = await loadModel(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelIntegrityError);
    expect((err as ModelIntegrityError).expected).toBe(defaultModel().manifest.id);
  });

  test("error: a missing or invalid manifest is a ModelLoadError", async () => {
    const path = join(dir, "field.onnx");
    await writeFile(path, defaultModel().bytes);
    await expect(loadModel(path)).rejects.toMatchObject({ name: "ModelLoadError", code: "MODEL_LOAD" });
    await writeFile(manifestPath(path), JSON.stringify({ ...defaultModel().manifest, limits: { maxWidth: "big" } }));
    const err = await loadModel(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as ModelLoadError).details.some((d) => d.startsWith("limits"))).toBe(true);
  });
});
