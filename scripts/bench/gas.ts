// Gas, measured on an in-process Hardhat network with the real contracts
// (scripts/gas-report.ts), and the gas per generated second of the happy path
// (openJobWithPermit + one settle) for 10, 60 and 600-second jobs with 1, 4
// and 16 providers. Vouchers are signed off-chain and cost no gas unless a
// provider redeems one itself.
import { fileURLToPath } from "node:url";
import { renderBreakdown } from "../gas-breakdown.ts";
import { measureGas } from "../gas-report.ts";
import type { BenchResult } from "./types.ts";

export async function run(): Promise<BenchResult[]> {
  const report = await measureGas();
  // Where the gas goes, per storage write against the 22,100 / 5,000 floors (contracts/README.md, "Gas").
  console.log("where the gas goes:");
  for (const [name, b] of Object.entries(report.breakdown ?? {})) console.log(renderBreakdown(name, b));
  const ops = report.operations as Record<string, number>;
  const open = ops["openJobWithPermit (client's first job)"] ?? ops["openJob"]!;
  const settle: Record<number, number> = { 1: ops["settle (1 provider)"]!, 4: ops["settle (4 providers)"]!, 16: ops["settle (16 providers)"]! };
  // Every operation of the snapshot; redeem's target applies to its worst case.
  const out: BenchResult[] = Object.entries(ops).map(([name, value]) => ({
    name,
    value,
    unit: "gas",
    better: "lower" as const,
    ...(name.startsWith("redeem (first voucher") ? { target: 85_000 } : {}),
  }));
  for (const seconds of [10, 60, 600]) {
    for (const providers of [1, 4, 16]) {
      out.push({
        name: `gas per generated second, ${seconds} s job, ${providers} provider${providers > 1 ? "s" : ""}`,
        value: Math.round((open + settle[providers]!) / seconds),
        unit: "gas/s",
        better: "lower",
        ...(seconds === 60 && providers === 4 ? { target: 1_500 } : {}),
      });
    }
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.table(await run());
}
