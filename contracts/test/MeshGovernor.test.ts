import { expect } from "chai";
import { network } from "hardhat";
import RendermeshModule from "../ignition/modules/Rendermesh.js";
import type { ContentPolicy, JobEscrow, MeshGovernor, MeshTimelock, MeshToken } from "../../types/ethers-contracts/index.js";
import { MESH, MODEL, PRICE, SPEC, signers } from "./helpers/fixtures.js";

const { ethers, ignition, networkHelpers } = await network.create();
const State = { Pending: 0n, Active: 1n, Canceled: 2n, Defeated: 3n, Succeeded: 4n, Queued: 5n, Expired: 6n, Executed: 7n };
const VOTING_DELAY = 2n;
const VOTING_PERIOD = 10n;
const TIMELOCK_DELAY = 3600n;

async function deploy() {
  const [deployer, voter, client, coordinator, provider, stranger] = await signers(ethers);
  const deployed = await ignition.deploy(RendermeshModule, {
    parameters: {
      Rendermesh: {
        allowedModels: [MODEL],
        votingDelay: VOTING_DELAY,
        votingPeriod: VOTING_PERIOD,
        timelockDelay: TIMELOCK_DELAY,
        quorumPercent: 4n,
      },
    },
  });
  const at = async <T>(name: string, c: { getAddress(): Promise<string> }) =>
    (await ethers.getContractAt(name, await c.getAddress())) as unknown as T;
  const token = await at<MeshToken>("MeshToken", deployed.token);
  const policy = await at<ContentPolicy>("ContentPolicy", deployed.policy);
  const governor = await at<MeshGovernor>("MeshGovernor", deployed.governor);
  const timelock = await at<MeshTimelock>("MeshTimelock", deployed.timelock);
  const escrow = await at<JobEscrow>("JobEscrow", deployed.escrow);
  // The voter holds 10 % of the supply, enough for the 4 % quorum.
  await token.transfer(voter.address, 100_000_000n * MESH);
  await token.connect(voter).delegate(voter.address);
  return { token, policy, governor, timelock, escrow, deployer, voter, client, coordinator, provider, stranger };
}
const load = () => networkHelpers.loadFixture(deploy);

type F = Awaited<ReturnType<typeof deploy>>;

/** Proposes, votes (`support`), and waits out the vote; returns the proposal's coordinates. */
async function proposeAndVote(f: F, targets: string[], calldatas: string[], description: string, support = 1) {
  const values = targets.map(() => 0n);
  await f.governor.connect(f.voter).propose(targets, values, calldatas, description);
  const descriptionHash = ethers.id(description);
  const id = await f.governor.hashProposal(targets, values, calldatas, descriptionHash);
  await networkHelpers.mine(VOTING_DELAY + 1n);
  await f.governor.connect(f.voter).castVote(id, support);
  await networkHelpers.mine(VOTING_PERIOD);
  return { id, values, descriptionHash };
}

describe("MeshGovernor + MeshTimelock", () => {
  it("changes a policy value through a full cycle: delegate, propose, vote, queue, execute", async () => {
    const f = await load();
    const target = await f.policy.getAddress();
    const calldata = f.policy.interface.encodeFunctionData("setFees", [400, 50]);
    const description = "Lower the coordinator fee to 4 % and the treasury fee to 0.5 %";
    const values = [0n];
    await expect(f.governor.connect(f.voter).propose([target], values, [calldata], description)).to.emit(f.governor, "ProposalCreated");
    const id = await f.governor.hashProposal([target], values, [calldata], ethers.id(description));
    expect(await f.governor.state(id)).to.equal(State.Pending);
    await networkHelpers.mine(VOTING_DELAY + 1n);
    expect(await f.governor.state(id)).to.equal(State.Active);
    await expect(f.governor.connect(f.voter).castVote(id, 1)).to.emit(f.governor, "VoteCast");
    await networkHelpers.mine(VOTING_PERIOD);
    expect(await f.governor.state(id)).to.equal(State.Succeeded);
    await expect(f.governor.queue([target], values, [calldata], ethers.id(description))).to.emit(f.governor, "ProposalQueued");
    // Not before the timelock delay.
    await expect(f.governor.execute([target], values, [calldata], ethers.id(description))).to.be.revertedWithCustomError(
      f.timelock,
      "TimelockUnexpectedOperationState",
    );
    await networkHelpers.time.increase(TIMELOCK_DELAY);
    const tx = f.governor.execute([target], values, [calldata], ethers.id(description));
    await expect(tx).to.emit(f.policy, "FeesChanged").withArgs(400, 50);
    await expect(tx).to.emit(f.policy, "PolicyVersionChanged").withArgs(2);
    expect(await f.policy.fees()).to.deep.equal([400n, 50n]);
    expect(await f.governor.state(id)).to.equal(State.Executed);
  });

  it("lets only the timelock change the policy: not the deployer, not the governor, not a stranger", async () => {
    const f = await load();
    expect(await f.policy.owner()).to.equal(await f.timelock.getAddress());
    for (const caller of [f.deployer, f.stranger]) {
      await expect(f.policy.connect(caller).setFees(0, 0))
        .to.be.revertedWithCustomError(f.policy, "OwnableUnauthorizedAccount")
        .withArgs(caller.address);
    }
    // The deployer gave up the timelock's admin role: it can neither schedule nor grant itself a role.
    const schedule = f.timelock
      .connect(f.deployer)
      .schedule(
        await f.policy.getAddress(),
        0,
        f.policy.interface.encodeFunctionData("setFees", [0, 0]),
        ethers.ZeroHash,
        ethers.ZeroHash,
        TIMELOCK_DELAY,
      );
    await expect(schedule).to.be.revertedWithCustomError(f.timelock, "AccessControlUnauthorizedAccount");
    await expect(
      f.timelock.connect(f.deployer).grantRole(await f.timelock.PROPOSER_ROLE(), f.deployer.address),
    ).to.be.revertedWithCustomError(f.timelock, "AccessControlUnauthorizedAccount");
    // The governor acts only through the timelock.
    await networkHelpers.impersonateAccount(await f.governor.getAddress());
    await networkHelpers.setBalance(await f.governor.getAddress(), 10n ** 18n);
    const asGovernor = await ethers.getSigner(await f.governor.getAddress());
    await expect(f.policy.connect(asGovernor).setFees(0, 0)).to.be.revertedWithCustomError(f.policy, "OwnableUnauthorizedAccount");
  });

  it("does not change the policy when the vote fails", async () => {
    const f = await load();
    const target = await f.policy.getAddress();
    const calldata = f.policy.interface.encodeFunctionData("setFees", [0, 0]);
    const { id, values, descriptionHash } = await proposeAndVote(f, [target], [calldata], "No fees", 0);
    expect(await f.governor.state(id)).to.equal(State.Defeated);
    await expect(f.governor.queue([target], values, [calldata], descriptionHash)).to.be.revertedWithCustomError(
      f.governor,
      "GovernorUnexpectedProposalState",
    );
    expect(await f.policy.version()).to.equal(1n);
  });

  it("holds the treasury: fees reach the timelock, and only a proposal moves them", async () => {
    const f = await load();
    const escrowAddress = await f.escrow.getAddress();
    await f.token.transfer(f.client.address, 1000n * MESH);
    await f.token.connect(f.client).approve(escrowAddress, 10n * PRICE);
    const deadline = BigInt((await ethers.provider.getBlock("latest"))!.timestamp) + 3600n;
    const jobId = await f.escrow.connect(f.client).openJob.staticCall(SPEC, f.coordinator.address, 10, PRICE, deadline, 1);
    await f.escrow.connect(f.client).openJob(SPEC, f.coordinator.address, 10, PRICE, deadline, 1);
    // A cooperative settle: the coordinator allocated the provider the job's ten seconds and the provider acknowledges them.
    const domain = {
      name: "Rendermesh",
      version: "1",
      chainId: (await ethers.provider.getNetwork()).chainId,
      verifyingContract: escrowAddress,
    };
    const message = { jobId, provider: f.provider.address, seconds: 10 };
    const fields = [
      { name: "jobId", type: "bytes32" },
      { name: "provider", type: "address" },
      { name: "seconds", type: "uint32" },
    ];
    const entry = {
      provider: f.provider.address,
      totalSeconds: 10,
      allocated: 10,
      allocationSig: await f.coordinator.signTypedData(domain, { Allocation: fields }, message),
      acknowledgementSig: await f.provider.signTypedData(domain, { Acknowledgement: fields }, message),
    };
    await f.escrow.connect(f.client).settle(jobId, [entry]);
    const timelock = await f.timelock.getAddress();
    const fees = 10n * ((PRICE * 100n) / 10_000n);
    await expect(f.escrow.withdrawFor(timelock)).to.changeTokenBalances(ethers, f.token, [timelock], [fees]);

    const calldata = f.token.interface.encodeFunctionData("transfer", [f.stranger.address, fees]);
    const { values, descriptionHash } = await proposeAndVote(f, [await f.token.getAddress()], [calldata], "Grant the fees");
    await f.governor.queue([await f.token.getAddress()], values, [calldata], descriptionHash);
    await networkHelpers.time.increase(TIMELOCK_DELAY);
    await expect(f.governor.execute([await f.token.getAddress()], values, [calldata], descriptionHash)).to.changeTokenBalances(
      ethers,
      f.token,
      [timelock, f.stranger.address],
      [-fees, fees],
    );
  });

  it("is configured as deployed", async () => {
    const f = await load();
    expect(await f.governor.name()).to.equal("MeshGovernor");
    expect(await f.governor.votingDelay()).to.equal(VOTING_DELAY);
    expect(await f.governor.votingPeriod()).to.equal(VOTING_PERIOD);
    expect(await f.governor["quorumNumerator()"]()).to.equal(4n);
    expect(await f.governor.proposalThreshold()).to.equal(0n);
    expect(await f.timelock.getMinDelay()).to.equal(TIMELOCK_DELAY);
    expect(await f.governor.timelock()).to.equal(await f.timelock.getAddress());
  });
});
