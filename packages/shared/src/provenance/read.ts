import * as x509 from "@peculiar/x509";
import { CONTENT_MISMATCH_CODES, MP4, UNTRUSTED_CREDENTIAL } from "./constants.js";
import { coseCertChain } from "./cose.js";
import { NoCredentialsError, ProvenanceError } from "./errors.js";
import { manifestSignature } from "./jumbf.js";
import { c2pa, c2paMessage } from "./wasm.js";

export interface ValidationStatus {
  code: string;
  explanation?: string | undefined;
  url?: string | undefined;
}

/** One manifest as c2pa-rs reads it, with the signer's certificate chain found beside it. */
export interface ReadManifest {
  label: string;
  title?: string | undefined;
  claimGenerator: Array<Record<string, unknown>>;
  assertions: Array<{ label: string; data: unknown }>;
  ingredients: Array<{ title?: string; relationship?: string; activeManifest?: string | undefined }>;
  signatureInfo: Record<string, unknown> | undefined;
  /** DER certificates of the signature, signer first (empty when they could not be found). */
  certChain: Uint8Array[];
  /** The signer's SubjectPublicKeyInfo (DER), if its certificate was found. */
  signerSpki: Uint8Array | undefined;
}

export interface Credentials {
  /** c2pa-rs's verdict: `Invalid`, `Valid` (well-formed and signed, signer not in a trust list) or `Trusted`. */
  state: string;
  active: ReadManifest;
  /** Every manifest of the store by label (the active one and its ingredients'). */
  manifests: Map<string, ReadManifest>;
  /** Failures reported for the active manifest, except that its certificate is in no public trust list. */
  failures: ValidationStatus[];
  /** Of `failures`, those that mean the media's bytes are not the signed ones. */
  contentMismatch: ValidationStatus[];
  /** Failures inside ingredient manifests. */
  ingredientFailures: ValidationStatus[];
  /** The raw manifest store JSON of c2pa-rs, for `--json` and debugging. */
  store: unknown;
}

type StoreJson = {
  active_manifest?: string;
  manifests?: Record<string, Record<string, unknown>>;
  validation_state?: string;
  validation_results?: {
    activeManifest?: { failure?: ValidationStatus[] };
    ingredientDeltas?: Array<{ validationDeltas?: { failure?: ValidationStatus[] } }>;
  };
  validation_status?: ValidationStatus[];
};

function toManifest(mp4: Uint8Array, label: string, m: Record<string, unknown>): ReadManifest {
  const sig = manifestSignature(mp4, label);
  const certChain = sig ? (safe(() => coseCertChain(sig)) ?? []) : [];
  const leaf = certChain[0] ? safe(() => new x509.X509Certificate(new Uint8Array(certChain[0]!))) : undefined;
  const ingredients = (m.ingredients as Array<Record<string, unknown>> | undefined) ?? [];
  return {
    label,
    title: m.title as string | undefined,
    claimGenerator: (m.claim_generator_info as Array<Record<string, unknown>> | undefined) ?? [],
    assertions: ((m.assertions as Array<{ label: string; data: unknown }> | undefined) ?? []).map((a) => ({
      label: a.label,
      data: a.data,
    })),
    ingredients: ingredients.map((i) => ({
      title: i.title as string,
      relationship: i.relationship as string,
      activeManifest: i.active_manifest as string | undefined,
    })),
    signatureInfo: m.signature_info as Record<string, unknown> | undefined,
    certChain,
    signerSpki: leaf ? new Uint8Array(leaf.publicKey.rawData) : undefined,
  };
}

function safe<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    return undefined;
  }
}

/**
 * Reads and validates (with c2pa-rs) the Content Credentials embedded in an
 * MP4. Throws `NoCredentialsError` when there are none; otherwise returns
 * what c2pa-rs found, failures included, for the caller to judge.
 *
 * @example
 * const creds = await readCredentials(await readFile("video.mp4"));
 * if (creds.failures.length > 0) console.log("invalid:", creds.failures);
 */
export async function readCredentials(mp4: Uint8Array): Promise<Credentials> {
  const { WasmReader } = await c2pa();
  let json: StoreJson;
  try {
    const reader = await WasmReader.fromBytes(MP4, mp4);
    try {
      json = JSON.parse(reader.json()) as StoreJson;
    } finally {
      reader.free();
    }
  } catch (cause) {
    const message = c2paMessage(cause);
    if (/JumbfNotFound|ManifestNotFound|ProvenanceMissing/.test(message))
      throw new NoCredentialsError("The file carries no Content Credentials (no C2PA manifest is embedded, or it was stripped).", {
        cause,
      });
    if (/InvalidAsset|UnsupportedType/.test(message))
      throw new ProvenanceError("NOT_AN_MP4", `The file is not an MP4 that c2pa-rs can read: ${message}.`, { cause });
    throw new ProvenanceError("CREDENTIALS_UNREADABLE", `The file's C2PA manifest cannot be read: ${message}.`, { cause });
  }
  const label = json.active_manifest;
  const raw = label ? json.manifests?.[label] : undefined;
  if (!label || !raw) throw new NoCredentialsError("The file's C2PA store has no active manifest.");
  const manifests = new Map(Object.entries(json.manifests ?? {}).map(([l, m]) => [l, toManifest(mp4, l, m)]));
  const all = json.validation_results?.activeManifest?.failure ?? json.validation_status ?? [];
  const failures = all.filter((f) => f.code !== UNTRUSTED_CREDENTIAL);
  const mismatch = new Set<string>(CONTENT_MISMATCH_CODES);
  const ingredientFailures = (json.validation_results?.ingredientDeltas ?? [])
    .flatMap((d) => d.validationDeltas?.failure ?? [])
    .filter((f) => f.code !== UNTRUSTED_CREDENTIAL);
  return {
    state: json.validation_state ?? "Invalid",
    active: manifests.get(label)!,
    manifests,
    failures,
    contentMismatch: failures.filter((f) => mismatch.has(f.code)),
    ingredientFailures,
    store: json,
  };
}

/** The data of the first assertion labelled `label` in `manifest`. */
export function assertionData<T = unknown>(manifest: ReadManifest, label: string): T | undefined {
  return manifest.assertions.find((a) => a.label === label)?.data as T | undefined;
}
