import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import Database from "better-sqlite3";
import { JOURNAL_FILE, Journal, type NewJob, type VerifiedSegment } from "../src/journal/journal.js";

const dirs: string[] = [];
function tempJournal(): { journal: Journal; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "rm-journal-"));
  dirs.push(dir);
  return { journal: Journal.open(dir), dir };
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const REF = `0x${"aa".repeat(32)}` as const;
const JOB = `0x${"bb".repeat(32)}` as const;
const P1 = `0x${"01".repeat(20)}`;
const P2 = `0x${"02".repeat(20)}`;

function newJob(): NewJob {
  return {
    ref: REF,
    jobId: JOB,
    chainId: 31337,
    escrow: `0x${"ee".repeat(20)}`,
    client: `0x${"cc".repeat(20)}`,
    coordinator: `0x${"dd".repeat(20)}`,
    coordinatorPeer: { peerId: undefined, multiaddrs: ["/ip4/127.0.0.1/tcp/1/p2p/12D3KooWx"] },
    spec: { v: 1, model: `0x${"ab".repeat(32)}`, prompt: "a calm sea", seed: 1, seconds: 3, fps: 4, width: 32, height: 32 },
    specHash: `0x${"99".repeat(32)}`,
    pricePerSecond: 10n ** 18n + 1n,
    deposit: 3n * (10n ** 18n + 1n),
    deadline: 2_000_000_000,
    policyVersion: 1n,
    coordinatorFeeBps: 200,
    treasuryFeeBps: 100,
    outDir: "/tmp/out",
    createdAt: 1,
  };
}

function seg(segment: number, provider: string, cid = `bafk${segment}`): VerifiedSegment {
  const sig = `0x${"00".repeat(65)}` as `0x${string}`;
  return {
    segment,
    provider,
    peerId: "12D3KooWp",
    multiaddrs: [],
    cid,
    sha256: `0x${"5a".repeat(32)}`,
    assignment: {
      assignment: { jobId: JOB, segment, firstFrame: segment * 4, frameCount: 4, provider: provider as `0x${string}`, deadline: 1 },
      signature: sig,
    },
    delivery: { delivery: { jobId: JOB, segment, cid, sha256: `0x${"5a".repeat(32)}`, frameCount: 4 }, signature: sig },
    psnrDb: Infinity,
    sampledFrames: [segment * 4],
    file: `/tmp/${segment}.mp4`,
    bytes: 10,
    deliveredAt: 1,
    fetchMs: 1,
    verifyMs: 2,
    verifiedAt: 3,
  };
}

describe("Journal", () => {
  test("default: a job round-trips with its bigints, by job id or by ref", () => {
    const { journal } = tempJournal();
    journal.createJob(newJob());
    const byId = journal.getJob(JOB.toUpperCase().replace("0X", "0x"));
    expect(byId.pricePerSecond).toBe(10n ** 18n + 1n);
    expect(byId.policyVersion).toBe(1n);
    expect(byId.phase).toBe("opening");
    expect(journal.getJob(REF).jobId).toBe(JOB);
  });

  test("behavior: everything survives closing and reopening the file", () => {
    const { journal, dir } = tempJournal();
    journal.createJob(newJob());
    journal.setPhase(REF, "submitted", { submittedAt: 5 });
    journal.setLastSeq(REF, 7);
    journal.addVerified(REF, seg(0, P1));
    journal.putVoucher(REF, { provider: P1, seconds: 1, signature: "0x01", signedAt: 1, ackedAt: undefined });
    journal.addTx(REF, { kind: "open", hash: `0x${"12".repeat(32)}`, raw: "0x00", nonce: 3 });
    journal.close();
    const again = Journal.open(dir);
    const job = again.getJob(JOB);
    expect(job).toMatchObject({ phase: "submitted", lastSeq: 7, submittedAt: 5 });
    expect(again.verifiedSegments(REF)[0]).toMatchObject({ segment: 0, psnrDb: Infinity });
    expect(again.voucher(REF, P1)?.seconds).toBe(1);
    expect(again.lastTx(REF, "open")).toMatchObject({ nonce: 3, state: "signed" });
    again.close();
  });

  test("behavior: the last applied event number never moves backwards", () => {
    const { journal } = tempJournal();
    journal.createJob(newJob());
    journal.setLastSeq(REF, 9);
    journal.setLastSeq(REF, 4);
    expect(journal.getJob(REF).lastSeq).toBe(9);
  });

  test("behavior: the first verified copy of a segment is kept; a second is refused", () => {
    const { journal } = tempJournal();
    journal.createJob(newJob());
    expect(journal.addVerified(REF, seg(1, P1, "bafkA"))).toBe(true);
    expect(journal.addVerified(REF, seg(1, P2, "bafkB"))).toBe(false);
    expect(journal.verifiedSegment(REF, 1)?.cid).toBe("bafkA");
    journal.addVerified(REF, seg(0, P2));
    journal.addVerified(REF, seg(2, P1));
    expect([...journal.verifiedSecondsByProvider(REF)]).toEqual([
      [P1, 2],
      [P2, 1],
    ]);
  });

  test("behavior: a verdict stays in the outbox, across a reopen, until the coordinator answers it; recording it twice keeps one", () => {
    const { journal, dir } = tempJournal();
    journal.createJob(newJob());
    const ok = { segment: 0, provider: P1.toUpperCase().replace("0X", "0x"), cid: "bafy-0", ok: true, at: 1 };
    const bad = { segment: 1, provider: P2, cid: "bafy-1", ok: false, check: "content" as const, message: "PSNR 9 dB", at: 2 };
    journal.putVerdict(REF, ok);
    journal.putVerdict(REF, ok);
    journal.putVerdict(REF, bad);
    journal.close();
    const reopened = Journal.open(dir);
    expect(reopened.unackedVerdicts(REF).map((v) => [v.segment, v.provider, v.ok])).toEqual([
      [0, P1, true],
      [1, P2, false],
    ]);
    reopened.ackVerdict(REF, { segment: 0, provider: P1, cid: "bafy-0" });
    expect(reopened.unackedVerdicts(REF).map((v) => v.segment)).toEqual([1]);
    expect(reopened.verdict(REF, { segment: 0, provider: P1, cid: "bafy-0" })).toMatchObject({ ok: true, acked: true });
    expect(reopened.verdict(REF, { segment: 1, provider: P2, cid: "bafy-1" })).toMatchObject({ ok: false, check: "content", acked: false });
    reopened.close();
  });

  test("behavior: only a higher cumulative voucher replaces the one kept", () => {
    const { journal } = tempJournal();
    journal.createJob(newJob());
    expect(journal.putVoucher(REF, { provider: P1, seconds: 2, signature: "0x02", signedAt: 1, ackedAt: undefined })).toBe(true);
    expect(journal.putVoucher(REF, { provider: P1, seconds: 1, signature: "0x01", signedAt: 2, ackedAt: undefined })).toBe(false);
    expect(journal.putVoucher(REF, { provider: P1, seconds: 2, signature: "0x02", signedAt: 2, ackedAt: undefined })).toBe(false);
    journal.markVoucherAcked(REF, P1, 2, 9);
    expect(journal.voucher(REF, P1)).toMatchObject({ seconds: 2, signature: "0x02", ackedAt: 9 });
  });

  test("behavior: a transaction that throws leaves nothing behind", () => {
    const { journal } = tempJournal();
    journal.createJob(newJob());
    expect(() =>
      journal.transaction(() => {
        journal.addVerified(REF, seg(0, P1));
        throw new Error("killed mid-write");
      }),
    ).toThrow("killed mid-write");
    expect(journal.verifiedSegments(REF)).toHaveLength(0);
  });

  test("error: an unknown job says how to list the known ones", () => {
    const { journal } = tempJournal();
    expect(() => journal.getJob(JOB)).toThrow(expect.objectContaining({ name: "JournalError", hint: expect.stringMatching(/job list/) }));
  });
});

describe("journal migrations", () => {
  test("behavior: a journal from before versioned migrations opens, keeps its rows and gains the DAO table", () => {
    const dir = mkdtempSync(join(tmpdir(), "rm-journal-legacy-"));
    try {
      // What an older client left: the tables, user_version 0, a row.
      const old = new Database(join(dir, JOURNAL_FILE));
      old.exec(
        "CREATE TABLE jobs (ref TEXT PRIMARY KEY, job_id TEXT UNIQUE, data TEXT NOT NULL, phase TEXT NOT NULL, last_seq INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL)",
      );
      old.prepare("INSERT INTO jobs (ref, data, phase, updated_at) VALUES ('r1', '{}', 'created', 1)").run();
      old.close();
      Journal.open(dir).close();
      const db = new Database(join(dir, JOURNAL_FILE));
      expect(db.pragma("user_version", { simple: true })).toBe(2);
      expect(db.prepare("SELECT ref, phase FROM jobs").all()).toEqual([{ ref: "r1", phase: "created" }]);
      expect(db.prepare("SELECT COUNT(*) AS n FROM dao_proposals").get()).toEqual({ n: 0 });
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("error: a journal from a newer client is refused, not rewritten", () => {
    const dir = mkdtempSync(join(tmpdir(), "rm-journal-newer-"));
    try {
      const newer = new Database(join(dir, JOURNAL_FILE));
      newer.pragma("user_version = 99");
      newer.close();
      expect(() => Journal.open(dir)).toThrow(/written by a newer client \(schema 99\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
