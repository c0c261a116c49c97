import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { network } from "hardhat";

const { ethers } = await network.create();
const here = dirname(fileURLToPath(import.meta.url));

describe("custom errors", () => {
  it("every error the interfaces declare is prefixed with its contract and asserted by some test", async () => {
    const tests = readdirSync(here)
      .filter((f) => f.endsWith(".ts") || f.endsWith(".sol"))
      .filter((f) => f !== "Errors.test.ts")
      .map((f) => readFileSync(join(here, f), "utf8"))
      .join("\n");
    const untested: string[] = [];
    for (const [contract, prefix] of [
      ["IContentPolicy", "ContentPolicy"],
      ["IProviderRegistry", "ProviderRegistry"],
      ["IJobEscrow", "JobEscrow"],
    ] as const) {
      const iface = (await ethers.getContractAt(contract, ethers.ZeroAddress)).interface;
      const names: string[] = [];
      iface.forEachError((e) => names.push(e.name));
      expect(names.length).to.be.greaterThan(5);
      for (const name of names) {
        expect(name.startsWith(prefix), `${name} is prefixed ${prefix}`).to.equal(true);
        if (!tests.includes(`"${name}"`) && !tests.includes(`.${name}.selector`)) untested.push(name);
      }
    }
    expect(untested).to.deep.equal([]);
  });
});
