import { randomUUID } from "node:crypto";
import { chmod, link, mkdir, open, readFile, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PeerId, PrivateKey } from "@libp2p/interface";
import { peerIdFromMultihash } from "@libp2p/peer-id";
import * as Digest from "multiformats/hashes/digest";
import { PEER_KEY_FILE } from "./constants.js";
import { InvalidPeerIdError, PeerKeyError } from "./errors.js";

const isErrno = (err: unknown, code: string): boolean => (err as { code?: unknown } | null)?.code === code;

/**
 * The node's libp2p private key, kept in `<dataDir>/peer.key` (protobuf
 * encoded, mode 0600) so its peer id, which is bound on-chain to the
 * provider's address, survives restarts. Creates an Ed25519 key on first
 * use; never overwrites an existing file, even when two processes race.
 */
export async function loadOrCreatePeerKey(dataDir: string): Promise<PrivateKey> {
  const file = join(dataDir, PEER_KEY_FILE);
  const existing = await readKeyFile(file);
  if (existing) return existing;

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = await generateKeyPair("Ed25519");
  const tmp = `${file}.${randomUUID()}.tmp`;
  const handle = await open(tmp, "wx", 0o600);
  try {
    await handle.writeFile(privateKeyToProtobuf(key));
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // link() fails if peer.key appeared meanwhile: the first writer wins.
    await link(tmp, file);
  } catch (err) {
    if (!isErrno(err, "EEXIST")) throw new PeerKeyError(`Cannot write ${file}.`, { cause: err });
    const winner = await readKeyFile(file);
    if (!winner) throw new PeerKeyError(`Cannot read ${file}.`, { cause: err });
    return winner;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return key;
}

async function readKeyFile(file: string): Promise<PrivateKey | undefined> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw new PeerKeyError(`Cannot read ${file}.`, { cause: err, hint: "Check the permissions of the data dir." });
  }
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (cause) {
    throw new PeerKeyError(`${file} is not a libp2p private key.`, {
      cause,
      hint: "Restore it from a backup. Moving it away creates a new peer id, which must then be re-bound on-chain (ProviderRegistry.setPeerId).",
    });
  }
  // A key readable by others is a leaked identity; tighten it like ssh would want.
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) await chmod(file, 0o600);
  return key;
}

/** The peer id's multihash bytes, as stored on-chain (`ProviderRegistry.register(bytes peerId, …)`). */
export function peerIdBytes(peerId: PeerId): Uint8Array {
  return peerId.toMultihash().bytes;
}

/** The peer id from its multihash bytes (or their `0x…` hex, as ethers returns `bytes`). */
export function peerIdFromBytes(bytes: Uint8Array | string): PeerId {
  let raw: Uint8Array;
  if (typeof bytes === "string") {
    if (!/^0x([0-9a-fA-F]{2})+$/.test(bytes)) throw new InvalidPeerIdError(`"${bytes}" is not 0x-prefixed hex bytes.`);
    raw = Uint8Array.from(Buffer.from(bytes.slice(2), "hex"));
  } else {
    raw = bytes;
  }
  try {
    return peerIdFromMultihash(Digest.decode(raw));
  } catch (cause) {
    throw new InvalidPeerIdError("The bytes are not a libp2p peer id multihash.", { cause });
  }
}
