import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Wallet, TypedDataEncoder, getAddress, hexlify, randomBytes } from "ethers";
import { CID } from "multiformats/cid";
import { sha256 } from "multiformats/hashes/sha2";
import {
  ASSIGNMENT_TYPE,
  ASSIGNMENT_TYPES,
  DELIVERY_TYPE,
  DELIVERY_TYPES,
  InvalidSignatureError,
  JobStatus,
  VOUCHER_TYPE,
  VOUCHER_TYPES,
  assignmentStruct,
  cidBytes,
  deliveryStruct,
  eip712Domain,
  hashVoucher,
  signAllocation,
  signAssignment,
  signDelivery,
  signVoucher,
  verifyAssignment,
  verifyDelivery,
  verifyVoucher,
  voucherStruct,
  type Assignment,
  type Delivery,
  type Voucher,
} from "../src/chain/index.js";
import { MESH, createChainFixture, revertName, type ChainFixture } from "./chain-fixture.js";

let chain: ChainFixture;
const PRICE = 10n * MESH;

beforeAll(async () => {
  chain = await createChainFixture();
}, 120_000);

afterAll(async () => {
  await chain?.close();
});

async function openJob(seconds = 6, deadlineIn = 3600): Promise<string> {
  const { contracts, client, provider } = chain;
  const token = contracts.token.connect(client);
  const escrow = contracts.escrow.connect(client);
  await (await token.approve(chain.deployment.escrow, BigInt(seconds) * PRICE)).wait();
  const now = (await provider.getBlock("latest"))!.timestamp;
  const version = await contracts.policy.version();
  const jobId = await escrow.openJob.staticCall(
    `0x${"11".repeat(32)}`,
    chain.coordinator.address,
    seconds,
    PRICE,
    now + deadlineIn,
    version,
  );
  await (await escrow.openJob(`0x${"11".repeat(32)}`, chain.coordinator.address, seconds, PRICE, now + deadlineIn, version)).wait();
  return jobId;
}

async function segmentCid(seed: string): Promise<CID> {
  return CID.createV1(0x55, await sha256.digest(new TextEncoder().encode(seed)));
}

describe("EIP-712 types", () => {
  test("default: the type objects encode exactly the protocol's type strings", () => {
    expect(TypedDataEncoder.from(VOUCHER_TYPES).encodeType("Voucher")).toBe(VOUCHER_TYPE);
    expect(TypedDataEncoder.from(ASSIGNMENT_TYPES).encodeType("Assignment")).toBe(ASSIGNMENT_TYPE);
    expect(TypedDataEncoder.from(DELIVERY_TYPES).encodeType("Delivery")).toBe(DELIVERY_TYPE);
  });

  test("default: the domain is the escrow's, with a checksummed address", () => {
    const domain = eip712Domain(31337, "0x5fbdb2315678afecb367f032d93f642f64180aa3");
    expect(domain).toEqual({
      name: "Rendermesh",
      version: "1",
      chainId: 31337n,
      verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    });
  });

  test("behavior: the domain matches the escrow's own eip712Domain()", async () => {
    const onChain = await chain.contracts.escrow.eip712Domain();
    const domain = eip712Domain(chain.chainId, chain.deployment.escrow);
    expect([onChain.name, onChain.version, onChain.chainId, onChain.verifyingContract]).toEqual([
      domain.name,
      domain.version,
      domain.chainId,
      domain.verifyingContract,
    ]);
  });

  test("args: a CID as bytes, hex, string or object gives the same binary CIDv1", async () => {
    const cid = await segmentCid("x");
    const expected = hexlify(cid.bytes);
    expect(hexlify(cidBytes(cid.bytes))).toBe(expected);
    expect(hexlify(cidBytes(expected))).toBe(expected);
    expect(hexlify(cidBytes(cid.toString()))).toBe(expected);
    expect(hexlify(cidBytes(cid))).toBe(expected);
  });

  test("error: a CIDv0 or garbage is refused", async () => {
    const v0 = CID.createV0(await sha256.digest(new TextEncoder().encode("x")));
    expect(() => cidBytes(v0.toString())).toThrow(/CIDv1/);
    expect(() => cidBytes("not a cid")).toThrow(/neither 0x hex nor a CID/);
    expect(() => cidBytes("0x0102")).toThrow(/not a binary CID/);
  });
});

/** The coordinator's allocation of `seconds` of the job to provider1, which every redeem needs beside the voucher. */
async function allocationFor(jobId: string, seconds: number): Promise<[number, string]> {
  const domain = eip712Domain(chain.chainId, chain.deployment.escrow);
  return [seconds, await signAllocation(chain.coordinator, domain, { jobId, provider: chain.provider1.address, seconds })];
}

describe("Voucher", () => {
  test("default: a voucher signed in TypeScript is accepted by JobEscrow.redeem", async () => {
    const jobId = await openJob();
    const domain = eip712Domain(chain.chainId, chain.deployment.escrow);
    const voucher: Voucher = { jobId, provider: chain.provider1.address, seconds: 3 };
    const signature = await signVoucher(chain.client, domain, voucher);
    expect(verifyVoucher(domain, voucher, signature)).toBe(chain.client.address);
    expect(verifyVoucher(domain, voucher, signature, chain.client.address.toLowerCase())).toBe(chain.client.address);

    // Anyone may send it: here the provider does.
    const escrow = chain.contracts.escrow.connect(chain.provider1);
    const receipt = await (await escrow.redeem(voucherStruct(voucher), signature, ...(await allocationFor(jobId, 3)))).wait();
    const event = receipt!.logs.map((l) => escrow.interface.parseLog(l)).find((e) => e?.name === "VoucherRedeemed");
    const net = PRICE - (PRICE * 500n) / 10_000n - (PRICE * 100n) / 10_000n;
    expect(event?.args.toObject()).toEqual({ jobId, provider: chain.provider1.address, totalSeconds: 3n, amount: 3n * net });
    expect(await escrow.paidSeconds(jobId, chain.provider1.address)).toBe(3n);
    expect(await escrow.balanceOf(chain.provider1.address)).toBe(3n * net);
    expect((await escrow.getJob(jobId)).paidSeconds).toBe(3n);
  });

  test("error: a voucher signed by someone other than the client is refused, in TypeScript and on-chain", async () => {
    const jobId = await openJob();
    const domain = eip712Domain(chain.chainId, chain.deployment.escrow);
    const voucher: Voucher = { jobId, provider: chain.provider1.address, seconds: 2 };
    const forged = await signVoucher(chain.provider1, domain, voucher);
    expect(() => verifyVoucher(domain, voucher, forged, chain.client.address)).toThrow(InvalidSignatureError);
    expect(
      await revertName(chain.contracts.escrow.redeem(voucherStruct(voucher), forged, ...(await allocationFor(jobId, 6))), chain.contracts),
    ).toBe("JobEscrowInvalidSigner");
  });

  test("error: a voucher for another chain, escrow or job is refused", async () => {
    const jobId = await openJob();
    const otherJob = await openJob();
    const voucher: Voucher = { jobId, provider: chain.provider1.address, seconds: 2 };
    const wrongChain = await signVoucher(chain.client, eip712Domain(chain.chainId + 1n, chain.deployment.escrow), voucher);
    const wrongEscrow = await signVoucher(chain.client, eip712Domain(chain.chainId, chain.deployment.token), voucher);
    const forOtherJob = await signVoucher(chain.client, eip712Domain(chain.chainId, chain.deployment.escrow), {
      ...voucher,
      jobId: otherJob,
    });
    for (const signature of [wrongChain, wrongEscrow, forOtherJob]) {
      expect(
        await revertName(
          chain.contracts.escrow.redeem(voucherStruct(voucher), signature, ...(await allocationFor(jobId, 6))),
          chain.contracts,
        ),
      ).toBe("JobEscrowInvalidSigner");
    }
  });

  test("error: a tampered voucher or a malformed signature is refused", async () => {
    const jobId = await openJob();
    const domain = eip712Domain(chain.chainId, chain.deployment.escrow);
    const voucher: Voucher = { jobId, provider: chain.provider1.address, seconds: 2 };
    const signature = await signVoucher(chain.client, domain, voucher);
    const tampered = { ...voucher, seconds: 6 };
    expect(verifyVoucher(domain, tampered, signature)).not.toBe(chain.client.address);
    expect(() => verifyVoucher(domain, voucher, "0x1234")).toThrow(InvalidSignatureError);
    expect(
      await revertName(
        chain.contracts.escrow.redeem(voucherStruct(tampered), signature, ...(await allocationFor(jobId, 6))),
        chain.contracts,
      ),
    ).toBe("JobEscrowInvalidSigner");
    expect(
      await revertName(
        chain.contracts.escrow.redeem(voucherStruct(voucher), "0x1234", ...(await allocationFor(jobId, 6))),
        chain.contracts,
      ),
    ).toBe("JobEscrowInvalidSigner");
  });

  test("behavior: hashVoucher is the digest the signature recovers from", async () => {
    const wallet = Wallet.createRandom();
    const domain = eip712Domain(chain.chainId, chain.deployment.escrow);
    const voucher: Voucher = { jobId: hexlify(randomBytes(32)), provider: chain.provider2.address, seconds: 7n };
    const signature = await signVoucher(wallet, domain, voucher);
    expect(wallet.signingKey.sign(hashVoucher(domain, voucher)).serialized).toBe(signature);
  });
});

describe("Assignment and Delivery", () => {
  test("default: a TypeScript-signed assignment and delivery are accepted by JobEscrow.claim", async () => {
    const { contracts } = chain;
    // The provider must be registered and staked for its claim to count.
    const registry = contracts.registry.connect(chain.provider2);
    await (await contracts.token.connect(chain.provider2).approve(chain.deployment.registry, 100n * MESH)).wait();
    await (await registry.register("0x0024080112201234", 5n * MESH, [`0x${"ab".repeat(32)}`], 100n * MESH)).wait();

    const jobId = await openJob(4, 100);
    const domain = eip712Domain(chain.chainId, chain.deployment.escrow);
    const assignment: Assignment = { jobId, segment: 1, firstFrame: 12, frameCount: 12, provider: chain.provider2.address, deadline: 1 };
    // (A claim opens once its assignment's own deadline has passed; this one's has.)
    const cid = await segmentCid("segment 1");
    const delivery: Delivery = { jobId, segment: 1, cid: cid.toString(), sha256: `0x${"cd".repeat(32)}`, frameCount: 12 };
    const coordinatorSig = await signAssignment(chain.coordinator, domain, assignment);
    const providerSig = await signDelivery(chain.provider2, domain, delivery);
    expect(verifyAssignment(domain, assignment, coordinatorSig, chain.coordinator.address)).toBe(chain.coordinator.address);
    expect(verifyDelivery(domain, delivery, providerSig, chain.provider2.address)).toBe(chain.provider2.address);
    // The same delivery with the CID given as bytes verifies too: the signature covers the binary CID.
    expect(verifyDelivery(domain, { ...delivery, cid: cid.bytes }, providerSig)).toBe(chain.provider2.address);

    await chain.increaseTime(101);
    const escrow = contracts.escrow.connect(chain.coordinator);
    // Swapped signatures are refused.
    expect(
      await revertName(escrow.claim(assignmentStruct(assignment), providerSig, deliveryStruct(delivery), coordinatorSig), contracts),
    ).toBe("JobEscrowInvalidSigner");
    // A delivery signed by another provider is refused.
    const otherSig = await signDelivery(chain.provider1, domain, delivery);
    expect(
      await revertName(escrow.claim(assignmentStruct(assignment), coordinatorSig, deliveryStruct(delivery), otherSig), contracts),
    ).toBe("JobEscrowInvalidSigner");

    const receipt = await (await escrow.claim(assignmentStruct(assignment), coordinatorSig, deliveryStruct(delivery), providerSig)).wait();
    const event = receipt!.logs.map((l) => escrow.interface.parseLog(l)).find((e) => e?.name === "SegmentClaimed");
    expect(event?.args.provider).toBe(getAddress(chain.provider2.address));
    expect(event?.args.cid).toBe(hexlify(cid.bytes));
    const claim = await escrow.getClaim(jobId, 1);
    expect(claim.provider).toBe(chain.provider2.address);
    expect((await escrow.getJob(jobId)).reservedSeconds).toBe(1n);
    expect((await escrow.getJob(jobId)).status).toBe(BigInt(JobStatus.Open));
  });

  test("error: verify* names the mismatch when the expected signer differs", async () => {
    const domain = eip712Domain(chain.chainId, chain.deployment.escrow);
    const assignment: Assignment = {
      jobId: hexlify(randomBytes(32)),
      segment: 0,
      firstFrame: 0,
      frameCount: 12,
      provider: chain.provider1.address,
      deadline: 1n,
    };
    const signature = await signAssignment(chain.provider1, domain, assignment);
    expect(() => verifyAssignment(domain, assignment, signature, chain.coordinator.address)).toThrow(
      `signed by ${chain.provider1.address}, not by ${chain.coordinator.address}`,
    );
    try {
      verifyAssignment(domain, assignment, signature, chain.coordinator.address);
    } catch (err) {
      expect((err as InvalidSignatureError).code).toBe("INVALID_SIGNATURE");
      expect((err as InvalidSignatureError).name).toBe("InvalidSignatureError");
    }
  });
});
