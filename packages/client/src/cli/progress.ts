import cliProgress from "cli-progress";
import type { JobProgressEvent } from "../events.js";
import { cliIo, formatToken, type Output } from "./common.js";

/**
 * Draws a job's progress events: three bars (rendered, verified, paid) with
 * an ETA on a terminal, one line per event otherwise, nothing with --json.
 */
export interface ProgressView {
  onProgress(event: JobProgressEvent): void;
  /** Seeds the counters (on resume) with what the journal already holds. */
  seed(counts: { rendered: number; verified: number; paid: number }): void;
  stop(): void;
}

const short = (addr: string) => `${addr.slice(0, 8)}…${addr.slice(-4)}`;

export function createProgressView(out: Output, stream: NodeJS.WriteStream = cliIo.stdout): ProgressView {
  if (out.json) return { onProgress: () => undefined, seed: () => undefined, stop: () => undefined };
  const rendered = new Set<number>();
  const verified = new Set<number>();
  let paid = 0;
  let total = 0;

  if (!out.isTTY) {
    const line = (s: string) => out.line(s);
    return {
      seed(c) {
        paid = c.paid;
      },
      stop: () => undefined,
      onProgress(e) {
        switch (e.type) {
          case "policy:checked":
            return line(`Policy: the spec passes content policy version ${e.detail.policyVersion}.`);
          case "quote:received":
            return line(
              `Quote: ${formatToken(e.detail.pricePerSecond)} per second, deposit ${formatToken(e.detail.deposit)}, ${e.detail.providers} providers, ETA ${Math.round(e.detail.etaSeconds)} s.`,
            );
          case "job:opening":
            return line(`Opening the escrow (tx ${e.detail.txHash})…`);
          case "job:opened":
            return line(
              `Job ${e.detail.jobId} opened: deposit ${formatToken(e.detail.deposit)}${e.detail.fromDeposit ? " from the escrow deposit account" : ""}, gas ${e.detail.gasUsed}.`,
            );
          case "job:submitted":
            return line(
              e.detail.resumed
                ? `Following job ${e.detail.jobId} again.`
                : `Submitted job ${e.detail.jobId} (${e.detail.segments} segments).`,
            );
          case "segment:delivered":
            return line(`segment ${e.detail.segment}: delivered by ${short(e.detail.provider)} (${e.detail.cid})`);
          case "segment:verified":
            return line(
              `segment ${e.detail.segment}: verified (luma PSNR ${Number.isFinite(e.detail.psnrDb) ? e.detail.psnrDb.toFixed(1) : "∞"} dB, ${Math.round(e.detail.verifyMs)} ms)`,
            );
          case "segment:rejected":
            return line(`segment ${e.detail.segment}: REJECTED (${e.detail.check}) from ${short(e.detail.provider)}: ${e.detail.message}`);
          case "segment:failed":
            return line(
              `segment ${e.detail.segment}: failed at ${short(e.detail.provider)} (${e.detail.code})${e.detail.willRetry ? ", retrying" : ""}`,
            );
          case "voucher:signed":
            return line(`voucher: ${short(e.detail.provider)} is owed ${e.detail.seconds} s`);
          case "voucher:sent":
            return e.detail.acknowledged
              ? undefined
              : line(`voucher: ${short(e.detail.provider)} did not take its voucher (settle pays it anyway)`);
          case "job:complete":
            return line("All segments verified.");
          case "video:assembled":
            return line(`Video joined: ${e.detail.path} (${e.detail.cid}).`);
          case "video:credentialed":
            return line(`Content Credentials embedded, signed for ${short(e.detail.signer)} (${e.detail.cid}).`);
          case "settle:sent":
            return line(`Settling (tx ${e.detail.txHash})…`);
          case "settle:confirmed":
            return line(`Settled, gas ${e.detail.gasUsed}.`);
          case "settle:skipped":
            return line(`Settle skipped: ${e.detail.reason}.`);
          default:
            return undefined;
        }
      },
    };
  }

  const multibar = new cliProgress.MultiBar(
    {
      stream,
      format: " {label} |{bar}| {value}/{total} {unit} | ETA {eta_formatted}",
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      etaBuffer: 8,
      barsize: 30,
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let bars: { rendered: cliProgress.SingleBar; verified: cliProgress.SingleBar; paid: cliProgress.SingleBar } | undefined;
  const ensureBars = (segments: number) => {
    if (bars) return;
    total = segments;
    bars = {
      rendered: multibar.create(total, rendered.size, { label: "rendered", unit: "s" }),
      verified: multibar.create(total, verified.size, { label: "verified", unit: "s" }),
      paid: multibar.create(total, paid, { label: "paid    ", unit: "s" }),
    };
  };
  // Before the bars exist, write plainly; after, above the bars.
  const log = (s: string) => (bars ? multibar.log(`${s}\n`) : void stream.write(`${s}\n`));
  return {
    seed(c) {
      paid = c.paid;
      for (let i = 0; i < c.rendered; i++) rendered.add(-1 - i);
      for (let i = 0; i < c.verified; i++) verified.add(-1 - i);
    },
    stop: () => {
      if (!bars) return;
      // Flush lines logged since the last redraw (stop() alone drops them).
      multibar.update();
      multibar.stop();
      bars = undefined;
    },
    onProgress(e) {
      switch (e.type) {
        case "quote:received":
          return log(
            `Quote: ${formatToken(e.detail.pricePerSecond)}/s, deposit ${formatToken(e.detail.deposit)}, ${e.detail.providers} providers`,
          );
        case "job:opened":
          return log(`Job ${e.detail.jobId} opened (deposit ${formatToken(e.detail.deposit)})`);
        case "job:submitted":
        case "job:accepted":
          return ensureBars(e.detail.segments);
        case "segment:delivered":
          rendered.add(e.detail.segment);
          bars?.rendered.update(Math.min(total, rendered.size));
          return;
        case "segment:verified":
          verified.add(e.detail.segment);
          bars?.verified.update(Math.min(total, verified.size));
          return;
        case "voucher:signed":
          paid++;
          bars?.paid.update(Math.min(total, paid));
          return;
        case "segment:rejected":
          rendered.delete(e.detail.segment);
          bars?.rendered.update(rendered.size);
          return log(`segment ${e.detail.segment} rejected (${e.detail.check}) from ${short(e.detail.provider)}: ${e.detail.message}`);
        case "segment:failed":
          return log(
            `segment ${e.detail.segment} failed at ${short(e.detail.provider)} (${e.detail.code})${e.detail.willRetry ? ", retrying" : ""}`,
          );
        case "settle:sent":
          return log(`Settling (tx ${e.detail.txHash})`);
        default:
          return undefined;
      }
    },
  };
}
