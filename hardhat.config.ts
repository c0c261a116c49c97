import { createRequire } from "node:module";
import hardhatToolboxMochaEthersPlugin from "@nomicfoundation/hardhat-toolbox-mocha-ethers";
import { defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);
// Hardhat cannot download compilers on an offline machine: use the solcjs build
// that the pinned npm `solc` package ships. Keep `version` equal to that pin.
const solcVersion = (require("solc/package.json") as { version: string }).version;
const soljson = require.resolve("solc/soljson.js");

const compiler = (runs: number) => ({
  version: solcVersion,
  path: soljson,
  settings: { optimizer: { enabled: true, runs }, evmVersion: "cancun" },
});
// JobEscrow is optimised for fewer runs than the rest: at 10,000 (and, since attributeSegment takes the voucher, at
// 2,000) its code passes EIP-170's 24 KiB.
const escrowOverride = { "contracts/src/JobEscrow.sol": compiler(1_500) };

// Solidity test profiles (`--test-profile NAME` or HARDHAT_TEST_PROFILE=NAME): `local` is quick, `ci` runs the fuzz
// tests and the invariant campaign (JobEscrow.invariant.t.sol: one campaign, every rule checked after each call)
// 5,000 runs each, at a depth that keeps the whole hardhat suite within ~6 minutes on a loaded 2-core machine
// (contracts/README.md has the measurement). `default` is `ci` when the CI variable is set, as CI services do.
const local = { fuzz: { runs: 256 }, invariant: { runs: 256, depth: 64 } };
const ci = { fuzz: { runs: 5000 }, invariant: { runs: 5000, depth: 10 } };

export default defineConfig({
  plugins: [hardhatToolboxMochaEthersPlugin],
  solidity: {
    profiles: {
      default: { compilers: [compiler(10_000)], overrides: escrowOverride },
      production: { compilers: [compiler(10_000)], overrides: escrowOverride },
    },
  },
  paths: {
    sources: "contracts/src",
    tests: { mocha: "contracts/test", solidity: "contracts/test" },
    ignition: "contracts/ignition",
  },
  test: {
    solidity: { profiles: { default: process.env.CI ? ci : local, local, ci } },
  },
  networks: {
    localhost: { type: "http", chainType: "l1", url: process.env.RENDERMESH_RPC_URL ?? "http://127.0.0.1:8545" },
  },
});
