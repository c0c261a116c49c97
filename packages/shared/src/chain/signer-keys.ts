import { secp256k1 } from "@noble/curves/secp256k1.js";
import { computeAddress, getAddress, Signature, SigningKey } from "ethers";

type Point = typeof secp256k1.Point.BASE;

const { Point: CurvePoint } = secp256k1;
const Fn = CurvePoint.Fn;

/**
 * wNAF window of a remembered key's table: 2 ms to build and ~50 KB a key,
 * and a check against it costs ~0.5 ms where a recovery costs ~1.5 (measured,
 * 2-core VM). Wider windows gain little (8: 0.44 ms a check, 12 ms to build).
 */
const WINDOW = 4;

/**
 * ECDSA recovery that remembers the public keys it recovered. A party checks
 * the same few signers over and over (the job's coordinator, its providers,
 * the client paying vouchers), and recovering a key costs a generic scalar
 * multiplication and a square root every time. Knowing the key, checking a
 * signature against it is one multiplication by a precomputed table of that
 * key and one by the generator's.
 *
 * `recover(digest, signature, likely)` returns exactly what
 * `ethers.recoverAddress(digest, signature)` returns: the key check accepts a
 * signature iff R = (h·G + r·Q)/s has x = r and the y parity that v names,
 * which is the one point recovery rebuilds from (r, v), and then recovery
 * gives Q = (s·R − h·G)/r back. Anything else falls through to the full
 * recovery, which names the real signer or throws for a malformed signature.
 * So `likely` is only a guess that makes the right answer cheaper: a wrong
 * guess costs one key check more and can never change the answer. A key is
 * remembered when a recovery finds the guessed signer, so only signers that
 * someone expected take room.
 */
export class SignerKeys {
  readonly #keys = new Map<string, Point>();
  #hits = 0;

  constructor(readonly capacity = 256) {
    if (!(Number.isSafeInteger(capacity) && capacity >= 1)) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  /** How many keys are remembered (at most `capacity`, the least recently used go first). */
  get size(): number {
    return this.#keys.size;
  }

  /** How many checks a remembered key answered (without a recovery). */
  get hits(): number {
    return this.#hits;
  }

  /** The checksummed address that signed the 32-byte `digest`; throws for a malformed signature, as ethers does. */
  recover(digest: string, signature: string, likely?: string): string {
    const sig = Signature.from(signature);
    const guess = likely === undefined ? undefined : checksummed(likely);
    const key = guess === undefined ? undefined : this.#keys.get(guess);
    if (guess !== undefined && key !== undefined && /^0x[0-9a-fA-F]{64}$/.test(digest) && signs(key, BigInt(digest), sig)) {
      this.#keys.delete(guess);
      this.#keys.set(guess, key);
      this.#hits++;
      return guess;
    }
    const publicKey = SigningKey.recoverPublicKey(digest, sig);
    const address = computeAddress(publicKey);
    // Only a signer that was expected is remembered: signatures by keys nobody asked for (junk sent to a provider
    // or a coordinator) neither cost a table each nor push the expected signers out.
    if (address === guess && key === undefined) this.#remember(address, publicKey);
    return address;
  }

  #remember(address: string, publicKey: string): void {
    const point = CurvePoint.fromHex(publicKey.slice(2));
    point.precompute(WINDOW, false);
    this.#keys.set(address, point);
    if (this.#keys.size > this.capacity) this.#keys.delete(this.#keys.keys().next().value as string);
  }
}

function checksummed(address: string): string | undefined {
  try {
    return getAddress(address);
  } catch {
    return undefined;
  }
}

/** Whether (r, s, v) is an ECDSA signature of `digest` by `key`, with the R that recovery would rebuild from (r, v). */
function signs(key: Point, digest: bigint, sig: Signature): boolean {
  const r = BigInt(sig.r);
  const s = BigInt(sig.s);
  if (r <= 0n || r >= Fn.ORDER || s <= 0n || s >= Fn.ORDER) return false;
  const sInv = Fn.inv(s);
  const R = CurvePoint.BASE.multiplyUnsafe(Fn.mul(Fn.create(digest), sInv)).add(key.multiplyUnsafe(Fn.mul(r, sInv)));
  if (R.is0()) return false;
  const { x, y } = R.toAffine();
  return x === r && Number(y & 1n) === sig.yParity;
}

/** The process's remembered signers, shared by every signature check in it. */
export const signerKeys = new SignerKeys();
