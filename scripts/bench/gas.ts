// Gas, measured on an in-process Hardhat network with the real contracts
// (scripts/gas-report.ts), and the gas per generated second of the happy path
// (a returning client's openJobFromDeposit + one cooperative settle) for 10,
// 60 and 600-second jobs with 1, 4 and 16 providers; a first-time client's
// openJobWithPermit is printed beside it. Vouchers are signed off-chain and
// cost no gas unless a provider redeems one itself. Targets are issue 12's.
import { fileURLToPath } from "node:url";
import { renderBreakdown } from "../gas-breakdown.ts";
import { measureGas, TARGETS } from "../gas-report.ts";
import type { BenchResult } from "./types.ts";

/** Settle's cost per extra provider may be at most 1.3 × one storage write (of a new slot: 22,100). */
const PER_PROVIDER_MAX = Math.round(1.3 * 22_100);

export async function run(): Promise<BenchResult[]> {
  const report = await measureGas();
  // Where the gas goes, per storage write against the 22,100 / 5,000 floors (contracts/README.md, "Gas").
  console.log("where the gas goes:");
  for (const [name, b] of Object.entries(report.breakdown ?? {})) console.log(renderBreakdown(name, b));
  const ops = report.operations as Record<string, number>;
  const opens: Record<string, number> = {
    "returning client, openJobFromDeposit": ops["openJobFromDeposit"]!,
    "first-time client, openJobWithPermit": ops["openJobWithPermit (client's first job)"]!,
  };
  const settle: Record<number, number> = { 1: ops["settle (1 provider)"]!, 4: ops["settle (4 providers)"]!, 16: ops["settle (16 providers)"]! };
  const targets: Record<string, number> = {
    // The first voucher of a job, of a provider that has an escrow balance (a brand-new account's first credit is a
    // new slot: "redeem (first voucher, cold provider)", reported without a target; see contracts/README.md).
    redeem: TARGETS.redeemMax,
    "redeem (next voucher, same job)": TARGETS.redeemLaterMax,
  };
  const out: BenchResult[] = Object.entries(ops).map(([name, value]) => ({
    name,
    value,
    unit: "gas",
    better: "lower" as const,
    ...(targets[name] !== undefined ? { target: targets[name] } : {}),
  }));
  out.push({
    name: "settle: cost per extra provider (16 vs 4 providers)",
    value: report.payout.internalCreditPerPayee,
    unit: "gas",
    better: "lower",
    target: PER_PROVIDER_MAX,
  });
  for (const [who, open] of Object.entries(opens)) {
    for (const seconds of [10, 60, 600]) {
      for (const providers of [1, 4, 16]) {
        const happy = who.startsWith("returning") && seconds === 60 && providers === 4;
        out.push({
          name: `gas per generated second, ${seconds} s job, ${providers} provider${providers > 1 ? "s" : ""} (${who})`,
          value: Math.round((open + settle[providers]!) / seconds),
          unit: "gas/s",
          better: "lower",
          ...(happy ? { target: TARGETS.gasPerSecondMax } : {}),
        });
      }
    }
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await run());
}
