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
  /**
   * Where the deposit comes from. `auto` (default): the client's escrow deposit account (`depositFunds`) when it
   * covers the whole deposit, else the wallet (permit). `deposit`: the account only (refused when it is short);
   * `wallet`: the wallet only.
   */
  funding?: "auto" | "deposit" | "wallet" | undefined;
}

export interface OpenJobReturnType {
  /** Journal key of the job (the open transaction's hash). */
  ref: `0x${string}`;
  jobId: `0x${string}`;
  txHash: `0x${string}`;
  deposit: bigint;
  /** Whether the deposit came from the escrow deposit account (its unspent part goes back there). */
  fromDeposit: boolean;
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
 * Opens the job on the escrow in one transaction: `openJobFromDeposit` when the
 * client's escrow deposit account covers the deposit (`seconds × pricePerSecond`;
 * see `funding`), else an ERC-2612 permit signed off-chain and
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

  const funding = params.funding ?? "auto";
  const [balance, account, block, tokenNonce, jobNonce, domain] = await Promise.all([
    token.balanceOf(owner),
    funding === "wallet" ? 0n : escrow.balanceOf(owner),
    client.provider.getBlock("latest"),
    token.nonces(owner),
    escrow.nonces(owner),
    token.eip712Domain(),
  ]).catch((cause: unknown) => {
    throw new ChainErr("Cannot read the token and escrow state to open the job.", { cause, hint: "Check --rpc-url and --deployment." });
  });
  const fromDeposit = funding !== "wallet" && account >= deposit;
  if (funding === "deposit" && !fromDeposit) {
    throw new InsufficientFundsError(
      `The job needs a deposit of ${fmt(deposit)} MESH but the escrow deposit account of ${owner} holds ${fmt(account)} MESH.`,
      { hint: `Deposit the rest first (\`rendermesh deposit ${fmt(deposit - account)}\`), or pay from the wallet.` },
    );
  }
  if (!fromDeposit && balance < deposit) {
    throw new InsufficientFundsError(
      `The job needs a deposit of ${fmt(deposit)} MESH but the wallet ${owner} holds ${fmt(balance)} MESH.`,
      {
        hint: "Get MESH (on the dev network: `rendermesh token faucet`), or ask for fewer seconds or a lower price.",
      },
    );
  }
  const now = Math.max(Number(block?.timestamp ?? 0), Math.floor(Date.now() / 1000));
  const deadline = params.deadline ?? now + quote.deadlineSeconds;

  const specHash = hashSpec(spec);
  const data = fromDeposit
    ? escrow.interface.encodeFunctionData("openJobFromDeposit", [
        specHash,
        quote.coordinator,
        spec.seconds,
        quote.pricePerSecond,
        deadline,
        params.policyVersion,
      ])
    : await permitOpen(client, { deposit, deadline, tokenNonce, domain, specHash, quote, spec, policyVersion: params.policyVersion });
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
  params.onProgress?.(progress("job:opened", { jobId: job.jobId!, txHash: tx.hash, deposit, fromDeposit, gasUsed: receipt.gasUsed }));
  return { ref: tx.hash, jobId: job.jobId!, txHash: tx.hash, deposit, fromDeposit, deadline, gasUsed: receipt.gasUsed, job };
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

/** `openJobWithPermit` calldata: an ERC-2612 permit for the deposit, signed off-chain, so one transaction opens the job. */
async function permitOpen(
  client: RendermeshClient,
  p: {
    deposit: bigint;
    deadline: number;
    tokenNonce: bigint;
    domain: { name: string; version: string; chainId: bigint; verifyingContract: string };
    specHash: string;
    quote: OpenJobParameters["quote"];
    spec: JobSpec;
    policyVersion: bigint;
  },
): Promise<string> {
  const { deposit, tokenNonce, domain, specHash, quote, spec, deadline } = p;
  const owner = client.account;
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
  return client.contracts.escrow.interface.encodeFunctionData("openJobWithPermit", [
    specHash,
    quote.coordinator,
    spec.seconds,
    quote.pricePerSecond,
    deadline,
    p.policyVersion,
    permitDeadline,
    permit.v,
    permit.r,
    permit.s,
  ]);
}

function fmt(amount: bigint): string {
  return formatUnits(amount, 18);
}
