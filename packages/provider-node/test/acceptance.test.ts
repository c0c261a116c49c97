import { specHash, termHash, type JobSpec, type PolicySnapshot, type RenderRequest } from "@rendermesh/shared";
import { eip712Domain, signAssignment, verifyAssignment } from "@rendermesh/shared/chain";
import { Wallet, type Signer } from "ethers";
import { describe, expect, test } from "vitest";
import type { EscrowJob } from "@rendermesh/shared/chain";
import type { ChainReader } from "../src/chain/types.js";
import { checkAssignment, PolicyCache, type AcceptanceComponents } from "../src/render/acceptance.js";

const chainId = 31337;
const escrow = "0x00000000000000000000000000000000000000e5";
const domain = eip712Domain(chainId, escrow);
const coordinator = Wallet.createRandom();
const otherCoordinator = Wallet.createRandom();
const provider = Wallet.createRandom();
const model = `0x${"77".repeat(32)}` as `0x${string}`;
const jobId = `0x${"42".repeat(32)}` as `0x${string}`;
const now = 1_900_000_000;

const spec: JobSpec = { v: 1, model, prompt: "a quiet green forest", seed: 3, seconds: 3, fps: 4, width: 64, height: 64 };

function policy(over: Partial<PolicySnapshot> = {}): PolicySnapshot {
  return {
    version: 1n,
    blockedTerms: new Set(),
    allowedModels: new Set([model]),
    maxSeconds: 60,
    maxWidth: 512,
    maxHeight: 512,
    maxFps: 30,
    minProviderStake: 1n,
    coordinatorFeeBps: 500,
    treasuryFeeBps: 100,
    disputeWindow: 60n,
    claimWindow: 120n,
    arbiter: "0x00",
    treasury: "0x00",
    ...over,
  };
}

function job(over: Partial<EscrowJob> = {}): EscrowJob {
  return {
    client: "0x00000000000000000000000000000000000000c1",
    seconds: 3,
    paidSeconds: 0,
    reservedSeconds: 0,
    coordinator: coordinator.address.toLowerCase(),
    deadline: now + 3600,
    coordinatorFeeBps: 500,
    treasuryFeeBps: 100,
    pricePerSecond: 10n ** 18n,
    policyVersion: 1n,
    status: 1,
    specHash: specHash(spec),
    closesAt: 0,
    disputeWindow: 60,
    claimWindow: 120,
    arbiterWindow: 3 * 86_400,
    disputeBond: 10n ** 18n,
    ...over,
  };
}

function chain(
  over: { job?: EscrowJob; openedBlock?: number | undefined; policies?: Map<number, PolicySnapshot> } = {},
): AcceptanceComponents["chain"] {
  return {
    chainId,
    escrowAddress: escrow,
    getJob: async () => over.job ?? job(),
    jobOpenedBlock: async () => ("openedBlock" in over ? over.openedBlock : 10),
    readPolicy: async (block?: number) => over.policies?.get(block ?? -1) ?? policy(),
  } satisfies Pick<ChainReader, "chainId" | "escrowAddress" | "getJob" | "jobOpenedBlock" | "readPolicy">;
}

async function request(
  over: {
    spec?: JobSpec;
    segment?: number;
    firstFrame?: number;
    frameCount?: number;
    deadline?: number;
    signer?: Signer;
    provider?: string;
    chainId?: number;
  } = {},
): Promise<RenderRequest> {
  const segment = over.segment ?? 1;
  const assignment = {
    jobId,
    segment,
    firstFrame: over.firstFrame ?? segment * 4,
    frameCount: over.frameCount ?? 4,
    provider: (over.provider ?? provider.address) as `0x${string}`,
    deadline: over.deadline ?? now + 600,
  };
  const signature = await signAssignment(over.signer ?? coordinator, domain, assignment);
  return {
    type: "render",
    chainId: over.chainId ?? chainId,
    escrow: escrow as `0x${string}`,
    spec: over.spec ?? spec,
    assignment,
    signature,
  };
}

function components(over: Partial<AcceptanceComponents> = {}): AcceptanceComponents {
  return {
    address: provider.address,
    chain: chain(),
    signatures: { recoverAssignmentSigner: (a, s) => verifyAssignment(domain, a, s) },
    models: new Set([model]),
    now: () => now,
    ...over,
  };
}

const refusal = (code: string) => expect.objectContaining({ name: "RefusalError", reason: code });

describe("checkAssignment", () => {
  test("default: a valid assignment for an open job under its policy is accepted", async () => {
    const result = await checkAssignment(await request(), components());
    expect(result.openedBlock).toBe(10);
    expect(result.job.coordinator).toBe(coordinator.address.toLowerCase());
  });

  test("error: another chain or escrow is WRONG_CHAIN", async () => {
    await expect(checkAssignment(await request({ chainId: 1 }), components())).rejects.toEqual(refusal("WRONG_CHAIN"));
  });

  test("error: an assignment for another provider is refused", async () => {
    await expect(checkAssignment(await request({ provider: Wallet.createRandom().address }), components())).rejects.toEqual(
      refusal("BAD_MESSAGE"),
    );
  });

  test("error: a lapsed assignment is ASSIGNMENT_EXPIRED", async () => {
    await expect(checkAssignment(await request({ deadline: now - 1 }), components())).rejects.toEqual(refusal("ASSIGNMENT_EXPIRED"));
  });

  test("error: a model this node does not serve is MODEL_NOT_SERVED", async () => {
    await expect(checkAssignment(await request(), components({ models: new Set([`0x${"88".repeat(32)}`]) }))).rejects.toEqual(
      refusal("MODEL_NOT_SERVED"),
    );
  });

  test("error: a job the escrow does not know is UNKNOWN_JOB", async () => {
    await expect(checkAssignment(await request(), components({ chain: chain({ job: job({ status: 0 }) }) }))).rejects.toEqual(
      refusal("UNKNOWN_JOB"),
    );
  });

  test("error: a signature by someone else is BAD_SIGNATURE", async () => {
    await expect(checkAssignment(await request({ signer: Wallet.createRandom() }), components())).rejects.toEqual(refusal("BAD_SIGNATURE"));
  });

  test("error: a tampered assignment is BAD_SIGNATURE", async () => {
    const req = await request();
    req.assignment.deadline += 1;
    await expect(checkAssignment(req, components())).rejects.toEqual(refusal("BAD_SIGNATURE"));
  });

  test("error: a known coordinator signing a job it does not own is WRONG_COORDINATOR", async () => {
    const req = await request({ signer: otherCoordinator });
    await expect(checkAssignment(req, components({ senderCoordinator: otherCoordinator.address }))).rejects.toEqual(
      refusal("WRONG_COORDINATOR"),
    );
  });

  test("error: a settled or refunded job is JOB_NOT_OPEN", async () => {
    await expect(checkAssignment(await request(), components({ chain: chain({ job: job({ status: 2 }) }) }))).rejects.toEqual(
      refusal("JOB_NOT_OPEN"),
    );
    await expect(checkAssignment(await request(), components({ chain: chain({ job: job({ status: 3 }) }) }))).rejects.toEqual(
      refusal("JOB_NOT_OPEN"),
    );
  });

  test("error: a spec other than the one opened is SPEC_HASH_MISMATCH", async () => {
    await expect(checkAssignment(await request({ spec: { ...spec, seed: 4 } }), components())).rejects.toEqual(
      refusal("SPEC_HASH_MISMATCH"),
    );
  });

  test("error: a price below the ask scaled to the spec is PRICE_TOO_LOW", async () => {
    // Ask 1 MESH/s at 64x64@4; the spec is the reference size, so it needs 1 MESH/s; the job pays 0.5.
    const pricing = { askPerSecond: 10n ** 18n, reference: () => ({ width: 64, height: 64, fps: 4 }) };
    await expect(
      checkAssignment(await request(), components({ pricing, chain: chain({ job: job({ pricePerSecond: 5n * 10n ** 17n }) }) })),
    ).rejects.toEqual(refusal("PRICE_TOO_LOW"));
    // A quarter of the pixels needs a quarter of the ask.
    const small = { ...spec, width: 32, height: 32 };
    await expect(
      checkAssignment(
        await request({ spec: small }),
        components({ pricing, chain: chain({ job: job({ pricePerSecond: 25n * 10n ** 16n, specHash: specHash(small) }) }) }),
      ),
    ).resolves.toBeDefined();
  });

  test("error: a segment outside the job or a wrong frame range is refused", async () => {
    await expect(checkAssignment(await request({ segment: 3 }), components())).rejects.toEqual(refusal("BAD_MESSAGE"));
    await expect(checkAssignment(await request({ segment: 1, firstFrame: 3 }), components())).rejects.toEqual(refusal("BAD_MESSAGE"));
    await expect(checkAssignment(await request({ segment: 1, frameCount: 5 }), components())).rejects.toEqual(refusal("BAD_MESSAGE"));
  });

  test("error: a prompt with a blocked term is POLICY_BLOCKED_TERM, naming the term", async () => {
    const blocked = policy({ blockedTerms: new Set([termHash("forest").toLowerCase()]) });
    const err = await checkAssignment(await request(), components({ chain: chain({ policies: new Map([[10, blocked]]) }) })).catch(
      (e: unknown) => e,
    );
    expect(err).toEqual(refusal("POLICY_BLOCKED_TERM"));
    expect((err as { term?: string }).term).toBe("forest");
  });

  test("error: a model the policy does not allow is POLICY_MODEL_NOT_ALLOWED", async () => {
    const p = policy({ allowedModels: new Set() });
    await expect(checkAssignment(await request(), components({ chain: chain({ policies: new Map([[10, p]]) }) }))).rejects.toEqual(
      refusal("POLICY_MODEL_NOT_ALLOWED"),
    );
  });

  test("error: a job over the policy's limits is POLICY_LIMIT", async () => {
    const p = policy({ maxWidth: 32 });
    await expect(checkAssignment(await request(), components({ chain: chain({ policies: new Map([[10, p]]) }) }))).rejects.toEqual(
      refusal("POLICY_LIMIT"),
    );
  });

  test("behavior: the policy is read at the block the job was opened in", async () => {
    const seen: Array<number | undefined> = [];
    const c = chain({ openedBlock: 10 });
    const read = c.readPolicy;
    c.readPolicy = async (block) => (seen.push(block), read(block));
    const cache = new PolicyCache();
    await checkAssignment(await request(), components({ chain: c, policyCache: cache }));
    await checkAssignment(await request({ segment: 2 }), components({ chain: c, policyCache: cache }));
    expect(seen).toEqual([10]);
  });

  test("error: a job without a JobOpened event is UNKNOWN_JOB", async () => {
    await expect(checkAssignment(await request(), components({ chain: chain({ openedBlock: undefined }) }))).rejects.toEqual(
      refusal("UNKNOWN_JOB"),
    );
  });
});
