import { describe, expect, test } from "vitest";
import { compareWithSnapshot, type GasReport } from "../scripts/gas-report.ts";

const report = (operations: Record<string, number>): GasReport => ({
  operations,
  gasPerSecond60s4Providers: 0,
  payout: { internalCreditPerPayee: 0, tokenTransferPerPayee: 0, withdraw: 0 },
  targets: { redeemMax: 85_000, redeemLaterMax: 55_000, gasPerSecondMax: 1_500 },
});

describe("gas snapshot check", () => {
  test("default: within 2% either way passes", () => {
    const result = compareWithSnapshot(report({ settle: 10_200, redeem: 9_900 }), report({ settle: 10_000, redeem: 10_000 }));
    expect(result.failures).toEqual([]);
  });

  test("error: an operation more than 2% dearer fails and names it", () => {
    const result = compareWithSnapshot(report({ settle: 10_201, redeem: 10_000 }), report({ settle: 10_000, redeem: 10_000 }));
    expect(result.failures).toHaveLength(1);
    expect(result.failures[0]).toMatch(/settle: 10201 gas, 2\.0% above the snapshot's 10000/);
  });

  test("behavior: a cheaper operation is a note, not a failure", () => {
    const result = compareWithSnapshot(report({ settle: 9_000 }), report({ settle: 10_000 }));
    expect(result.failures).toEqual([]);
    expect(result.notes[0]).toMatch(/cheaper/);
  });

  test("error: an operation added or dropped fails until the snapshot is updated", () => {
    const result = compareWithSnapshot(report({ settle: 1, claim: 2 }), report({ settle: 1, refund: 3 }));
    expect(result.failures.join("\n")).toMatch(/claim: measured/);
    expect(result.failures.join("\n")).toMatch(/refund: in the snapshot/);
  });

  test("error: a missing snapshot fails", () => {
    expect(compareWithSnapshot(report({}), null).failures[0]).toMatch(/missing/);
  });
});
