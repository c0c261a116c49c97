// Hardhat's well-known development accounts, defined once for every test.
// `hardhat node` funds the first 20 with 10,000 ETH each; they hold no value
// on any real network, so their keys may be written down.
import { HDNodeWallet, Mnemonic, Wallet, type Provider } from "ethers";

/** The mnemonic `hardhat node` derives its accounts from. */
export const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

/** One MESH in base units (18 decimals). */
export const MESH = 10n ** 18n;

/** Accounts `hardhat node` funds with ETH: indices 0–19. */
export const FUNDED_ACCOUNTS = 20;

const cache = new Map<number, string>();

/** The private key of Hardhat account `index` (m/44'/60'/0'/0/index). */
export function hardhatKey(index: number): `0x${string}` {
  let key = cache.get(index);
  if (key === undefined) {
    key = HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(HARDHAT_MNEMONIC), `m/44'/60'/0'/0/${index}`).privateKey;
    cache.set(index, key);
  }
  return key as `0x${string}`;
}

/** Hardhat account `index` as a wallet, connected to `provider` when given. */
export function hardhatAccount(index: number, provider?: Provider | null): Wallet {
  return new Wallet(hardhatKey(index), provider ?? null);
}
