import { expect } from "chai";
import { network } from "hardhat";
import type { ContentPolicy } from "../../types/ethers-contracts/index.js";
import { CLAIM_WINDOW, DISPUTE_WINDOW, MIN_STAKE, MODEL, policyParams, signers } from "./helpers/fixtures.js";

const { ethers, networkHelpers } = await network.create();
const TERM_A = ethers.id("violence");
const TERM_B = ethers.id("gore");
const MODEL_B = `0x${"cd".repeat(32)}`;

async function deploy() {
  const [governance, arbiter, treasury, stranger] = await signers(ethers);
  const params = { ...(await policyParams(arbiter.address, treasury.address)), blockedTerms: [TERM_A] };
  const policy = (await ethers.deployContract("ContentPolicy", [governance.address, params])) as unknown as ContentPolicy;
  return { policy, governance, arbiter, treasury, stranger, owned: policy.connect(governance) };
}
const load = () => networkHelpers.loadFixture(deploy);

describe("ContentPolicy", () => {
  it("starts at version 1 with the constructor's values, announced by events", async () => {
    const { policy, arbiter, treasury, governance } = await load();
    expect(await policy.version()).to.equal(1n);
    expect(await policy.owner()).to.equal(governance.address);
    expect(await policy.allowedModels()).to.deep.equal([MODEL]);
    expect(await policy.isModelAllowed(MODEL)).to.equal(true);
    expect(await policy.isModelAllowed(MODEL_B)).to.equal(false);
    expect(await policy.blockedTerms()).to.deep.equal([TERM_A]);
    expect(await policy.blockedTermCount()).to.equal(1n);
    expect(await policy.isBlockedTerm(TERM_A)).to.equal(true);
    expect(await policy.limits()).to.deep.equal([600n, 1920n, 1080n, 60n]);
    expect(await policy.minProviderStake()).to.equal(MIN_STAKE);
    expect(await policy.fees()).to.deep.equal([500n, 100n]);
    expect(await policy.disputeWindow()).to.equal(DISPUTE_WINDOW);
    expect(await policy.claimWindow()).to.equal(CLAIM_WINDOW);
    expect(await policy.windows()).to.deep.equal([DISPUTE_WINDOW, CLAIM_WINDOW]);
    expect(await policy.openJobTerms()).to.deep.equal([1n, 600n, 500n, 100n]);
    expect(await policy.arbiter()).to.equal(arbiter.address);
    expect(await policy.treasury()).to.equal(treasury.address);
    const deployTx = policy.deploymentTransaction()!;
    await expect(deployTx).to.emit(policy, "ModelAllowed").withArgs(MODEL);
    await expect(deployTx).to.emit(policy, "TermsBlocked").withArgs([TERM_A]);
    await expect(deployTx).to.emit(policy, "FeesChanged").withArgs(500, 100);
    await expect(deployTx).to.emit(policy, "PolicyVersionChanged").withArgs(1);
  });

  describe("setters", () => {
    const cases: Array<
      [string, (p: ContentPolicy, a: string) => Promise<unknown>, string, unknown[], (p: ContentPolicy) => Promise<unknown>, unknown]
    > = [
      ["blockTerms", (p) => p.blockTerms([TERM_B]), "TermsBlocked", [[TERM_B]], (p) => p.isBlockedTerm(TERM_B), true],
      ["unblockTerms", (p) => p.unblockTerms([TERM_A]), "TermsUnblocked", [[TERM_A]], (p) => p.blockedTermCount(), 0n],
      ["allowModel", (p) => p.allowModel(MODEL_B), "ModelAllowed", [MODEL_B], (p) => p.isModelAllowed(MODEL_B), true],
      ["disallowModel", (p) => p.disallowModel(MODEL), "ModelDisallowed", [MODEL], (p) => p.isModelAllowed(MODEL), false],
      ["setLimits", (p) => p.setLimits(30, 640, 480, 24), "LimitsChanged", [30, 640, 480, 24], (p) => p.limits(), [30n, 640n, 480n, 24n]],
      ["setFees", (p) => p.setFees(250, 50), "FeesChanged", [250, 50], (p) => p.fees(), [250n, 50n]],
      ["setMinProviderStake", (p) => p.setMinProviderStake(7), "MinProviderStakeChanged", [7], (p) => p.minProviderStake(), 7n],
      ["setDisputeWindow", (p) => p.setDisputeWindow(3600), "DisputeWindowChanged", [3600], (p) => p.disputeWindow(), 3600n],
      ["setClaimWindow", (p) => p.setClaimWindow(7200), "ClaimWindowChanged", [7200], (p) => p.claimWindow(), 7200n],
      ["setArbiter", (p, a) => p.setArbiter(a), "ArbiterChanged", ["$a"], (p) => p.arbiter(), "$a"],
      ["setTreasury", (p, a) => p.setTreasury(a), "TreasuryChanged", ["$a"], (p) => p.treasury(), "$a"],
    ];
    for (const [name, call, event, args, read, expected] of cases) {
      it(`${name} changes the value, bumps the version and emits ${event} then PolicyVersionChanged`, async () => {
        const f = await load();
        const a = f.stranger.address;
        const sub = (v: unknown) => (v === "$a" ? a : v);
        const tx = call(f.owned, a) as Promise<never>;
        await expect(tx)
          .to.emit(f.policy, event)
          .withArgs(...args.map(sub));
        await expect(tx).to.emit(f.policy, "PolicyVersionChanged").withArgs(2);
        expect(await f.policy.version()).to.equal(2n);
        expect(await read(f.policy)).to.deep.equal(sub(expected));
        await expect(call(f.policy.connect(f.stranger), a) as Promise<never>)
          .to.be.revertedWithCustomError(f.policy, "OwnableUnauthorizedAccount")
          .withArgs(f.stranger.address);
      });
    }
  });

  it("refuses values that would break the escrow, each with an error that names it", async () => {
    const { owned, policy } = await load();
    await expect(owned.setFees(9001, 1000)).to.be.revertedWithCustomError(policy, "ContentPolicyInvalidFees").withArgs(9001, 1000);
    await expect(owned.setFees(10_000, 0)).to.emit(policy, "FeesChanged");
    for (const limits of [
      [0, 1, 1, 1],
      [1, 0, 1, 1],
      [1, 1, 0, 1],
      [1, 1, 1, 0],
    ] as const) {
      await expect(owned.setLimits(...limits)).to.be.revertedWithCustomError(policy, "ContentPolicyZeroLimit");
    }
    await expect(owned.setMinProviderStake(0)).to.be.revertedWithCustomError(policy, "ContentPolicyZeroValue");
    await expect(owned.setDisputeWindow(0)).to.be.revertedWithCustomError(policy, "ContentPolicyZeroValue");
    await expect(owned.setClaimWindow(0)).to.be.revertedWithCustomError(policy, "ContentPolicyZeroValue");
    await expect(owned.setArbiter(ethers.ZeroAddress)).to.be.revertedWithCustomError(policy, "ContentPolicyZeroAddress");
    await expect(owned.setTreasury(ethers.ZeroAddress)).to.be.revertedWithCustomError(policy, "ContentPolicyZeroAddress");
  });

  it("refuses no-op list changes", async () => {
    const { owned, policy } = await load();
    await expect(owned.blockTerms([])).to.be.revertedWithCustomError(policy, "ContentPolicyEmptyList");
    await expect(owned.unblockTerms([])).to.be.revertedWithCustomError(policy, "ContentPolicyEmptyList");
    await expect(owned.blockTerms([TERM_B, TERM_A]))
      .to.be.revertedWithCustomError(policy, "ContentPolicyTermAlreadyBlocked")
      .withArgs(TERM_A);
    await expect(owned.unblockTerms([TERM_B]))
      .to.be.revertedWithCustomError(policy, "ContentPolicyTermNotBlocked")
      .withArgs(TERM_B);
    await expect(owned.allowModel(MODEL)).to.be.revertedWithCustomError(policy, "ContentPolicyModelAlreadyAllowed").withArgs(MODEL);
    await expect(owned.disallowModel(MODEL_B)).to.be.revertedWithCustomError(policy, "ContentPolicyModelNotAllowed").withArgs(MODEL_B);
    expect(await policy.version()).to.equal(1n);
  });

  it("validates the constructor's values too", async () => {
    const [owner, arbiter] = await signers(ethers);
    const params = await policyParams(arbiter.address, arbiter.address);
    const factory = await ethers.getContractFactory("ContentPolicy");
    await expect(
      ethers.deployContract("ContentPolicy", [owner.address, { ...params, treasury: ethers.ZeroAddress }]),
    ).to.be.revertedWithCustomError(factory, "ContentPolicyZeroAddress");
    await expect(ethers.deployContract("ContentPolicy", [owner.address, { ...params, allowedModels: [MODEL, MODEL] }]))
      .to.be.revertedWithCustomError(factory, "ContentPolicyModelAlreadyAllowed")
      .withArgs(MODEL);
  });
});
