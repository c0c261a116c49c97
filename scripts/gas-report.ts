// Measures the gas of every Rendermesh operation on an in-process Hardhat
// (EDR) chain, prints a table, and writes contracts/gas-snapshot.json.
//
//   pnpm --filter contracts gas          # or: pnpm gas
//   pnpm exec node scripts/gas-report.ts --check   # exit 1 if the snapshot is stale
//
// Figures are `gasUsed` of mined transactions (after refunds). "cold" means
// the accounts credited have no balance in the escrow yet (a 0 → non-zero
// write); "warm" means they have one from an earlier job, the steady state of
// a provider that withdraws now and then.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { breakdown, renderBreakdown, type GasBreakdown } from "./gas-breakdown.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const SNAPSHOT_FILE = join(root, "contracts/gas-snapshot.json");

/** Benchmark targets (not test gates). */
export const TARGETS = { redeemMax: 85_000, redeemLaterMax: 55_000, gasPerSecondMax: 1_500 } as const;

const MESH = 10n ** 18n;
const PRICE = 10n * MESH;
const MODEL = `0x${"ab".repeat(32)}`;

export interface GasReport {
  operations: Record<string, number>;
  /** (openJobFromDeposit + settle with 4 providers) / 60 for a 60-second job: a returning client, warm accounts. */
  gasPerSecond60s4Providers: number;
  /** Why payments credit internal balances: the marginal cost of paying one more payee each way. */
  payout: {
    /** Per extra provider in a settle: (settle 16 − settle 4) / 12, an internal credit plus its event. */
    internalCreditPerPayee: number;
    /** A MESH transfer to an account that holds MESH, less the 21,000 base and calldata: what each payee would cost. */
    tokenTransferPerPayee: number;
    /** Paid once per withdrawal, however many payments it collects. */
    withdraw: number;
  };
  targets: typeof TARGETS;
  /** Where the gas of the main operations goes (scripts/gas-breakdown.ts): storage writes by kind, cold reads, calls. */
  breakdown?: Record<string, GasBreakdown>;
}

type Tx = { hash: string; wait(): Promise<{ gasUsed: bigint } | null> };

export async function measureGas(): Promise<GasReport> {
  process.chdir(root);
  const { network } = await import("hardhat");
  const { Wallet, Signature, id, parseEther } = await import("ethers");
  const { default: RendermeshModule } = (await import(pathToFileURL(join(root, "contracts/ignition/modules/Rendermesh.ts")).href)) as {
    default: never;
  };
  const connection = await network.create();
  try {
    const { ethers, ignition, networkHelpers } = connection;
    const deployed = (await ignition.deploy(RendermeshModule, {
      parameters: {
        Rendermesh: {
          allowedModels: [MODEL],
          minProviderStake: 100n * MESH,
          votingDelay: 1n,
          votingPeriod: 5n,
          timelockDelay: 60n,
          disputeWindow: 60n,
          claimWindow: 120n,
        },
      },
    })) as Record<string, { getAddress(): Promise<string> }>;
    const address = (name: string) => deployed[name]!.getAddress();
    const token = await ethers.getContractAt("MeshToken", await address("token"));
    const escrow = await ethers.getContractAt("JobEscrow", await address("escrow"));
    const registry = await ethers.getContractAt("ProviderRegistry", await address("registry"));
    const policy = await ethers.getContractAt("ContentPolicy", await address("policy"));
    const governor = await ethers.getContractAt("MeshGovernor", await address("governor"));
    const escrowAddress = await escrow.getAddress();
    const chainId = (await ethers.provider.getNetwork()).chainId;
    const domain = { name: "Rendermesh", version: "1", chainId, verifyingContract: escrowAddress };
    const VOUCHER = {
      Voucher: [
        { name: "jobId", type: "bytes32" },
        { name: "provider", type: "address" },
        { name: "seconds", type: "uint32" },
      ],
    };
    const ASSIGNMENT = {
      Assignment: [
        { name: "jobId", type: "bytes32" },
        { name: "segment", type: "uint32" },
        { name: "firstFrame", type: "uint32" },
        { name: "frameCount", type: "uint32" },
        { name: "provider", type: "address" },
        { name: "deadline", type: "uint64" },
      ],
    };
    const DELIVERY = {
      Delivery: [
        { name: "jobId", type: "bytes32" },
        { name: "segment", type: "uint32" },
        { name: "cid", type: "bytes" },
        { name: "sha256", type: "bytes32" },
        { name: "frameCount", type: "uint32" },
        { name: "trace", type: "bytes" },
      ],
    };
    const SECONDS_FIELDS = [
      { name: "jobId", type: "bytes32" },
      { name: "provider", type: "address" },
      { name: "seconds", type: "uint32" },
    ];
    const ALLOCATION = { Allocation: SECONDS_FIELDS };
    const ACKNOWLEDGEMENT = { Acknowledgement: SECONDS_FIELDS };

    const deployer = (await ethers.getSigners())[0]!;
    // Fixed keys and spec hashes, so the figures (calldata costs included) are the same on every run.
    let walletCount = 0;
    const wallet = async (mesh: bigint) => {
      const w = new Wallet(id(`rendermesh gas report wallet ${walletCount++}`), ethers.provider);
      await networkHelpers.setBalance(w.address, parseEther("1000"));
      if (mesh) await (await token.connect(deployer).transfer(w.address, mesh)).wait();
      return w;
    };
    const client = await wallet(100_000_000n * MESH);
    const coordinator = await wallet(0n);
    const providers: Awaited<ReturnType<typeof wallet>>[] = [];
    for (let i = 0; i < 16; i++) {
      const p = await wallet(1000n * MESH);
      await (await token.connect(p).approve(await registry.getAddress(), 100n * MESH)).wait();
      await (await registry.connect(p).register(`0x0024${i.toString(16).padStart(4, "0")}`, PRICE, [MODEL], 100n * MESH)).wait();
      providers.push(p);
    }
    const ops: Record<string, number> = {};
    const parts: Record<string, GasBreakdown> = {};
    // Every measured transaction is traced; the breakdown is kept under the operation's name when it is recorded.
    let lastBreakdown: GasBreakdown | undefined;
    const gas = async (tx: Promise<Tx>) => {
      const sent = await tx;
      const used = Number((await sent.wait())!.gasUsed);
      lastBreakdown = await breakdown(connection.provider, ethers.provider, sent.hash, used);
      return used;
    };
    const record = (name: string, used: number) => {
      ops[name] = used;
      parts[name] = lastBreakdown!;
    };
    const version = await policy.version();
    const now = async () => (await ethers.provider.getBlock("latest"))!.timestamp;

    // The client approved the escrow once, without limit (so openJob does not rewrite the allowance).
    await (await token.connect(client).approve(escrowAddress, 2n ** 256n - 1n)).wait();
    let specCount = 0;
    // A fixed far deadline keeps the calldata identical from run to run; the claim path needs a near one. The chain's
    // clock is moved to just before it, as a deadline may lie at most the policy's maxDeadlineDistance ahead.
    const FAR = 4_000_000_000;
    await networkHelpers.time.increaseTo(FAR - 10 * 86_400);
    // Jobs are opened from the client's escrow account (a returning client deposits once), unless `fromWallet`.
    const open = async (seconds: number, deadlineIn?: number, fromWallet = false) => {
      const deadline = deadlineIn === undefined ? FAR : (await now()) + deadlineIn;
      const args = [id(`spec ${specCount++}`), coordinator.address, seconds, PRICE, deadline, version] as const;
      const fn = fromWallet ? escrow.connect(client).openJob : escrow.connect(client).openJobFromDeposit;
      const jobId = (await fn.staticCall(...args)) as string;
      const used = await gas(fn(...args));
      return { jobId, used };
    };
    const voucherSig = (jobId: string, provider: string, seconds: number) =>
      client.signTypedData(domain, VOUCHER, { jobId, provider, seconds });
    const allocationSig = (jobId: string, provider: string, seconds: number) =>
      coordinator.signTypedData(domain, ALLOCATION, { jobId, provider, seconds });
    /** A redeem; `allocated` 0 sends no allocation signature (the one an earlier redeem recorded covers the voucher). */
    const redeemArgs = async (jobId: string, provider: string, seconds: number, allocated = seconds) =>
      [
        { jobId, provider, totalSeconds: seconds },
        await voucherSig(jobId, provider, seconds),
        allocated,
        allocated === 0 ? "0x" : await allocationSig(jobId, provider, allocated),
      ] as const;
    /** Each provider allocated and (when `ack`) acknowledging its seconds: a cooperative settle when they add up. */
    const entries = async (jobId: string, n: number, secondsEach: number, ack = true) =>
      Promise.all(
        providers.slice(0, n).map(async (p) => ({
          provider: p.address,
          totalSeconds: secondsEach,
          allocated: secondsEach,
          allocationSig: await allocationSig(jobId, p.address, secondsEach),
          acknowledgementSig: ack
            ? await p.signTypedData(domain, ACKNOWLEDGEMENT, { jobId, provider: p.address, seconds: secondsEach })
            : "0x",
        })),
      );
    const settle = async (jobId: string, n: number, secondsEach: number, ack = true) =>
      gas(escrow.connect(client).settle(jobId, await entries(jobId, n, secondsEach, ack)));

    // ---- open: the client's first job, then the steady state; from the wallet, then from the escrow account
    record("openJob (client's first job)", (await open(60, undefined, true)).used);
    const { used: openUsed } = await open(60, undefined, true);
    record("openJob", openUsed);
    record("deposit", await gas(escrow.connect(client).deposit(1_000_000n * PRICE)));
    const { used: openFromDepositUsed } = await open(60);
    record("openJobFromDeposit", openFromDepositUsed);

    // ---- open with permit (a fresh client without allowance)
    const permitClient = await wallet(1000n * MESH);
    {
      const deadline = FAR;
      const value = 60n * PRICE;
      const nonce = await token.nonces(permitClient.address);
      const sig = Signature.from(
        await permitClient.signTypedData(
          { name: "Rendermesh", version: "1", chainId, verifyingContract: await token.getAddress() },
          {
            Permit: [
              { name: "owner", type: "address" },
              { name: "spender", type: "address" },
              { name: "value", type: "uint256" },
              { name: "nonce", type: "uint256" },
              { name: "deadline", type: "uint256" },
            ],
          },
          { owner: permitClient.address, spender: escrowAddress, value, nonce, deadline },
        ),
      );
      record(
        "openJobWithPermit (client's first job)",
        await gas(
          escrow
            .connect(permitClient)
            .openJobWithPermit(id("permit spec"), coordinator.address, 60, PRICE, deadline, version, deadline, sig.v, sig.r, sig.s),
        ),
      );
    }

    // ---- redeem: first voucher of a provider with no escrow balance, then warm and subsequent vouchers
    {
      const { jobId } = await open(60);
      const p = providers[0]!;
      // The first voucher carries an allocation for the 15 seconds the coordinator assigned; later ones need none.
      record("redeem (first voucher, cold provider)", await gas(escrow.redeem(...(await redeemArgs(jobId, p.address, 5, 15)))));
      record("redeem (next voucher, same job)", await gas(escrow.redeem(...(await redeemArgs(jobId, p.address, 10, 0)))));
      const { jobId: job2 } = await open(60);
      record("redeem", await gas(escrow.redeem(...(await redeemArgs(job2, p.address, 5)))));
    }

    // ---- settle with 1, 4 and 16 providers; cold first (no balances yet for providers 1..15), then warm
    {
      const cold16 = await open(64);
      // provider 0 has a balance from the redeems above; the other 15 do not.
      record("settle (16 providers, 15 cold)", await settle(cold16.jobId, 16, 4));
      const j1 = await open(60);
      record("settle (1 provider)", await settle(j1.jobId, 1, 60));
      const j4 = await open(60);
      record("settle (4 providers)", await settle(j4.jobId, 4, 15));
      const j16 = await open(64);
      record("settle (16 providers)", await settle(j16.jobId, 16, 4));
      // The uncooperative path: no acknowledgements (or not every second paid) start the challenge window.
      record("settle (4 providers, unacknowledged: challenge window)", await settle((await open(60)).jobId, 4, 15, false));
      record("settle (no providers: challenge window)", await settle((await open(60)).jobId, 0, 0));
    }
    const gasPerSecond60s4Providers = Math.round((ops.openJobFromDeposit! + ops["settle (4 providers)"]!) / 60);

    /** An assignment of `segment` to `p` whose deadline has lapsed, with p's delivery, both signed. */
    const deliveryOf = async (jobId: string, segment: number, p: Awaited<ReturnType<typeof wallet>>) => {
      const assignment = { jobId, segment, firstFrame: segment * 12, frameCount: 12, provider: p.address, deadline: (await now()) - 1 };
      const delivery = {
        jobId,
        segment,
        cid: `0x01551220${"ee".repeat(31)}${segment.toString(16).padStart(2, "0")}`,
        sha256: id(`seg ${segment}`),
        frameCount: 12,
        trace: "0x",
      };
      return [
        assignment,
        await coordinator.signTypedData(domain, ASSIGNMENT, assignment),
        delivery,
        await p.signTypedData(domain, DELIVERY, delivery),
      ] as const;
    };

    // ---- claim, dispute, resolve, finalize, refund
    {
      const { jobId } = await open(4, 60);
      const p = providers[1]!;
      const claimOne = async (segment: number) => {
        const assignment = { jobId, segment, firstFrame: segment * 12, frameCount: 12, provider: p.address, deadline: (await now()) - 1 }; // lapsed: the claim is open
        const delivery = {
          jobId,
          segment,
          cid: `0x01551220${"ee".repeat(31)}${segment.toString(16).padStart(2, "0")}`,
          sha256: id(`seg ${segment}`),
          frameCount: 12,
          trace: "0x",
        };
        const cSig = await coordinator.signTypedData(domain, ASSIGNMENT, assignment);
        const pSig = await p.signTypedData(domain, DELIVERY, delivery);
        return gas(escrow.connect(p).claim(assignment, cSig, delivery, pSig));
      };
      // no: assignments are made before the deadline, claims after it
      await networkHelpers.time.increase(61);
      record("claim", await claimOne(0));
      await claimOne(1);
      await claimOne(2);
      await claimOne(3);
      record("dispute (with bond)", await gas(escrow.connect(client).dispute(jobId, 1)));
      record("disputeMany (2 claims)", await gas(escrow.connect(client).disputeMany(jobId, [2, 3])));
      record("resolveDispute (refuse and slash)", await gas(escrow.connect(deployer).resolveDispute(jobId, 1, false, 10n * MESH)));
      record("resolveDisputes (2, pay)", await gas(escrow.connect(deployer).resolveDisputes(jobId, [2, 3], [true, true], [0, 0])));
      await networkHelpers.time.increase(61);
      record("finalizeClaim", await gas(escrow.finalizeClaim(jobId, 0)));
      await networkHelpers.time.increase(121);
      record("refund", await gas(escrow.refund(jobId)));
    }

    // ---- a speculative copy's claim on a segment the client paid by voucher: the client attributes it (step 3)
    {
      const { jobId } = await open(4, 60);
      const [paid, copy] = [providers[2]!, providers[3]!];
      await gas(escrow.redeem(...(await redeemArgs(jobId, paid.address, 2))));
      await networkHelpers.time.increase(61);
      await gas(escrow.connect(copy).claim(...(await deliveryOf(jobId, 1, copy))));
      // The client quotes its voucher, already redeemed: it pays nothing more, only attributes.
      const [a, cSig, d, pSig] = await deliveryOf(jobId, 1, paid);
      const [voucher, vSig] = await redeemArgs(jobId, paid.address, 2);
      record(
        "attributeSegment (drops another's claim)",
        await gas(
          escrow
            .connect(client)
            .attributeSegment(voucher, vSig, 0, "0x", [{ assignment: a, coordinatorSig: cSig, delivery: d, providerSig: pSig }]),
        ),
      );
    }
    // ---- the same claim taking the job's last free second before the verified provider redeemed: the provider
    // drops it and redeems its voucher in one attributeSegment
    {
      const { jobId } = await open(2, 60);
      const [paid, copy] = [providers[2]!, providers[3]!];
      await networkHelpers.time.increase(61);
      await gas(escrow.connect(copy).claim(...(await deliveryOf(jobId, 1, copy))));
      const [a, cSig, d, pSig] = await deliveryOf(jobId, 1, paid);
      record(
        "attributeSegment (provider: drops a claim, redeems its voucher)",
        await gas(
          escrow
            .connect(paid)
            .attributeSegment(...(await redeemArgs(jobId, paid.address, 2)), [
              { assignment: a, coordinatorSig: cSig, delivery: d, providerSig: pSig },
            ]),
        ),
      );
    }
    record("withdraw", await gas(escrow.connect(providers[0]!).withdraw()));

    // ---- governance: a proposal that changes the fees
    {
      await (await token.connect(deployer).delegate(deployer.address)).wait();
      const targets = [await policy.getAddress()];
      const values = [0n];
      const calldatas = [policy.interface.encodeFunctionData("setFees", [400, 100])];
      const description = "Lower the coordinator fee to 4%";
      record("propose", await gas(governor.connect(deployer).propose(targets, values, calldatas, description)));
      const proposalId = await governor.hashProposal(targets, values, calldatas, id(description));
      await networkHelpers.mine(2);
      record("castVote", await gas(governor.connect(deployer).castVote(proposalId, 1)));
      await networkHelpers.mine(6);
      record("queue", await gas(governor.queue(targets, values, calldatas, id(description))));
      await networkHelpers.time.increase(61);
      record("execute", await gas(governor.execute(targets, values, calldatas, id(description))));
      if ((await policy.fees())[0] !== 400n) throw new Error("the governance cycle did not change the fees");
    }
    // The alternative to internal balances: a token transfer per payee (measured as a transaction, less its base
    // cost and calldata; inside settle the token's address would be warm, saving ~2,500 of this).
    const transferTx = await token.connect(client).transfer(providers[2]!.address, 1n);
    const transferReceipt = (await transferTx.wait())!;
    const calldataGas = [...ethers.getBytes(transferTx.data)].reduce((sum, b) => sum + (b === 0 ? 4 : 16), 0);
    const payout = {
      internalCreditPerPayee: Math.round((ops["settle (16 providers)"]! - ops["settle (4 providers)"]!) / 12),
      tokenTransferPerPayee: Number(transferReceipt.gasUsed) - 21_000 - calldataGas,
      withdraw: ops.withdraw!,
    };
    const keep = [
      "openJob",
      "deposit",
      "openJobFromDeposit",
      "openJobWithPermit (client's first job)",
      "redeem (first voucher, cold provider)",
      "redeem (next voucher, same job)",
      "redeem",
      "settle (1 provider)",
      "settle (4 providers)",
      "settle (16 providers)",
      "settle (4 providers, unacknowledged: challenge window)",
      "claim",
      "dispute (with bond)",
      "resolveDispute (refuse and slash)",
      "finalizeClaim",
      "refund",
      "attributeSegment (drops another's claim)",
      "attributeSegment (provider: drops a claim, redeems its voucher)",
      "withdraw",
    ];
    const kept = Object.fromEntries(keep.filter((k) => parts[k]).map((k) => [k, parts[k]!]));
    return { operations: ops, gasPerSecond60s4Providers, payout, targets: TARGETS, breakdown: kept };
  } finally {
    await connection.close();
  }
}

export function render(report: GasReport): string {
  const lines = Object.entries(report.operations).map(([op, used]) => `  ${op.padEnd(42)} ${used.toLocaleString("en-US").padStart(10)}`);
  const redeem = report.operations.redeem ?? 0;
  const redeemCold = report.operations["redeem (first voucher, cold provider)"] ?? 0;
  lines.push(
    "",
    `  gas per generated second, 60 s job, 4 providers (a returning client's openJobFromDeposit + cooperative settle): ` +
      `${report.gasPerSecond60s4Providers.toLocaleString("en-US")}  (target ≤ ${TARGETS.gasPerSecondMax.toLocaleString("en-US")})`,
    `  redeem, a provider's first voucher of a job: ${redeem.toLocaleString("en-US")} (target ≤ ${TARGETS.redeemMax.toLocaleString("en-US")}); ` +
      `${redeemCold.toLocaleString("en-US")} when it is also the account's first credit ever (a second new slot); ` +
      `later vouchers ${(report.operations["redeem (next voucher, same job)"] ?? 0).toLocaleString("en-US")} (target ≤ ${TARGETS.redeemLaterMax.toLocaleString("en-US")})`,
    "",
    `  settle per extra provider (16 vs 4): ${report.payout.internalCreditPerPayee.toLocaleString("en-US")}` +
      ` (target ≤ 1.3 × 22,100 = 28,730: two signature checks, ~450 bytes of calldata, one credit and its event)`,
    `  paying one more payee: internal credit ${report.payout.internalCreditPerPayee.toLocaleString("en-US")}` +
      ` vs token transfer ${report.payout.tokenTransferPerPayee.toLocaleString("en-US")}` +
      ` (+ one withdraw, ${report.payout.withdraw.toLocaleString("en-US")}, per collection)`,
  );
  if (report.breakdown) {
    lines.push("", "  where it goes (new slot 22,100, existing slot 5,000 with its cold read; see contracts/README.md):");
    for (const [name, b] of Object.entries(report.breakdown)) lines.push(renderBreakdown(name, b));
  }
  return lines.join("\n");
}

/** How much more gas than its committed snapshot an operation may cost before CI fails (Uniswap v4-core's habit). */
export const REGRESSION_TOLERANCE = 0.02;

/**
 * Compares a fresh measurement with the committed snapshot: an operation more
 * than `REGRESSION_TOLERANCE` dearer, or one missing from either side, is a
 * failure; one that got cheaper is a note (commit the new snapshot to keep it).
 */
export function compareWithSnapshot(report: GasReport, snapshot: GasReport | null): { failures: string[]; notes: string[] } {
  if (!snapshot) return { failures: [`${SNAPSHOT_FILE} is missing: run \`pnpm gas\` and commit it.`], notes: [] };
  const failures: string[] = [];
  const notes: string[] = [];
  const names = new Set([...Object.keys(report.operations), ...Object.keys(snapshot.operations)]);
  for (const name of names) {
    const now = report.operations[name];
    const before = snapshot.operations[name];
    if (now === undefined) failures.push(`  ${name}: in the snapshot but no longer measured`);
    else if (before === undefined) failures.push(`  ${name}: measured (${now}) but not in the snapshot`);
    else if (now > before * (1 + REGRESSION_TOLERANCE))
      failures.push(`  ${name}: ${now} gas, ${(((now - before) / before) * 100).toFixed(1)}% above the snapshot's ${before}`);
    else if (now < before * (1 - REGRESSION_TOLERANCE)) notes.push(`  ${name}: ${now} gas, cheaper than the snapshot's ${before}`);
  }
  return { failures, notes };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const report = await measureGas();
  console.log("Rendermesh gas (gasUsed per transaction)\n");
  console.log(render(report));
  const json = `${JSON.stringify(report, null, 2)}\n`;
  if (process.argv.includes("--check")) {
    const problems = compareWithSnapshot(
      report,
      existsSync(SNAPSHOT_FILE) ? (JSON.parse(readFileSync(SNAPSHOT_FILE, "utf8")) as GasReport) : null,
    );
    for (const line of problems.notes) console.log(line);
    if (problems.failures.length > 0) {
      for (const line of problems.failures) console.error(line);
      console.error(
        `\nGas check failed: fix the regression, or run \`pnpm gas\` and commit contracts/gas-snapshot.json if it is intended.`,
      );
      process.exit(1);
    }
    console.log(`\n${SNAPSHOT_FILE}: no operation costs more than ${REGRESSION_TOLERANCE * 100}% above its snapshot.`);
  } else {
    writeFileSync(SNAPSHOT_FILE, json);
    console.log(`\nwrote ${SNAPSHOT_FILE}`);
  }
}
