import { CLAIM_GENERATOR, MP4, SIGNER_ASSERTION, TRAINED_ALGORITHMIC_MEDIA } from "./constants.js";
import { coseSign1, reserveSizeFor } from "./cose.js";
import { ProvenanceError } from "./errors.js";
import type { ProvenanceIdentity } from "./identity.js";
import { BytesBlob, c2pa, c2paMessage } from "./wasm.js";

export interface Generator {
  /** Rendermesh's version. */
  version: string;
  /** The model (manifest sha256) or pipeline id that made the frames. */
  model: string;
  /** A name for the model, when known. */
  modelName?: string | undefined;
}

export interface SignMp4Parameters {
  mp4: Uint8Array;
  identity: ProvenanceIdentity;
  /** The asset's title in the manifest (a file name). */
  title: string;
  generator: Generator;
  /** Assertions besides the actions and the signer binding, which are always added. */
  assertions: ReadonlyArray<{ label: string; data: unknown }>;
  /** Files the asset was made from (segments), each listed as a `componentOf` ingredient with its own manifest. */
  ingredients?: ReadonlyArray<{ title: string; mp4: Uint8Array }> | undefined;
}

/**
 * Embeds a signed C2PA manifest in an MP4: a `c2pa.created` action for
 * trained algorithmic media, the claim generator (Rendermesh, its version,
 * the model id), the given assertions and the binding that ties the signing
 * key to an Ethereum address. Returns the new file's bytes.
 *
 * @example
 * const signed = await signMp4({ mp4, identity, title: "video.mp4", generator, assertions: [{ label: JOB_ASSERTION, data }] });
 */
export async function signMp4(params: SignMp4Parameters): Promise<Uint8Array> {
  const { WasmBuilder } = await c2pa();
  const agent = {
    name: CLAIM_GENERATOR,
    version: params.generator.version,
    "org.rendermesh.model": params.generator.model,
    ...(params.generator.modelName ? { "org.rendermesh.modelName": params.generator.modelName } : {}),
  };
  const definition = {
    claim_generator_info: [agent],
    title: params.title,
    format: MP4,
    assertions: [
      {
        label: "c2pa.actions.v2",
        data: { actions: [{ action: "c2pa.created", digitalSourceType: TRAINED_ALGORITHMIC_MEDIA, softwareAgent: agent }] },
      },
      ...params.assertions.map((a) => ({ label: a.label, data: a.data })),
      { label: SIGNER_ASSERTION, data: params.identity.binding },
    ],
  };
  const builder = WasmBuilder.fromJson(JSON.stringify(definition));
  try {
    for (const ingredient of params.ingredients ?? []) {
      await builder.addIngredientFromBlob(
        JSON.stringify({ title: ingredient.title, relationship: "componentOf" }),
        MP4,
        new BytesBlob(ingredient.mp4),
      );
    }
    const reserveSize = reserveSizeFor(params.identity.chain);
    const signer = {
      alg: "es256",
      reserveSize,
      sign: (claim: Uint8Array) =>
        coseSign1(claim, params.identity.privateKey, params.identity.chain, reserveSize) as Promise<Uint8Array<ArrayBuffer>>,
    };
    return await builder.sign(signer, [], MP4, new BytesBlob(params.mp4));
  } catch (cause) {
    throw new ProvenanceError("SIGNING_FAILED", `Embedding Content Credentials in ${params.title} failed: ${c2paMessage(cause)}.`, {
      cause,
    });
  } finally {
    builder.free();
  }
}
