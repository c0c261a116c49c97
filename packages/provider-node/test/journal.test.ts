import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Journal } from "../src/journal/index.js";

const jobId = `0x${"ab".repeat(32)}` as const;
const provider = `0x${"11".repeat(20)}` as const;
const spec = {
  v: 1 as const,
  model: `0x${"cd".repeat(32)}` as `0x${string}`,
  prompt: "a red sky",
  seed: 1,
  seconds: 3,
  fps: 4,
  width: 64,
  height: 64,
};
const assignment = (segment: number) => ({ jobId, segment, firstFrame: segment * 4, frameCount: 4, provider, deadline: 2_000_000_000 });
const sig = `0x${"00".repeat(65)}` as const;
const delivery = (segment: number) => ({
  jobId,
  segment,
  cid: "bafkreiexampleexampleexampleexample",
  sha256: `0x${"ef".repeat(32)}` as `0x${string}`,
  frameCount: 4,
});

describe("journal", () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "rm-journal-"));
    path = join(dir, "journal.sqlite");
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const seed = (j: Journal) =>
    j.upsertJob({
      jobId,
      chainId: 31337,
      escrow: provider,
      client: provider,
      coordinator: provider,
      deadline: 2_000_000_000,
      seconds: 3,
      pricePerSecond: 10n ** 18n,
      openedBlock: 5,
      spec,
    });

  test("default: an assignment goes accepted → delivered and survives reopening", () => {
    const j = Journal.open(path);
    seed(j);
    expect(j.recordAccepted({ assignment: assignment(0), coordinatorSig: sig })).toBe(true);
    j.recordProgress(jobId, 0, 2);
    expect(j.getAssignment(jobId, 0)?.framesDone).toBe(2);
    j.recordDelivered(jobId, 0, { delivery: delivery(0), providerSig: sig, bytes: 1234 });
    j.close();

    const again = Journal.open(path);
    const row = again.getAssignment(jobId, 0)!;
    expect(row.state).toBe("delivered");
    expect(row.delivery).toEqual(delivery(0));
    expect(row.payState).toBe("unpaid");
    expect(again.getJob(jobId)?.pricePerSecond).toBe(10n ** 18n);
    expect(again.getJob(jobId)?.spec).toEqual(spec);
    again.close();
  });

  test("behavior: a delivered row is never replaced by a second accept", () => {
    const j = Journal.open(path);
    seed(j);
    j.recordAccepted({ assignment: assignment(1), coordinatorSig: sig });
    expect(j.recordAccepted({ assignment: assignment(1), coordinatorSig: sig })).toBe(false);
    j.recordDelivered(jobId, 1, { delivery: delivery(1), providerSig: sig, bytes: 10 });
    expect(j.recordAccepted({ assignment: { ...assignment(1), deadline: 2_000_000_100 }, coordinatorSig: sig })).toBe(false);
    expect(j.getAssignment(jobId, 1)?.state).toBe("delivered");
    j.close();
  });

  test("behavior: rows cut off by a crash are released at start-up and may be taken again", () => {
    const j = Journal.open(path);
    seed(j);
    j.recordAccepted({ assignment: assignment(2), coordinatorSig: sig });
    j.close(); // the "crash"

    const again = Journal.open(path);
    const released = again.releaseInterrupted();
    expect(released.map((r) => r.segment)).toEqual([2]);
    expect(again.getAssignment(jobId, 2)?.state).toBe("released");
    expect(again.getAssignment(jobId, 2)?.releaseReason).toBe("restart");
    expect(again.recordAccepted({ assignment: assignment(2), coordinatorSig: sig })).toBe(true);
    expect(again.getAssignment(jobId, 2)?.attempts).toBe(2);
    again.close();
  });

  test("behavior: only the highest voucher per job is kept", () => {
    const j = Journal.open(path);
    seed(j);
    expect(j.recordVoucher({ jobId, chainId: 31337, escrow: provider, seconds: 2, signature: sig })).toEqual({ stored: true, seconds: 2 });
    expect(j.recordVoucher({ jobId, chainId: 31337, escrow: provider, seconds: 1, signature: sig })).toEqual({ stored: false, seconds: 2 });
    expect(j.recordVoucher({ jobId, chainId: 31337, escrow: provider, seconds: 3, signature: sig })).toEqual({ stored: true, seconds: 3 });
    expect(j.summary().pendingVoucherSeconds).toBe(3);
    j.markRedeemed(jobId, 3, "0xtx");
    expect(j.summary().pendingVoucherSeconds).toBe(0);
    j.close();
  });

  test("behavior: earnings sum the payments ledger", () => {
    const j = Journal.open(path);
    j.recordPayment({ kind: "redeem", jobId, seconds: 2, amount: 5n });
    j.recordPayment({ kind: "claim", jobId, segment: 2, seconds: 1, amount: 3n });
    j.recordPayment({ kind: "withdraw", amount: 8n });
    expect(j.summary()).toMatchObject({ earned: 8n, withdrawn: 8n });
    j.close();
  });

  test("error: a journal belongs to one provider address", () => {
    const j = Journal.open(path);
    j.bindAddress(provider);
    j.bindAddress(provider.toUpperCase().replace("0X", "0x"));
    expect(() => j.bindAddress(`0x${"22".repeat(20)}`)).toThrow(expect.objectContaining({ name: "JournalError" }));
    j.close();
  });

  test("error: recording a delivery for a segment not in progress throws", () => {
    const j = Journal.open(path);
    seed(j);
    expect(() => j.recordDelivered(jobId, 0, { delivery: delivery(0), providerSig: sig, bytes: 1 })).toThrow(
      expect.objectContaining({ name: "JournalError" }),
    );
    j.close();
  });
});
