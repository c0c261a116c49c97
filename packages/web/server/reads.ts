import { Contract, type Provider } from "ethers";
import { getGovernance, getJob, getPolicy, listProposals, type DaoClient, type RendermeshClient } from "@rendermesh/client";
import { contentPolicyAbi, jobEscrowAbi, meshTokenAbi, providerRegistryAbi, type Deployment } from "@rendermesh/shared/chain";

/**
 * What the pages read, gathered on the node from the chain (and, for what
 * only the coordinator knows, its read-only HTTP API). Every amount is a
 * bigint in token base units; the page formats them.
 */
export interface ChainReader {
  provider: Provider;
  deployment: Deployment;
  coordinatorHttpUrl: string | undefined;
}

const contracts = (r: ChainReader) => ({
  token: new Contract(r.deployment.token, meshTokenAbi, r.provider),
  policy: new Contract(r.deployment.policy, contentPolicyAbi, r.provider),
  registry: new Contract(r.deployment.registry, providerRegistryAbi, r.provider),
  escrow: new Contract(r.deployment.escrow, jobEscrowAbi, r.provider),
});

async function coordinatorJson(r: ChainReader, path: string): Promise<unknown> {
  if (!r.coordinatorHttpUrl) return undefined;
  try {
    const res = await fetch(`${r.coordinatorHttpUrl}${path}`, { signal: AbortSignal.timeout(3_000) });
    return res.ok ? await res.json() : undefined;
  } catch {
    // The coordinator's dashboard API is optional: the page says what it could not read.
    return undefined;
  }
}

/** The account's balances: ETH for gas, MESH, and MESH credited in the escrow (withdrawable). */
export async function readAccount(r: ChainReader, address: string) {
  const c = contracts(r);
  const [eth, mesh, escrow] = await Promise.all([
    r.provider.getBalance(address),
    c.token.getFunction("balanceOf")(address),
    c.escrow.getFunction("balanceOf")(address),
  ]);
  return { address, eth, mesh: mesh as bigint, escrow: escrow as bigint };
}

/** The jobs in this node's journal for the account, each with its state on the chain and when its refund opens. */
export async function readJobs(client: RendermeshClient) {
  const { claimSeconds } = (await client.contracts.policy.windows()) as { claimSeconds: bigint };
  const now = (await client.provider.getBlock("latest"))?.timestamp ?? Math.floor(Date.now() / 1000);
  const jobs = client.journal.listJobs();
  return Promise.all(
    jobs.map(async (j) => {
      const chain = j.jobId ? await getJob(client, { jobId: j.jobId }).catch(() => undefined) : undefined;
      const raw = j.jobId
        ? ((await client.contracts.escrow.getJob(j.jobId).catch(() => undefined)) as
            { pendingClaims: bigint; paidSeconds: bigint } | undefined)
        : undefined;
      const refundOpensAt = j.deadline + Number(claimSeconds);
      const verified = client.journal.verifiedSegments(j.ref).length;
      return {
        ref: j.ref,
        jobId: j.jobId,
        prompt: j.spec.prompt,
        spec: j.spec,
        phase: j.phase,
        failure: j.failure,
        chainStatus: chain?.status ?? "none",
        deposit: j.deposit,
        pricePerSecond: j.pricePerSecond,
        verified,
        paidSeconds: raw ? Number(raw.paidSeconds) : 0,
        pendingClaims: raw ? Number(raw.pendingClaims) : 0,
        deadline: j.deadline,
        refundOpensAt,
        refundable: chain?.status === "open" && now >= refundOpensAt && (raw ? raw.pendingClaims === 0n : true),
        hasVideo: Boolean(j.videoPath),
        hasManifest: Boolean(j.manifestPath),
        createdAt: j.createdAt,
        settledAt: j.settledAt,
      };
    }),
  ).then((list) => list.sort((a, b) => b.createdAt - a.createdAt));
}

interface ProviderRow {
  address: string;
  live: boolean;
  completed: number;
  failed: number;
  speedFps: number | null;
  device: string;
  lastSeen: number;
}

/**
 * A provider's standing: stake, ask and models from the registry; earnings
 * from the escrow's events (paid by voucher or settle, claims pending and
 * disputed) and its withdrawable balance; segments rendered from the
 * coordinator's directory.
 */
export async function readProvider(r: ChainReader, address: string) {
  const c = contracts(r);
  const info = (await c.registry.getFunction("getProvider")(address)) as [boolean, string, bigint, bigint, string[], bigint, bigint];
  const [registered, peerId, stake, askPerSecond, models, unstakeAmount, unstakeAvailableAt] = info;
  const [withdrawable, wallet, minStake, cooldown, latest] = await Promise.all([
    c.escrow.getFunction("balanceOf")(address) as Promise<bigint>,
    c.token.getFunction("balanceOf")(address) as Promise<bigint>,
    c.policy.getFunction("minProviderStake")() as Promise<bigint>,
    c.registry.getFunction("UNSTAKE_COOLDOWN")() as Promise<bigint>,
    r.provider.getBlock("latest"),
  ]);
  const fromBlock = r.deployment.startBlock;
  const topic = (name: string) => c.escrow.interface.getEvent(name)!.topicHash;
  const padded = "0x" + address.toLowerCase().slice(2).padStart(64, "0");
  const [redeemed, claimed, finalized] = await Promise.all([
    r.provider.getLogs({ address: r.deployment.escrow, topics: [topic("VoucherRedeemed"), null, padded], fromBlock }),
    r.provider.getLogs({ address: r.deployment.escrow, topics: [topic("SegmentClaimed"), null, null, padded], fromBlock }),
    r.provider.getLogs({ address: r.deployment.escrow, topics: [topic("ClaimFinalized"), null, null, padded], fromBlock }),
  ]);
  let earned = 0n;
  const jobs = new Set<string>();
  for (const log of [...redeemed, ...finalized]) {
    const parsed = c.escrow.interface.parseLog(log);
    if (!parsed) continue;
    earned += parsed.args[3] as bigint;
    jobs.add(String(parsed.args[0]));
  }
  const CLAIM_STATUS = ["none", "pending", "disputed", "paid", "refused"];
  const claims = await Promise.all(
    claimed.map(async (log) => {
      const parsed = c.escrow.interface.parseLog(log)!;
      const jobId = String(parsed.args[0]);
      const segment = Number(parsed.args[1]);
      const claim = (await c.escrow.getFunction("getClaim")(jobId, segment)) as { status: bigint; disputableUntil: bigint };
      return {
        jobId,
        segment,
        status: CLAIM_STATUS[Number(claim.status)] ?? String(claim.status),
        disputableUntil: Number(claim.disputableUntil),
      };
    }),
  );
  const directory = (await coordinatorJson(r, "/api/providers")) as { providers: ProviderRow[] } | undefined;
  const row = directory?.providers.find((p) => p.address.toLowerCase() === address.toLowerCase());
  return {
    address,
    registered,
    peerId,
    stake,
    minStake,
    askPerSecond,
    models,
    unstake: { amount: unstakeAmount, availableAt: Number(unstakeAvailableAt), cooldownSeconds: Number(cooldown) },
    withdrawable,
    wallet,
    earned,
    jobsPaid: jobs.size,
    claims,
    pendingClaims: claims.filter((x) => x.status === "pending").length,
    disputes: claims.filter((x) => x.status === "disputed"),
    coordinator: row
      ? { live: row.live, completed: row.completed, failed: row.failed, speedFps: row.speedFps, device: row.device, lastSeen: row.lastSeen }
      : undefined,
    coordinatorReachable: directory !== undefined,
    now: latest?.timestamp ?? 0,
  };
}

/** The policy in force, the DAO's settings (and the account's votes) and every proposal with its state, votes and next step. */
export async function readDao(r: ChainReader, account: string | undefined) {
  const dao: DaoClient = { provider: r.provider, deployment: r.deployment };
  const [policy, governance, proposals] = await Promise.all([getPolicy(dao), getGovernance(dao, { account }), listProposals(dao)]);
  return {
    policy,
    governance,
    proposals: proposals
      .map((p) => ({
        proposalId: p.proposalId,
        state: p.state,
        stateForNextBlock: p.stateForNextBlock,
        proposer: p.proposer,
        description: p.record.description,
        calls: p.calls,
        votes: p.votes,
        quorum: p.quorum,
        quorumReached: p.quorumReached,
        deadline: p.deadline,
        votingStartsAtBlock: p.votingStartsAtBlock,
        currentBlock: p.currentBlock,
        eta: p.eta,
        now: p.now,
        next: p.next,
        targets: p.record.targets,
        values: p.record.values,
        calldatas: p.record.calldatas,
      }))
      .reverse(),
  };
}
