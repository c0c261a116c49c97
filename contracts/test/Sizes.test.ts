import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";

const artifacts = join(dirname(fileURLToPath(import.meta.url)), "../../artifacts/contracts/src");
const LIMIT = 24 * 1024; // EIP-170

describe("contract sizes", () => {
  for (const name of ["MeshToken", "ContentPolicy", "ProviderRegistry", "JobEscrow", "MeshGovernor", "MeshTimelock"]) {
    it(`${name} is under the 24 KiB limit`, () => {
      const { deployedBytecode } = JSON.parse(readFileSync(join(artifacts, `${name}.sol`, `${name}.json`), "utf8")) as {
        deployedBytecode: string;
      };
      const size = (deployedBytecode.length - 2) / 2;
      expect(size).to.be.greaterThan(1000);
      expect(size).to.be.lessThanOrEqual(LIMIT);
    });
  }
});
