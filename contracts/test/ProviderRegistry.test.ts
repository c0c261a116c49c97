import { expect } from "chai";
import { network } from "hardhat";
import type { ContentPolicy, MeshToken, ProviderRegistry } from "../../types/ethers-contracts/index.js";
import { COOLDOWN, MESH, MIN_STAKE, MODEL, policyParams, signers } from "./helpers/fixtures.js";

const { ethers, networkHelpers } = await network.create();
const PEER_A = "0x002408011220aaaa";
const PEER_B = "0x002408011220bbbb";
const ASK = 3n * MESH;
const OTHER_MODEL = `0x${"cd".repeat(32)}`;

async function deploy() {
  const [deployer, governance, escrow, alice, bob, stranger] = await signers(ethers);
  const token = (await ethers.deployContract("MeshToken", [deployer.address, 10n ** 27n])) as unknown as MeshToken;
  const policy = (await ethers.deployContract("ContentPolicy", [
    governance.address,
    await policyParams(deployer.address, deployer.address),
  ])) as unknown as ContentPolicy;
  // The escrow is a plain account here, so the tests can call `slash` as it.
  const registry = (await ethers.deployContract("ProviderRegistry", [
    await token.getAddress(),
    await policy.getAddress(),
    COOLDOWN,
    escrow.address,
  ])) as unknown as ProviderRegistry;
  for (const s of [alice, bob, stranger]) {
    await token.transfer(s.address, 10_000n * MESH);
    await token.connect(s).approve(await registry.getAddress(), 10_000n * MESH);
  }
  return { token, policy, registry, deployer, governance, escrow, alice, bob, stranger };
}
const load = () => networkHelpers.loadFixture(deploy);

async function registered() {
  const f = await load();
  await f.registry.connect(f.alice).register(PEER_A, ASK, [MODEL], MIN_STAKE);
  return f;
}

describe("ProviderRegistry", () => {
  describe("register", () => {
    it("binds the caller's peer id, pulls the stake and makes it active", async () => {
      const f = await load();
      const tx = f.registry.connect(f.alice).register(PEER_A, ASK, [MODEL, OTHER_MODEL], MIN_STAKE);
      await expect(tx).to.emit(f.registry, "ProviderRegistered").withArgs(f.alice.address, PEER_A, ASK, [MODEL, OTHER_MODEL], MIN_STAKE);
      await expect(tx).to.changeTokenBalances(ethers, f.token, [f.alice, f.registry], [-MIN_STAKE, MIN_STAKE]);
      const p = await f.registry.getProvider(f.alice.address);
      expect([p.registered, p.peerId, p.stake, p.askPerSecond, p.models, p.unstakeAmount, p.unstakeAvailableAt]).to.deep.equal([
        true,
        PEER_A,
        MIN_STAKE,
        ASK,
        [MODEL, OTHER_MODEL],
        0n,
        0n,
      ]);
      expect(await f.registry.providerOfPeer(PEER_A)).to.equal(f.alice.address);
      expect(await f.registry.isActive(f.alice.address)).to.equal(true);
      expect(await f.registry.isActive(f.bob.address)).to.equal(false);
    });

    it("registers with a permit in one transaction", async () => {
      const f = await load();
      await f.token.connect(f.bob).approve(await f.registry.getAddress(), 0);
      const deadline = BigInt((await ethers.provider.getBlock("latest"))!.timestamp) + 600n;
      const sig = ethers.Signature.from(
        await f.bob.signTypedData(
          {
            name: "Rendermesh",
            version: "1",
            chainId: (await ethers.provider.getNetwork()).chainId,
            verifyingContract: await f.token.getAddress(),
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
          { owner: f.bob.address, spender: await f.registry.getAddress(), value: MIN_STAKE, nonce: 0, deadline },
        ),
      );
      await expect(f.registry.connect(f.bob).registerWithPermit(PEER_B, ASK, [MODEL], MIN_STAKE, deadline, sig.v, sig.r, sig.s)).to.emit(
        f.registry,
        "ProviderRegistered",
      );
      expect(await f.registry.isActive(f.bob.address)).to.equal(true);
      // A permit that is not the caller's fails, and without an allowance so does the registration.
      await f.token.connect(f.stranger).approve(await f.registry.getAddress(), 0);
      await expect(
        f.registry.connect(f.stranger).registerWithPermit("0x01", ASK, [MODEL], MIN_STAKE, deadline, sig.v, sig.r, sig.s),
      ).to.be.revertedWithCustomError(f.token, "ERC2612InvalidSigner");
    });

    it("refuses a second registration, a taken or bad peer id, a zero ask, bad model lists and a low stake", async () => {
      const f = await registered();
      const r = f.registry;
      await expect(r.connect(f.alice).register(PEER_B, ASK, [MODEL], MIN_STAKE))
        .to.be.revertedWithCustomError(r, "ProviderRegistryAlreadyRegistered")
        .withArgs(f.alice.address);
      await expect(r.connect(f.bob).register(PEER_A, ASK, [MODEL], MIN_STAKE))
        .to.be.revertedWithCustomError(r, "ProviderRegistryPeerIdTaken")
        .withArgs(PEER_A, f.alice.address);
      await expect(r.connect(f.bob).register("0x", ASK, [MODEL], MIN_STAKE)).to.be.revertedWithCustomError(
        r,
        "ProviderRegistryInvalidPeerId",
      );
      await expect(r.connect(f.bob).register(`0x${"11".repeat(513)}`, ASK, [MODEL], MIN_STAKE)).to.be.revertedWithCustomError(
        r,
        "ProviderRegistryInvalidPeerId",
      );
      await expect(r.connect(f.bob).register(PEER_B, 0, [MODEL], MIN_STAKE)).to.be.revertedWithCustomError(r, "ProviderRegistryZeroAsk");
      await expect(r.connect(f.bob).register(PEER_B, ASK, [], MIN_STAKE))
        .to.be.revertedWithCustomError(r, "ProviderRegistryInvalidModels")
        .withArgs(0);
      await expect(r.connect(f.bob).register(PEER_B, ASK, Array(33).fill(MODEL), MIN_STAKE))
        .to.be.revertedWithCustomError(r, "ProviderRegistryInvalidModels")
        .withArgs(33);
      await expect(r.connect(f.bob).register(PEER_B, ASK, [MODEL], MIN_STAKE - 1n))
        .to.be.revertedWithCustomError(r, "ProviderRegistryStakeTooLow")
        .withArgs(MIN_STAKE - 1n, MIN_STAKE);
    });
  });

  describe("update and setPeerId", () => {
    it("changes the ask and models", async () => {
      const f = await registered();
      await expect(f.registry.connect(f.alice).update(ASK * 2n, [OTHER_MODEL]))
        .to.emit(f.registry, "ProviderUpdated")
        .withArgs(f.alice.address, ASK * 2n, [OTHER_MODEL]);
      const p = await f.registry.getProvider(f.alice.address);
      expect([p.askPerSecond, p.models]).to.deep.equal([ASK * 2n, [OTHER_MODEL]]);
    });

    it("binds a new peer id and frees the old one", async () => {
      const f = await registered();
      await expect(f.registry.connect(f.alice).setPeerId(PEER_B)).to.emit(f.registry, "PeerIdChanged").withArgs(f.alice.address, PEER_B);
      expect(await f.registry.providerOfPeer(PEER_B)).to.equal(f.alice.address);
      expect(await f.registry.providerOfPeer(PEER_A)).to.equal(ethers.ZeroAddress);
      await expect(f.registry.connect(f.bob).register(PEER_A, ASK, [MODEL], MIN_STAKE)).to.emit(f.registry, "ProviderRegistered");
      await expect(f.registry.connect(f.alice).setPeerId(PEER_A))
        .to.be.revertedWithCustomError(f.registry, "ProviderRegistryPeerIdTaken")
        .withArgs(PEER_A, f.bob.address);
      await expect(f.registry.connect(f.alice).setPeerId("0x")).to.be.revertedWithCustomError(f.registry, "ProviderRegistryInvalidPeerId");
    });

    it("refuses the unregistered and bad offers", async () => {
      const f = await registered();
      for (const call of [
        f.registry.connect(f.bob).update(ASK, [MODEL]),
        f.registry.connect(f.bob).setPeerId(PEER_B),
        f.registry.connect(f.bob).addStake(1),
        f.registry.connect(f.bob).requestUnstake(1),
      ]) {
        await expect(call).to.be.revertedWithCustomError(f.registry, "ProviderRegistryNotRegistered").withArgs(f.bob.address);
      }
      await expect(f.registry.connect(f.alice).update(0, [MODEL])).to.be.revertedWithCustomError(f.registry, "ProviderRegistryZeroAsk");
      await expect(f.registry.connect(f.alice).update(ASK, [])).to.be.revertedWithCustomError(f.registry, "ProviderRegistryInvalidModels");
    });
  });

  describe("stake", () => {
    it("adds stake", async () => {
      const f = await registered();
      await expect(f.registry.connect(f.alice).addStake(5n * MESH))
        .to.emit(f.registry, "StakeAdded")
        .withArgs(f.alice.address, 5n * MESH, MIN_STAKE + 5n * MESH);
      await expect(f.registry.connect(f.alice).addStake(0)).to.be.revertedWithCustomError(f.registry, "ProviderRegistryZeroAmount");
    });

    it("unstakes only after the cooldown, and the provider stops being active below the minimum", async () => {
      const f = await registered();
      const tx = await f.registry.connect(f.alice).requestUnstake(MESH);
      const at = BigInt((await ethers.provider.getBlock(tx.blockNumber!))!.timestamp) + COOLDOWN;
      await expect(tx).to.emit(f.registry, "UnstakeRequested").withArgs(f.alice.address, MESH, at);
      expect(await f.registry.isActive(f.alice.address)).to.equal(false);
      const p = await f.registry.getProvider(f.alice.address);
      expect([p.stake, p.unstakeAmount, p.unstakeAvailableAt]).to.deep.equal([MIN_STAKE - MESH, MESH, at]);
      await expect(f.registry.connect(f.alice).withdrawStake())
        .to.be.revertedWithCustomError(f.registry, "ProviderRegistryUnstakeNotReady")
        .withArgs(at);
      await networkHelpers.time.increaseTo(at);
      const w = f.registry.connect(f.alice).withdrawStake();
      await expect(w).to.emit(f.registry, "StakeWithdrawn").withArgs(f.alice.address, MESH);
      await expect(w).to.changeTokenBalances(ethers, f.token, [f.alice, f.registry], [MESH, -MESH]);
      await expect(f.registry.connect(f.alice).withdrawStake())
        .to.be.revertedWithCustomError(f.registry, "ProviderRegistryNoUnstakePending")
        .withArgs(f.alice.address);
    });

    it("refuses to unstake zero or more than the stake", async () => {
      const f = await registered();
      await expect(f.registry.connect(f.alice).requestUnstake(0)).to.be.revertedWithCustomError(f.registry, "ProviderRegistryZeroAmount");
      await expect(f.registry.connect(f.alice).requestUnstake(MIN_STAKE + 1n))
        .to.be.revertedWithCustomError(f.registry, "ProviderRegistryInsufficientStake")
        .withArgs(MIN_STAKE, MIN_STAKE + 1n);
    });

    it("follows the policy's minimum", async () => {
      const f = await registered();
      await f.policy.connect(f.governance).setMinProviderStake(MIN_STAKE + 1n);
      expect(await f.registry.isActive(f.alice.address)).to.equal(false);
    });
  });

  describe("slash", () => {
    it("takes from the active stake first, then from the pending unstake, up to what there is", async () => {
      const f = await registered();
      await f.registry.connect(f.alice).requestUnstake(40n * MESH);
      // 60 active, 40 pending.
      const slash = f.registry.connect(f.escrow);
      await expect(slash.slash(f.alice.address, 50n * MESH, f.stranger.address))
        .to.emit(f.registry, "ProviderSlashed")
        .withArgs(f.alice.address, 50n * MESH, f.stranger.address);
      let p = await f.registry.getProvider(f.alice.address);
      expect([p.stake, p.unstakeAmount]).to.deep.equal([10n * MESH, 40n * MESH]);
      await expect(slash.slash(f.alice.address, 30n * MESH, f.stranger.address)).to.changeTokenBalances(
        ethers,
        f.token,
        [f.registry, f.stranger],
        [-30n * MESH, 30n * MESH],
      );
      p = await f.registry.getProvider(f.alice.address);
      expect([p.stake, p.unstakeAmount]).to.deep.equal([0n, 20n * MESH]);
      expect(await slash.slash.staticCall(f.alice.address, 1000n * MESH, f.stranger.address)).to.equal(20n * MESH);
      await slash.slash(f.alice.address, 1000n * MESH, f.stranger.address);
      p = await f.registry.getProvider(f.alice.address);
      expect([p.stake, p.unstakeAmount]).to.deep.equal([0n, 0n]);
      expect(await f.registry.isActive(f.alice.address)).to.equal(false);
    });

    it("is for the escrow only and never zero", async () => {
      const f = await registered();
      await expect(f.registry.connect(f.alice).slash(f.alice.address, 1, f.alice.address))
        .to.be.revertedWithCustomError(f.registry, "ProviderRegistryUnauthorized")
        .withArgs(f.alice.address);
      await expect(f.registry.connect(f.escrow).slash(f.alice.address, 0, f.alice.address)).to.be.revertedWithCustomError(
        f.registry,
        "ProviderRegistryZeroAmount",
      );
    });
  });

  describe("logs", () => {
    it("rebuild the whole directory, stake included, from events alone", async () => {
      const f = await registered();
      await f.registry.connect(f.bob).register(PEER_B, ASK, [MODEL], 2n * MIN_STAKE);
      await f.registry.connect(f.alice).update(ASK + 1n, [OTHER_MODEL, MODEL]);
      await f.registry.connect(f.alice).setPeerId("0x0102");
      await f.registry.connect(f.alice).addStake(7n * MESH);
      await f.registry.connect(f.bob).requestUnstake(30n * MESH);
      await f.registry.connect(f.escrow).slash(f.bob.address, 2n * MIN_STAKE - 10n * MESH, f.stranger.address);
      await networkHelpers.time.increase(COOLDOWN);
      await f.registry.connect(f.bob).withdrawStake();

      type Entry = { peerId: string; stake: bigint; ask: bigint; models: string[]; pending: bigint };
      const dir = new Map<string, Entry>();
      const logs = await f.registry.queryFilter("*" as never, 0);
      for (const log of logs) {
        const e = f.registry.interface.parseLog(log)!;
        const a = e.args;
        const entry = dir.get(a.provider);
        switch (e.name) {
          case "ProviderRegistered":
            dir.set(a.provider, { peerId: a.peerId, stake: a.stake, ask: a.askPerSecond, models: [...a.models], pending: 0n });
            break;
          case "ProviderUpdated":
            entry!.ask = a.askPerSecond;
            entry!.models = [...a.models];
            break;
          case "PeerIdChanged":
            entry!.peerId = a.peerId;
            break;
          case "StakeAdded":
            entry!.stake = a.total;
            break;
          case "UnstakeRequested":
            entry!.stake -= a.amount;
            entry!.pending += a.amount;
            break;
          case "StakeWithdrawn":
            entry!.pending = 0n;
            break;
          case "ProviderSlashed": {
            const amount = a.amount as bigint;
            const fromStake = amount < entry!.stake ? amount : entry!.stake;
            entry!.stake -= fromStake;
            entry!.pending -= amount - fromStake;
            break;
          }
        }
      }
      expect(dir.size).to.equal(2);
      for (const [address, entry] of dir) {
        const p = await f.registry.getProvider(address);
        expect({ peerId: p.peerId, stake: p.stake, ask: p.askPerSecond, models: [...p.models], pending: p.unstakeAmount }).to.deep.equal(
          entry,
        );
      }
    });
  });

  it("names its token, policy, escrow and cooldown", async () => {
    const f = await load();
    expect(await f.registry.token()).to.equal(await f.token.getAddress());
    expect(await f.registry.policy()).to.equal(await f.policy.getAddress());
    expect(await f.registry.escrow()).to.equal(f.escrow.address);
    expect(await f.registry.UNSTAKE_COOLDOWN()).to.equal(COOLDOWN);
    expect(await f.registry.MAX_PEER_ID_LENGTH()).to.equal(512n);
    expect(await f.registry.MAX_MODELS()).to.equal(32n);
  });
});
