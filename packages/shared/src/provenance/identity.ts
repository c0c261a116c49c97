import { webcrypto } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as x509 from "@peculiar/x509";
import { getAddress } from "ethers";
import { signBinding, checkBinding, type MessageSigner, type SignerBinding } from "./binding.js";
import { ProvenanceError } from "./errors.js";

/**
 * A party's provenance identity: a P-256 key, its X.509 certificate chain
 * (an end-entity certificate for Content Credentials under a root made for
 * this one key; the root's private key is thrown away once it has signed),
 * and the binding by which the party's Ethereum address vouches for the key.
 */
export interface ProvenanceIdentity {
  address: string;
  privateKey: webcrypto.CryptoKey;
  /** DER certificates, end-entity first. */
  chain: Uint8Array[];
  binding: SignerBinding;
}

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
/** id-kp-emailProtection: one of the extended key usages the C2PA certificate profile accepts. */
const EKU_EMAIL_PROTECTION = "1.3.6.1.5.5.7.3.4";
const YEAR_MS = 365 * 24 * 3600 * 1000;

// Node's WebCrypto is the DOM's `Crypto` and its keys the DOM's `CryptoKey`, which this package's types (no DOM lib) do not name.
type X509Crypto = ReturnType<typeof x509.cryptoProvider.get>;
type X509Key = x509.X509CertificateCreateWithKeyParams["signingKey"];
x509.cryptoProvider.set(webcrypto as unknown as X509Crypto);
const key = (k: webcrypto.CryptoKey) => k as unknown as X509Key;

const serial = () =>
  Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString("hex")
    .replace(/^[89a-f]/, "1");

/**
 * Makes a fresh identity for `signer` (in memory). The certificate follows
 * the C2PA profile c2pa-rs enforces: v3, ECDSA P-256 with SHA-256, not a CA,
 * digitalSignature key usage, an accepted EKU, key identifiers, and an
 * issuer that is not itself.
 */
export async function createProvenanceIdentity(
  signer: MessageSigner,
  options: { now?: Date; years?: number } = {},
): Promise<ProvenanceIdentity> {
  const address = getAddress(signer.address);
  const now = options.now ?? new Date();
  const notBefore = new Date(now.getTime() - 3600_000); // an hour of clock skew
  const notAfter = new Date(now.getTime() + (options.years ?? 10) * YEAR_MS);
  const root = await webcrypto.subtle.generateKey(ALG, false, ["sign", "verify"]);
  const rootCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=Rendermesh provenance root for ${address}, O=Rendermesh`,
    notBefore,
    notAfter,
    keys: { publicKey: key(root.publicKey), privateKey: key(root.privateKey) },
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(key(root.publicKey)),
    ],
  });
  const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${address}, O=Rendermesh`,
    issuer: rootCert.subject,
    notBefore,
    notAfter,
    publicKey: key(keys.publicKey),
    signingKey: key(root.privateKey),
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([EKU_EMAIL_PROTECTION], false),
      await x509.SubjectKeyIdentifierExtension.create(key(keys.publicKey)),
      await x509.AuthorityKeyIdentifierExtension.create(rootCert, false),
    ],
  });
  const spki = new Uint8Array(leaf.publicKey.rawData);
  const binding = await signBinding(signer, spki);
  return { address, privateKey: keys.privateKey, chain: [new Uint8Array(leaf.rawData), new Uint8Array(rootCert.rawData)], binding };
}

/** The files of an identity inside a data dir. */
export function provenancePaths(dataDir: string) {
  const dir = join(dataDir, "provenance");
  return { dir, key: join(dir, "key.pem"), chain: join(dir, "chain.pem"), binding: join(dir, "binding.json") };
}

const pem = (label: string, der: Uint8Array) =>
  `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "")}\n-----END ${label}-----\n`;
const unpem = (text: string, label: string): Uint8Array[] =>
  [...text.matchAll(new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`, "g"))].map(
    (m) => new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64")),
  );

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data, { mode });
  await rename(tmp, path);
}

/**
 * The identity kept in `<dataDir>/provenance/` for `signer`, made on first
 * use. An identity bound to another address (the wallet changed) is replaced.
 */
export async function loadOrCreateProvenanceIdentity(dataDir: string, signer: MessageSigner): Promise<ProvenanceIdentity> {
  const paths = provenancePaths(dataDir);
  const address = getAddress(signer.address);
  if (existsSync(paths.key) && existsSync(paths.chain) && existsSync(paths.binding)) {
    try {
      const [keyPem, chainPem, bindingJson] = await Promise.all([
        readFile(paths.key, "utf8"),
        readFile(paths.chain, "utf8"),
        readFile(paths.binding, "utf8"),
      ]);
      const chain = unpem(chainPem, "CERTIFICATE");
      const binding = JSON.parse(bindingJson) as SignerBinding;
      const leaf = new x509.X509Certificate(new Uint8Array(chain[0]!));
      if (
        getAddress(binding.address) === address &&
        checkBinding(binding, new Uint8Array(leaf.publicKey.rawData)).ok &&
        leaf.notAfter.getTime() > Date.now()
      ) {
        const der = unpem(keyPem, "PRIVATE KEY")[0]!;
        const privateKey = await webcrypto.subtle.importKey("pkcs8", der, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
        return { address, privateKey, chain, binding };
      }
    } catch (cause) {
      throw new ProvenanceError("PROVENANCE_KEY_UNREADABLE", `The provenance key in ${paths.dir} cannot be read.`, {
        cause,
        hint: `Move ${paths.dir} away; a new key is made on the next run.`,
      });
    }
  }
  const identity = await createProvenanceIdentity(signer);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  const der = new Uint8Array(await webcrypto.subtle.exportKey("pkcs8", identity.privateKey));
  await writeAtomic(paths.key, pem("PRIVATE KEY", der), 0o600);
  await writeAtomic(paths.chain, identity.chain.map((c) => pem("CERTIFICATE", c)).join(""), 0o644);
  await writeAtomic(paths.binding, `${JSON.stringify(identity.binding, null, 2)}\n`, 0o644);
  return identity;
}
