import { describe, expect, test } from "vitest";
import { Signature, SigningKey, Wallet, getAddress, hexlify, keccak256, randomBytes, recoverAddress, toBeHex, toUtf8Bytes } from "ethers";
import { eip712Domain, InvalidSignatureError, signDelivery, verifyDelivery, type Delivery } from "../src/chain/index.js";
import { SignerKeys } from "../src/chain/signer-keys.js";

// The secp256k1 group order.
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const alice = new SigningKey(hexlify(randomBytes(32)));
const bob = new SigningKey(hexlify(randomBytes(32)));
const aliceAddress = getAddress(new Wallet(alice.privateKey).address);
const bobAddress = getAddress(new Wallet(bob.privateKey).address);
const digest = (text: string) => keccak256(toUtf8Bytes(text));

/** What ethers says: the signer's address, or that the signature is malformed. */
function ethersSays(d: string, signature: string): string {
  try {
    return recoverAddress(d, signature);
  } catch {
    return "malformed";
  }
}

function keysSay(keys: SignerKeys, d: string, signature: string, likely?: string): string {
  try {
    return keys.recover(d, signature, likely);
  } catch {
    return "malformed";
  }
}

/** A 65-byte signature from its parts, v as 27/28. */
const raw = (r: bigint, s: bigint, yParity: number) => `${toBeHex(r, 32)}${toBeHex(s, 32).slice(2)}${yParity ? "1c" : "1b"}`;

/** Keys that already know Alice (and Bob when asked), so that the key check, not recovery, answers first. */
function knowing(...signers: SigningKey[]): SignerKeys {
  const keys = new SignerKeys();
  for (const k of signers) keys.recover(digest("warm"), k.sign(digest("warm")).serialized, new Wallet(k.privateKey).address);
  return keys;
}

describe("SignerKeys: recovery with the keys of signers seen before", () => {
  test("an honest signature recovers its signer, first by recovery, then by the remembered key", () => {
    const keys = new SignerKeys();
    const d = digest("segment 0");
    const sig = alice.sign(d).serialized;
    expect(keys.recover(d, sig, aliceAddress)).toBe(aliceAddress);
    expect(keys.size).toBe(1);
    for (let i = 1; i < 5; i++) {
      const di = digest(`segment ${i}`);
      expect(keys.recover(di, alice.sign(di).serialized, aliceAddress)).toBe(aliceAddress);
    }
    expect(keys.size).toBe(1);
    expect(keys.hits).toBe(4);
    // A lower-case or unchecksummed guess is the same guess.
    expect(keys.recover(d, sig, aliceAddress.toLowerCase())).toBe(aliceAddress);
  });

  test("another key's signature, with the victim named as the likely signer, recovers to the real signer", () => {
    const keys = knowing(alice, bob);
    const d = digest("receipt");
    expect(keys.recover(d, bob.sign(d).serialized, aliceAddress)).toBe(bobAddress);
    // …also when the real signer is unknown to the cache.
    const mallory = new SigningKey(hexlify(randomBytes(32)));
    const malloryAddress = getAddress(new Wallet(mallory.privateKey).address);
    expect(knowing(alice).recover(d, mallory.sign(d).serialized, aliceAddress)).toBe(malloryAddress);
  });

  test("Alice's signature of one message does not pass for another message, nor with its v flipped", () => {
    const keys = knowing(alice);
    const signed = alice.sign(digest("pay 1 second"));
    const other = digest("pay 1000 seconds");
    expect(keys.recover(other, signed.serialized, aliceAddress)).not.toBe(aliceAddress);
    expect(keys.recover(other, signed.serialized, aliceAddress)).toBe(ethersSays(other, signed.serialized));
    const d = digest("pay 1 second");
    const flipped = raw(BigInt(signed.r), BigInt(signed.s), signed.yParity ^ 1);
    expect(keysSay(keys, d, flipped, aliceAddress)).not.toBe(aliceAddress);
    expect(keysSay(keys, d, flipped, aliceAddress)).toBe(ethersSays(d, flipped));
  });

  test("the high-s twin of a signature is judged as ethers judges it", () => {
    // (r, n − s) with v flipped is the same ECDSA signature's other form; ethers refuses it when s has its top bit set.
    const keys = knowing(alice);
    for (let i = 0; i < 8; i++) {
      const d = digest(`twin ${i}`);
      const sig = alice.sign(d);
      const twin = raw(BigInt(sig.r), N - BigInt(sig.s), sig.yParity ^ 1);
      expect(keysSay(keys, d, twin, aliceAddress)).toBe(ethersSays(d, twin));
    }
  });

  test("out-of-range and malformed signatures throw, with or without a known key", () => {
    const keys = knowing(alice);
    const d = digest("x");
    const sig = alice.sign(d);
    const r = BigInt(sig.r);
    const s = BigInt(sig.s);
    for (const bad of [
      raw(0n, s, sig.yParity),
      raw(r, 0n, sig.yParity),
      raw(N, s, sig.yParity),
      raw(N + 1n, s, sig.yParity),
      raw(r, N, sig.yParity),
      "0x1234",
      sig.serialized.slice(0, 100),
    ]) {
      expect(ethersSays(d, bad)).toBe("malformed");
      expect(() => keys.recover(d, bad, aliceAddress)).toThrow();
    }
    // A digest that is not 32 bytes is refused as ethers refuses it, even for a known key.
    expect(() => keys.recover(`${d}00`, sig.serialized, aliceAddress)).toThrow();
    expect(() => keys.recover(d.slice(0, 40), sig.serialized, aliceAddress)).toThrow();
  });

  test("any tampering with digest, r, s or v gives exactly ethers' answer, never the guessed signer", () => {
    const keys = knowing(alice, bob);
    const flips = [1n, 2n, 1n << 7n, 1n << 128n, 1n << 254n];
    for (let i = 0; i < 40; i++) {
      const d = digest(`message ${i}`);
      const sig = alice.sign(d);
      const r = BigInt(sig.r);
      const s = BigInt(sig.s);
      const f = flips[i % flips.length] as bigint;
      const cases: Array<[string, string]> = [
        [d, raw(r ^ f, s, sig.yParity)],
        [d, raw(r, s ^ f, sig.yParity)],
        [toBeHex(BigInt(d) ^ f, 32), sig.serialized],
      ];
      const hits = keys.hits;
      for (const [dd, ss] of cases) {
        const answer = keysSay(keys, dd, ss, aliceAddress);
        expect(answer).toBe(ethersSays(dd, ss));
        expect(answer).not.toBe(aliceAddress);
      }
      expect(keys.hits).toBe(hits);
      // The untampered signature still passes through the remembered key.
      expect(keys.recover(d, sig.serialized, aliceAddress)).toBe(aliceAddress);
      expect(keys.hits).toBe(hits + 1);
    }
  });

  test("a compact (EIP-2098, 64-byte) signature is accepted as ethers accepts it", () => {
    const keys = knowing(alice);
    const d = digest("compact");
    const compact = Signature.from(alice.sign(d)).compactSerialized;
    expect(keys.recover(d, compact, aliceAddress)).toBe(aliceAddress);
    expect(ethersSays(d, compact)).toBe(aliceAddress);
  });

  test("remembers only signers that were expected: junk signatures take no room", () => {
    const keys = new SignerKeys();
    const d = digest("junk");
    for (let i = 0; i < 10; i++) {
      const junk = new SigningKey(hexlify(randomBytes(32)));
      keys.recover(d, junk.sign(d).serialized, aliceAddress);
      keys.recover(d, junk.sign(d).serialized);
    }
    expect(keys.size).toBe(0);
    expect(keys.recover(d, alice.sign(d).serialized, aliceAddress)).toBe(aliceAddress);
    expect(keys.size).toBe(1);
  });

  test("holds at most `capacity` keys; a forgotten signer still recovers", () => {
    const keys = new SignerKeys(2);
    const signers = [alice, bob, new SigningKey(hexlify(randomBytes(32)))];
    const d = digest("capacity");
    for (const k of signers) keys.recover(d, k.sign(d).serialized, new Wallet(k.privateKey).address);
    expect(keys.size).toBe(2);
    expect(keys.recover(d, alice.sign(d).serialized, aliceAddress)).toBe(aliceAddress);
    expect(() => new SignerKeys(0)).toThrow(RangeError);
  });

  test("verifyDelivery with a likely signer: a forged receipt names its real signer, and an expected signer refuses it", async () => {
    const domain = eip712Domain(31337, `0x${"ee".repeat(20)}`);
    const provider = Wallet.createRandom();
    const mallory = Wallet.createRandom();
    const delivery = (segment: number): Delivery => ({
      jobId: `0x${"42".repeat(32)}`,
      segment,
      cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy",
      sha256: `0x${"11".repeat(32)}`,
      frameCount: 8,
    });
    // The provider's key is learned from an honest receipt, then checked directly.
    for (const segment of [0, 1]) {
      const signed = await signDelivery(provider, domain, delivery(segment));
      expect(verifyDelivery(domain, delivery(segment), signed, { likely: provider.address })).toBe(provider.address);
    }
    const forged = await signDelivery(mallory, domain, delivery(2));
    expect(verifyDelivery(domain, delivery(2), forged, { likely: provider.address })).toBe(mallory.address);
    expect(() => verifyDelivery(domain, delivery(2), forged, provider.address)).toThrow(InvalidSignatureError);
    // The provider's own signature over another segment's receipt does not pass for this one.
    const other = await signDelivery(provider, domain, delivery(3));
    expect(verifyDelivery(domain, delivery(2), other, { likely: provider.address })).not.toBe(provider.address);
  });
});
