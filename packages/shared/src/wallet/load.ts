import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Wallet, type Provider } from "ethers";
import { BaseError } from "../errors.js";

export class WalletError extends BaseError {
  override name = "WalletError";
  constructor(shortMessage: string, options: { hint?: string; cause?: unknown } = {}) {
    super("WALLET", shortMessage, options);
  }
}

export interface LoadWalletOptions {
  /** A 0x private key given directly (tests, dev network). */
  privateKey?: string | undefined;
  /** Path of an encrypted JSON keystore (Web3 Secret Storage, as geth and ethers write). */
  keystore?: string | undefined;
  /** Keystore password; default: the `RENDERMESH_KEYSTORE_PASSWORD` env var. */
  password?: string | undefined;
  provider?: Provider | undefined;
  env?: NodeJS.ProcessEnv;
}

/** Env var that may hold a private key. Never logged. */
export const PRIVATE_KEY_ENV = "RENDERMESH_PRIVATE_KEY";
export const KEYSTORE_PASSWORD_ENV = "RENDERMESH_KEYSTORE_PASSWORD";

function fromPrivateKey(key: string, provider?: Provider): Wallet {
  const hex = key.startsWith("0x") ? key : `0x${key}`;
  if (!/^0x[0-9a-fA-F]{64}$/.test(hex)) {
    // Never echo the value: it may be a real key with a typo.
    throw new WalletError("The private key is not 32 bytes of hex.", { hint: `Set ${PRIVATE_KEY_ENV} to 0x followed by 64 hex digits.` });
  }
  return new Wallet(hex, provider ?? null);
}

/**
 * The signer a daemon or CLI acts as, from (first that is set): an explicit
 * private key, an encrypted keystore file, or the RENDERMESH_PRIVATE_KEY env var.
 */
export async function loadWallet(opts: LoadWalletOptions = {}): Promise<Wallet> {
  const env = opts.env ?? process.env;
  if (opts.privateKey) return fromPrivateKey(opts.privateKey, opts.provider);
  if (opts.keystore) {
    if (!existsSync(opts.keystore)) {
      throw new WalletError(`Keystore file ${opts.keystore} does not exist.`, {
        hint: "Create one with `rendermesh wallet create` or check the path.",
      });
    }
    const password = opts.password ?? env[KEYSTORE_PASSWORD_ENV];
    if (password === undefined) {
      throw new WalletError("The keystore needs a password.", { hint: `Set ${KEYSTORE_PASSWORD_ENV}.` });
    }
    try {
      const w = await Wallet.fromEncryptedJson(readFileSync(opts.keystore, "utf8"), password);
      return new Wallet(w.privateKey, opts.provider ?? null);
    } catch (cause) {
      throw new WalletError(`Cannot decrypt keystore ${opts.keystore}: wrong password or not a keystore file.`, { cause });
    }
  }
  const key = env[PRIVATE_KEY_ENV];
  if (key) return fromPrivateKey(key, opts.provider);
  throw new WalletError("No key configured.", {
    hint: `Set ${PRIVATE_KEY_ENV}, or pass --keystore FILE with ${KEYSTORE_PASSWORD_ENV} set.`,
  });
}

/** Encrypts a key into a keystore file (mode 0600). Refuses to overwrite. */
export async function writeKeystore(wallet: Wallet, path: string, password: string): Promise<void> {
  if (existsSync(path)) throw new WalletError(`Keystore file ${path} already exists; not overwriting it.`);
  if (password.length < 8) throw new WalletError("The keystore password must be at least 8 characters.");
  mkdirSync(dirname(path), { recursive: true });
  const json = await wallet.encrypt(password);
  writeFileSync(path, json, { mode: 0o600 });
}
