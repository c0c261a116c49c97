// Shared set-up for the mocha behaviour tests: a token, a policy owned by a
// `governance` signer (standing in for the timelock, so tests can change it
// directly), an escrow with its registry, funded and registered accounts, and
// EIP-712 signing for the three protocol messages.
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkConnection } from "hardhat/types/network";
import type { ContentPolicy, JobEscrow, MeshToken, ProviderRegistry } from "../../../types/ethers-contracts/index.js";

export const MESH = 10n ** 18n;
export const PRICE = 10n * MESH;
export const MODEL = `0x${"ab".repeat(32)}`;
export const SPEC = `0x${"5e".repeat(32)}`;
export const COORDINATOR_FEE_BPS = 500n;
export const TREASURY_FEE_BPS = 100n;
export const MIN_STAKE = 100n * MESH;
export const DISPUTE_WINDOW = 60n;
export const CLAIM_WINDOW = 120n;
export const COOLDOWN = 600n;

/** A provider's share of one second at `price` with the default fees. */
export function netPerSecond(price: bigint = PRICE, cBps = COORDINATOR_FEE_BPS, tBps = TREASURY_FEE_BPS): bigint {
  return price - (price * cBps) / 10_000n - (price * tBps) / 10_000n;
}

export const VOUCHER_TYPES = {
  Voucher: [
    { name: "jobId", type: "bytes32" },
    { name: "provider", type: "address" },
    { name: "seconds", type: "uint32" },
  ],
};
export const ASSIGNMENT_TYPES = {
  Assignment: [
    { name: "jobId", type: "bytes32" },
    { name: "segment", type: "uint32" },
    { name: "firstFrame", type: "uint32" },
    { name: "frameCount", type: "uint32" },
    { name: "provider", type: "address" },
    { name: "deadline", type: "uint64" },
  ],
};
export const DELIVERY_TYPES = {
  Delivery: [
    { name: "jobId", type: "bytes32" },
    { name: "segment", type: "uint32" },
    { name: "cid", type: "bytes" },
    { name: "sha256", type: "bytes32" },
    { name: "frameCount", type: "uint32" },
    { name: "trace", type: "bytes" },
  ],
};
export const ACKNOWLEDGEMENT_TYPES = {
  Acknowledgement: [
    { name: "jobId", type: "bytes32" },
    { name: "provider", type: "address" },
    { name: "seconds", type: "uint32" },
  ],
};
export const ALLOCATION_TYPES = {
  Allocation: [
    { name: "jobId", type: "bytes32" },
    { name: "provider", type: "address" },
    { name: "seconds", type: "uint32" },
  ],
};

export interface Assignment {
  jobId: string;
  segment: number;
  firstFrame: number;
  frameCount: number;
  provider: string;
  deadline: number;
}
export interface Delivery {
  jobId: string;
  segment: number;
  cid: string;
  sha256: string;
  frameCount: number;
  trace: string;
}

export type Signer = HardhatEthersSigner;

type Ten = [Signer, Signer, Signer, Signer, Signer, Signer, Signer, Signer, Signer, Signer];

/** The first ten of Hardhat's funded accounts (it has twenty), typed as present. */
export async function signers(ethers: NetworkConnection["ethers"]): Promise<Ten> {
  const all = await ethers.getSigners();
  if (all.length < 10) throw new Error("the test network needs at least ten accounts");
  return all.slice(0, 10) as Ten;
}

export async function policyParams(arbiter: string, treasury: string) {
  return {
    allowedModels: [MODEL],
    blockedTerms: [],
    maxSeconds: 600,
    maxWidth: 1920,
    maxHeight: 1080,
    maxFps: 60,
    minProviderStake: MIN_STAKE,
    coordinatorFeeBps: COORDINATOR_FEE_BPS,
    treasuryFeeBps: TREASURY_FEE_BPS,
    disputeWindow: DISPUTE_WINDOW,
    claimWindow: CLAIM_WINDOW,
    arbiter,
    treasury,
  };
}

export function escrowFixture(connection: NetworkConnection) {
  const { ethers, networkHelpers } = connection;

  async function deploy() {
    const [deployer, governance, client, coordinator, provider1, provider2, provider3, arbiter, treasury, stranger] = await signers(ethers);
    const token = (await ethers.deployContract("MeshToken", [deployer.address, 1_000_000_000n * MESH])) as unknown as MeshToken;
    const policy = (await ethers.deployContract("ContentPolicy", [
      governance.address,
      await policyParams(arbiter.address, treasury.address),
    ])) as unknown as ContentPolicy;
    const escrow = (await ethers.deployContract("JobEscrow", [
      await token.getAddress(),
      await policy.getAddress(),
      COOLDOWN,
    ])) as unknown as JobEscrow;
    const registry = (await ethers.getContractAt("ProviderRegistry", await escrow.registry())) as unknown as ProviderRegistry;
    for (const s of [client, provider1, provider2, provider3, stranger]) {
      await token.transfer(s.address, 1_000_000n * MESH);
    }
    let i = 0;
    for (const p of [provider1, provider2, provider3]) {
      await token.connect(p).approve(await registry.getAddress(), MIN_STAKE * 10n);
      await registry.connect(p).register(`0x0024${(++i).toString(16).padStart(4, "0")}`, PRICE / 2n, [MODEL], MIN_STAKE * 10n);
    }
    await token.connect(client).approve(await escrow.getAddress(), 2n ** 255n);
    const chainId = (await ethers.provider.getNetwork()).chainId;
    const domain = { name: "Rendermesh", version: "1", chainId, verifyingContract: await escrow.getAddress() };
    return {
      token,
      policy,
      escrow,
      registry,
      domain,
      chainId,
      deployer,
      governance,
      client,
      coordinator,
      provider1,
      provider2,
      provider3,
      arbiter,
      treasury,
      stranger,
    };
  }

  type Fixture = Awaited<ReturnType<typeof deploy>>;

  const now = async () => BigInt((await ethers.provider.getBlock("latest"))!.timestamp);

  /** Opens a job as `f.client`; returns its id and deadline. */
  async function openJob(f: Fixture, seconds = 10, price = PRICE, deadlineIn = 3600n) {
    const deadline = (await now()) + deadlineIn;
    const version = await f.policy.version();
    const jobId = await f.escrow.connect(f.client).openJob.staticCall(SPEC, f.coordinator.address, seconds, price, deadline, version);
    await f.escrow.connect(f.client).openJob(SPEC, f.coordinator.address, seconds, price, deadline, version);
    return { jobId, deadline };
  }

  /** A client voucher and the coordinator's allocation of (by default) exactly its seconds to the provider. */
  async function voucher(
    f: Fixture,
    jobId: string,
    provider: string,
    seconds: number,
    signer: Signer = f.client,
    allocated: number = seconds,
  ) {
    const signature = await signer.signTypedData(f.domain, VOUCHER_TYPES, { jobId, provider, seconds });
    const allocationSig = await allocation(f, jobId, provider, allocated);
    return { voucher: { jobId, provider, totalSeconds: seconds }, signature, allocated, allocationSig };
  }

  async function allocation(f: Fixture, jobId: string, provider: string, seconds: number, coordinator: Signer = f.coordinator) {
    return coordinator.signTypedData(f.domain, ALLOCATION_TYPES, { jobId, provider, seconds });
  }

  async function acknowledgement(f: Fixture, jobId: string, provider: Signer, seconds: number) {
    return provider.signTypedData(f.domain, ACKNOWLEDGEMENT_TYPES, { jobId, provider: provider.address, seconds });
  }

  /**
   * Settle entries: each provider allocated its seconds by the coordinator and, unless `ack` is false, acknowledging
   * them. `providers` are signers or addresses (an address cannot acknowledge, its entry has none).
   */
  async function entries(f: Fixture, jobId: string, providers: Array<Signer | string>, seconds: number[], ack = true) {
    return Promise.all(
      providers.map(async (p, i) => {
        const address = typeof p === "string" ? p : p.address;
        const secs = seconds[i] ?? 0;
        const acknowledgementSig = ack && typeof p !== "string" ? await acknowledgement(f, jobId, p, secs) : "0x";
        const allocationSig = await allocation(f, jobId, address, secs);
        return { provider: address, totalSeconds: secs, allocated: secs, allocationSig, acknowledgementSig };
      }),
    );
  }

  /** A coordinator-signed assignment and a provider-signed delivery for one segment. */
  async function claimArgs(
    f: Fixture,
    jobId: string,
    segment: number,
    provider: Signer,
    overrides: { coordinator?: Signer; deliverySigner?: Signer; delivery?: Partial<Delivery>; assignment?: Partial<Assignment> } = {},
  ) {
    const assignment: Assignment = {
      jobId,
      segment,
      firstFrame: segment * 12,
      frameCount: 12,
      provider: provider.address,
      // Its deadline has passed: the claim is open.
      deadline: Number(await now()) - 1,
      ...overrides.assignment,
    };
    const delivery: Delivery = {
      jobId,
      segment,
      cid: `0x01551220${segment.toString(16).padStart(64, "0")}`,
      sha256: `0x${"cd".repeat(32)}`,
      frameCount: 12,
      trace: "0x",
      ...overrides.delivery,
    };
    const coordinatorSig = await (overrides.coordinator ?? f.coordinator).signTypedData(f.domain, ASSIGNMENT_TYPES, assignment);
    const providerSig = await (overrides.deliverySigner ?? provider).signTypedData(f.domain, DELIVERY_TYPES, delivery);
    return [assignment, coordinatorSig, delivery, providerSig] as const;
  }

  /**
   * Arguments of `attributeSegment`: the client's voucher to `provider` for `seconds` (allocated `allocated`, signed by
   * `voucherSigner`) and one attribution per segment (its assignment and delivery, as `claimArgs` makes them).
   */
  async function attributeArgs(
    f: Fixture,
    jobId: string,
    provider: Signer,
    seconds: number,
    segments: number[],
    options: { allocated?: number; voucherSigner?: Signer; claim?: Parameters<typeof claimArgs>[4] } = {},
  ) {
    const v = await voucher(f, jobId, provider.address, seconds, options.voucherSigner ?? f.client, options.allocated ?? seconds);
    const attributions = await Promise.all(
      segments.map(async (segment) => {
        const [assignment, coordinatorSig, delivery, providerSig] = await claimArgs(f, jobId, segment, provider, options.claim);
        return { assignment, coordinatorSig, delivery, providerSig };
      }),
    );
    return [v.voucher, v.signature, v.allocated, v.allocationSig, attributions] as const;
  }

  return {
    deploy,
    attributeArgs,
    load: () => networkHelpers.loadFixture(deploy),
    openJob,
    voucher,
    allocation,
    acknowledgement,
    entries,
    claimArgs,
    now,
    increaseTime: (s: bigint | number) => networkHelpers.time.increase(s),
    increaseTo: (t: bigint | number) => networkHelpers.time.increaseTo(t),
  };
}
