import { expect } from "chai";
import { network } from "hardhat";

const { ethers, networkHelpers } = await network.create();

describe("MeshToken", () => {
  it("mints the whole supply once, to the holder the deployer chose", async () => {
    const [deployer, holder] = await ethers.getSigners();
    const token = await ethers.deployContract("MeshToken", [holder!.address, 10n ** 24n]);
    expect(await token.balanceOf(holder!.address)).to.equal(10n ** 24n);
    expect(await token.balanceOf(deployer!.address)).to.equal(0n);
    expect(await token.totalSupply()).to.equal(10n ** 24n);
    expect([await token.name(), await token.symbol(), await token.decimals()]).to.deep.equal(["Rendermesh", "MESH", 18n]);
  });

  it("has no other mint", async () => {
    const token = await ethers.deployContract("MeshToken", [(await ethers.getSigners())[0]!.address, 1n]);
    const functions: string[] = [];
    token.interface.forEachFunction((f) => functions.push(f.name));
    expect(functions).to.include("transfer");
    expect(functions.filter((n) => /mint|issue/i.test(n))).to.deep.equal([]);
  });

  it("counts votes by delegation, on a block-number clock", async () => {
    const [holder, voter] = await ethers.getSigners();
    const token = await ethers.deployContract("MeshToken", [holder!.address, 1000n]);
    expect(await token.CLOCK_MODE()).to.equal("mode=blocknumber&from=default");
    expect(await token.getVotes(holder!.address)).to.equal(0n);
    await token.delegate(voter!.address);
    expect(await token.getVotes(voter!.address)).to.equal(1000n);
    const block = await ethers.provider.getBlockNumber();
    await token.transfer(voter!.address, 400n);
    await networkHelpers.mine();
    expect(await token.getVotes(voter!.address)).to.equal(600n);
    expect(await token.getPastVotes(voter!.address, block)).to.equal(1000n);
  });

  it("accepts ERC-2612 permits", async () => {
    const [owner, spender] = await ethers.getSigners();
    const token = await ethers.deployContract("MeshToken", [owner!.address, 1000n]);
    const deadline = BigInt((await ethers.provider.getBlock("latest"))!.timestamp) + 60n;
    const sig = ethers.Signature.from(
      await owner!.signTypedData(
        {
          name: "Rendermesh",
          version: "1",
          chainId: (await ethers.provider.getNetwork()).chainId,
          verifyingContract: await token.getAddress(),
        },
        {
          Permit: [
            { name: "owner", type: "address" },
            { name: "spender", type: "address" },
            { name: "value", type: "uint256" },
            { name: "nonce", type: "uint256" },
            { name: "deadline", type: "uint256" },
          ],
        },
        { owner: owner!.address, spender: spender!.address, value: 5n, nonce: 0n, deadline },
      ),
    );
    await token.connect(spender!).permit(owner!.address, spender!.address, 5n, deadline, sig.v, sig.r, sig.s);
    expect(await token.allowance(owner!.address, spender!.address)).to.equal(5n);
    expect(await token.nonces(owner!.address)).to.equal(1n);
  });
});
