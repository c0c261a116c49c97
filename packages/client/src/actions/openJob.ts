import { AbiCoder, formatUnits, keccak256, Signature, type TransactionReceipt } from "ethers";
import { specHash as hashSpec, type JobSpec, type Quote } from "@rendermesh/shared";
import type { RendermeshClient } from "../client.js";
import { sendJournalled } from "../chain/tx.js";
import { type ChainError, InsufficientFundsError, ChainError as ChainErr } from "../errors.js";
import { progress, type ProgressOptions } from "../events.js";
import type { JournalJob } from "../journal/journal.js";

export interface OpenJobParameters extends ProgressOptions {
  spec: JobSpec;
  /** The coordinator's quote: its address, price per second and suggested deadline. */
  quote: Pick<Quote, "coordinator" | "pricePerSecond" | "deadlineSeconds" | "coordinatorFeeBps" | "treasuryFeeBps">;
  /** The policy version the spec was checked against (must be the one in force). */
  policyVersion: bigint;
  /** Coordinator multiaddrs to submit to (kept in the journal for resume). */
  coordinatorPeer: string[];
  /** Job deadline (unix seconds); default chain time + `quote.deadlineSeconds`. */
  deadline?: number | undefined;
  /** Where the video and manifest go (default `<client.outDir>/<jobId>`). */
  outDir?: string | undefined;
}

export interface OpenJobReturnType {
  /** Journal key of the job (the open transaction's hash). */
  ref: `0x${string}`;
  jobId: `0x${string}`;
  txHash: `0x${string}`;
  deposit: bigint;
  deadline: number;
  gasUsed: bigint;
  job: JournalJob;
}

export type OpenJobErrorType = InsufficientFundsError | ChainError;

/** `jobId = keccak256(abi.encode(chainId, escrow, client, nonce))`, as JobEscrow assigns it. */
export function predictJobId(chainId: number, escrow: string, clientAddress: string, nonce: bigint): `0x${string}` {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["uint256", "address", "address", "uint256"], [chainId, escrow, clientAddress, nonce]),
  ) as `0x${string}`;
}

/**
 * Opens the job on the escrow in one transaction: an ERC-2612 permit for the
 * deposit (`seconds × pricePerSecond`) signed off-chain, and
 * `openJobWithPermit`. The job is written to the journal together with the
 * signed transaction before it is broadcast, so a crash at any point is
 * resumable and never opens a second job.
 *
 * @example
 * const policy = await checkPolicy(client, { spec });
 * const quote = await quoteJob(client, { spec });
 * const { jobId } = await openJob(client, { spec, quote, policyVersion: policy.version, coordinatorPeer: client.coordinator! });
 */
export async function openJob(client: RendermeshClient, params: OpenJobParameters): Promise<OpenJobReturnType> {
  const { spec, quote } = params;
  const { token, escrow } = client.contracts;
  const deposit = BigInt(spec.seconds) * quote.pricePerSecond;
  const owner = client.account;

  const [balance, block, tokenNonce, jobNonce, domain] = await Promise.all([
    token.balanceOf(owner),
    client.provider.getBlock("latest"),
    token.nonces(owner),
    escrow.nonces(owner),
    token.eip712Domain(),
  ]).catch((cause: unknown) => {
    throw new ChainErr("Cannot read the token and escrow state to open the job.", { cause, hint: "Check --rpc-url and --deployment." });
  });
  if (balance < deposit) {
    throw new InsufficientFundsError(
      `The job needs a deposit of ${fmt(deposit)} MESH but the wallet ${owner} holds ${fmt(balance)} MESH.`,
      {
        hint: "Get MESH (on the dev network: `rendermesh token faucet`), or ask for fewer seconds or a lower price.",
      },
    );
  }
  const now = Math.max(Number(block?.timestamp ?? 0), Math.floor(Date.now() / 1000));
  const deadline = params.deadline ?? now + quote.deadlineSeconds;
  const permitDeadline = BigInt(deadline);

  const permit = Signature.from(
    await client.wallet.signTypedData(
      { name: domain.name, version: domain.version, chainId: domain.chainId, verifyingContract: domain.verifyingContract },
      {
        Permit: [
          { name: "owner", type: "address" },
          { name: "spender", type: "address" },
          { name: "value", type: "uint256" },
          { name: "nonce", type: "uint256" },
          { name: "deadline", type: "uint256" },
        ],
      },
      { owner, spender: client.deployment.escrow, value: deposit, nonce: tokenNonce, deadline: permitDeadline },
    ),
  );
  const specHash = hashSpec(spec);
  const data = escrow.interface.encodeFunctionData("openJobWithPermit", [
    specHash,
    quote.coordinator,
    spec.seconds,
    quote.pricePerSecond,
    deadline,
    params.policyVersion,
    permitDeadline,
    permit.v,
    permit.r,
    permit.s,
  ]);
  const predicted = predictJobId(client.chainId, client.deployment.escrow, owner, jobNonce);

  const { tx, receipt } = await sendJournalled(
    { to: client.deployment.escrow, data },
    {
      journal: client.journal,
      kind: "open",
      wallet: client.wallet,
      iface: escrow.interface,
      ref: (hash) => hash,
      record: (hash) => {
        client.journal.createJob({
          ref: hash,
          jobId: predicted,
          chainId: client.chainId,
          escrow: client.deployment.escrow,
          client: owner,
          coordinator: quote.coordinator,
          coordinatorPeer: { peerId: undefined, multiaddrs: params.coordinatorPeer },
          spec,
          specHash,
          pricePerSecond: quote.pricePerSecond,
          deposit,
          deadline,
          policyVersion: params.policyVersion,
          coordinatorFeeBps: quote.coordinatorFeeBps,
          treasuryFeeBps: quote.treasuryFeeBps,
          outDir: params.outDir ?? `${client.outDir}/${predicted}`,
          createdAt: Date.now(),
        });
      },
      onSigned: (hash) => params.onProgress?.(progress("job:opening", { txHash: hash })),
    },
  );
  const job = completeOpen(client, tx.hash, receipt);
  params.onProgress?.(progress("job:opened", { jobId: job.jobId!, txHash: tx.hash, deposit, gasUsed: receipt.gasUsed }));
  return { ref: tx.hash, jobId: job.jobId!, txHash: tx.hash, deposit, deadline, gasUsed: receipt.gasUsed, job };
}

/** Reads the job id from the receipt's JobOpened event and moves the journal's job to "open". */
export function completeOpen(client: RendermeshClient, ref: `0x${string}`, receipt: TransactionReceipt): JournalJob {
  const escrow = client.contracts.escrow;
  let jobId: `0x${string}` | undefined;
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== client.deployment.escrow.toLowerCase()) continue;
    const parsed = escrow.interface.parseLog(log);
    if (parsed?.name === "JobOpened") jobId = (parsed.args[0] as string).toLowerCase() as `0x${string}`;
  }
  if (!jobId) throw new ChainErr(`The open transaction ${ref} has no JobOpened event.`);
  const job = client.journal.getJob(ref);
  const outDir = job.jobId && job.jobId !== jobId ? job.outDir.replace(job.jobId, jobId) : job.outDir;
  return client.journal.setPhase(ref, "open", { jobId, openedAt: Date.now(), outDir });
}

function fmt(amount: bigint): string {
  return formatUnits(amount, 18);
}
