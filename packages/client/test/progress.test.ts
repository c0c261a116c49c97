import { Writable } from "node:stream";
import { describe, expect, test } from "vitest";
import { createOutput } from "../src/cli/common.js";
import { createProgressView } from "../src/cli/progress.js";
import { progress, type JobProgressEvent } from "../src/events.js";

class Terminal extends Writable {
  text = "";
  isTTY = true;
  columns = 120;
  rows = 40;
  override _write(chunk: Buffer, _e: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  cursorTo(): boolean {
    return true;
  }
  moveCursor(): boolean {
    return true;
  }
  clearLine(): boolean {
    return true;
  }
  clearScreenDown(): boolean {
    return true;
  }
}

const P = "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955";
const events: JobProgressEvent[] = [
  progress("quote:received", { pricePerSecond: 10n ** 16n, deposit: 3n * 10n ** 16n, providers: 2, etaSeconds: 4 }),
  progress("job:opened", {
    jobId: `0x${"ab".repeat(32)}`,
    txHash: `0x${"cd".repeat(32)}`,
    deposit: 3n * 10n ** 16n,
    fromDeposit: false,
    gasUsed: 219_000n,
  }),
  progress("job:submitted", { jobId: `0x${"ab".repeat(32)}`, segments: 3, resumed: false }),
  progress("segment:delivered", { segment: 0, provider: P, cid: "bafkrei0" }),
  progress("segment:verified", { segment: 0, provider: P, cid: "bafkrei0", psnrDb: 44.1, verifyMs: 120 }),
  progress("voucher:signed", { provider: P, seconds: 1 }),
  progress("segment:delivered", { segment: 1, provider: P, cid: "bafkrei1" }),
  progress("segment:rejected", { segment: 1, provider: P, cid: "bafkrei1", check: "content", message: "PSNR 9.0 dB" }),
];

describe("progress view", () => {
  test("default: on a terminal, three bars (rendered, verified, paid) and rejections above them", () => {
    const term = new Terminal() as unknown as NodeJS.WriteStream;
    const view = createProgressView({ ...createOutput({}, term), isTTY: true }, term);
    for (const e of events) view.onProgress(e);
    view.stop();
    const text = (term as unknown as Terminal).text;
    expect(text).toMatch(/Quote: 0\.01 MESH\/s/);
    expect(text).toMatch(/rendered/);
    expect(text).toMatch(/verified/);
    expect(text).toMatch(/paid/);
    expect(text).toMatch(/segment 1 rejected \(content\)/);
  });

  test("behavior: off a terminal, one line per event", () => {
    const out = new Terminal();
    out.isTTY = false;
    const view = createProgressView(createOutput({}, out as unknown as NodeJS.WriteStream));
    for (const e of events) view.onProgress(e);
    expect(out.text.split("\n")).toContain("segment 0: verified (luma PSNR 44.1 dB, 120 ms)");
    expect(out.text).toMatch(/^segment 1: REJECTED \(content\) from 0x14dC79…9955: PSNR 9\.0 dB$/m);
  });

  test("behavior: with --json, nothing until the result", () => {
    const out = new Terminal();
    const view = createProgressView(createOutput({ json: true }, out as unknown as NodeJS.WriteStream));
    for (const e of events) view.onProgress(e);
    view.stop();
    expect(out.text).toBe("");
  });
});
