import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { ModelIntegrityError, ModelLoadError } from "./errors.js";
import { ModelManifest, modelId, type Model } from "./manifest.js";

/** Where the manifest of a model file lives: `<file>.manifest.json` beside it. */
export function manifestPath(modelPath: string): string {
  return `${modelPath}.manifest.json`;
}

export interface LoadModelOptions {
  signal?: AbortSignal | undefined;
}

/**
 * Reads an ONNX file and the manifest beside it (`<file>.manifest.json`),
 * validates the manifest and checks that the file's sha256 is its id.
 *
 * @example
 * const model = await loadModel("models/field.onnx");
 * const renderer = await createRenderer({ model });
 */
export async function loadModel(path: string, options: LoadModelOptions = {}): Promise<Model> {
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file, { signal: options.signal });
    } catch (cause) {
      throw new ModelLoadError(`Cannot read the ${what} ${file}.`, {
        cause,
        hint:
          what === "model manifest"
            ? "Put the manifest beside the model as <file>.manifest.json (saveModel writes both)."
            : "Check the model path.",
      });
    }
  };
  const bytes = new Uint8Array(await read(path, "model file"));
  const text = (await read(manifestPath(path), "model manifest")).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ModelLoadError(`The model manifest ${manifestPath(path)} is not valid JSON.`, { cause });
  }
  const parsed = ModelManifest.safeParse(json);
  if (!parsed.success) {
    throw new ModelLoadError(`The model manifest ${manifestPath(path)} is invalid.`, {
      cause: parsed.error,
      details: parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
    });
  }
  const actual = modelId(bytes);
  if (actual !== parsed.data.id) throw new ModelIntegrityError(parsed.data.id, actual, { details: [`file: ${path}`] });
  return { bytes, manifest: parsed.data };
}

/** Writes a model as `<path>` and `<path>.manifest.json`, checking the id first. */
export async function saveModel(model: Model, path: string): Promise<void> {
  const actual = modelId(model.bytes);
  if (actual !== model.manifest.id) throw new ModelIntegrityError(model.manifest.id, actual);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, model.bytes);
  await writeFile(manifestPath(path), `${JSON.stringify(ModelManifest.parse(model.manifest), null, 2)}\n`);
}
