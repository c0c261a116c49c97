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
// 3,000) its code passes EIP-170's 24 KiB.
const escrowOverride = { "contracts/src/JobEscrow.sol": compiler(1_500) };

const fuzzRuns = process.env.CI ? 5000 : 256;

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
    solidity: { fuzz: { runs: fuzzRuns } },
  },
  networks: {
    localhost: { type: "http", chainType: "l1", url: process.env.RENDERMESH_RPC_URL ?? "http://127.0.0.1:8545" },
  },
});
