import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ModelIntegrityError, ModelLoadError } from "../errors.js";
import { PipelineManifest, pipelineId } from "./manifest.js";

/** The ONNX components of a pipeline by role. */
export type PipelineRole = "tokenizer" | "textEncoder" | "denoiser" | "decoder" | "imageEncoder";

/** A pipeline as a runner uses it: its manifest (with id) and each component's ONNX bytes. */
export interface Pipeline {
  manifest: PipelineManifest & { id: `0x${string}` };
  files: Partial<Record<PipelineRole, Uint8Array>> & { textEncoder: Uint8Array; denoiser: Uint8Array; decoder: Uint8Array };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Checks every component's bytes against the manifest and fills in the id. */
export function assemblePipeline(manifestJson: unknown, files: Pipeline["files"]): Pipeline {
  const parsed = PipelineManifest.safeParse(manifestJson);
  if (!parsed.success) {
    throw new ModelLoadError("The pipeline manifest is invalid.", {
      cause: parsed.error,
      details: parsed.error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`),
    });
  }
  const manifest = parsed.data;
  const id = pipelineId(manifest);
  if (manifest.id !== undefined && manifest.id !== id)
    throw new ModelIntegrityError(manifest.id, id, { details: ["the manifest's id is not the sha256 of its canonical JSON"] });
  for (const [role, component] of Object.entries(manifest.components)) {
    if (component === undefined || !("sha256" in component)) continue;
    const bytes = files[role as PipelineRole];
    if (bytes === undefined) throw new ModelLoadError(`The pipeline ${manifest.name} has no bytes for its ${role}.`);
    const actual = sha256Hex(bytes);
    if (actual !== component.sha256)
      throw new ModelIntegrityError(component.sha256, actual, { details: [`component: ${role} (${component.file})`] });
  }
  return { manifest: { ...manifest, id }, files };
}

/**
 * Reads a pipeline manifest and the ONNX files it names (beside it), checks
 * each file's sha256, and computes the pipeline id.
 *
 * @example
 * const pipeline = await loadPipeline("models/diffusion-default/pipeline.json");
 */
export async function loadPipeline(manifestFile: string): Promise<Pipeline> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(manifestFile, "utf8"));
  } catch (cause) {
    throw new ModelLoadError(`Cannot read the pipeline manifest ${manifestFile}.`, { cause, hint: "Give the path of a pipeline.json." });
  }
  const manifest = PipelineManifest.safeParse(json);
  if (!manifest.success) return assemblePipeline(json, {} as Pipeline["files"]);
  const files: Record<string, Uint8Array> = {};
  for (const [role, component] of Object.entries(manifest.data.components)) {
    if (component === undefined || !("file" in component)) continue;
    const path = join(dirname(manifestFile), component.file);
    try {
      files[role] = new Uint8Array(await readFile(path));
    } catch (cause) {
      throw new ModelLoadError(`Cannot read the ${role} of pipeline ${manifest.data.name}: ${path}.`, { cause });
    }
  }
  return assemblePipeline(json, files as Pipeline["files"]);
}
