import { expect } from "chai";
import { network } from "hardhat";

const { ethers } = await network.create();

describe("MeshToken", () => {
  it("mints the whole supply once, to the holder the deployer chose", async () => {
    const [deployer, holder] = await ethers.getSigners();
    const token = await ethers.deployContract("MeshToken", [holder!.address, 10n ** 24n]);
    expect(await token.balanceOf(holder!.address)).to.equal(10n ** 24n);
    expect(await token.balanceOf(deployer!.address)).to.equal(0n);
    expect(await token.totalSupply()).to.equal(10n ** 24n);
  });
});
