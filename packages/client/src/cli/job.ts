import { resolve } from "node:path";
import type { Command } from "commander";
import { getAddress, Wallet } from "ethers";
import { UsageError } from "@rendermesh/shared";
import type { Payments } from "../actions/payments.js";
import type { GetJobStatusReturnType } from "../actions/getJobStatus.js";
import type { RunJobReturnType } from "../actions/runJob.js";
import { SPEC_DEFAULTS } from "../actions/spec-defaults.js";
import type { RendermeshClient } from "../client.js";
import { AbortedError, JobFailedError, ManifestInvalidError } from "../errors.js";
import { progress } from "../events.js";
import {
  createOutput,
  formatAmount,
  formatToken,
  globalFlags,
  parseBytes32,
  parseIntFlag,
  parseMultiaddrFlag,
  parseSize,
  parseTokenAmount,
  resolveChain,
  resolveLocal,
  resolveWallet,
  type Output,
} from "./common.js";
import type * as JobDeps from "./job-deps.js";

let jobDeps: Promise<typeof JobDeps> | undefined;
/** The job commands' heavy modules, loaded when a job command runs. */
const load = () => (jobDeps ??= import("./job-deps.js"));

interface SpecFlags {
  prompt?: string;
  seconds?: string;
  fps?: string;
  size?: string;
  seed?: string;
  model?: string;
}

/** The job spec from flags; every bad value is one UsageError naming its flag. */
async function specFromFlags(opts: SpecFlags, requirePrompt: boolean) {
  if (requirePrompt && (opts.prompt === undefined || opts.prompt.trim() === ""))
    throw new UsageError("--prompt is required and must not be empty.", {
      hint: 'Describe the video, e.g. --prompt "a calm blue sea at night".',
    });
  if (opts.seconds === undefined)
    throw new UsageError("--seconds is required.", { hint: "Give the video's length in whole seconds, e.g. --seconds 6." });
  const seconds = parseIntFlag("--seconds", opts.seconds, 1, 86_400);
  const fps = opts.fps === undefined ? SPEC_DEFAULTS.fps : parseIntFlag("--fps", opts.fps, 1, 240);
  const size = opts.size === undefined ? { width: SPEC_DEFAULTS.width, height: SPEC_DEFAULTS.height } : parseSize("--size", opts.size);
  const seed = opts.seed === undefined ? SPEC_DEFAULTS.seed : parseIntFlag("--seed", opts.seed, 0, 0xffff_ffff);
  const model = opts.model === undefined ? undefined : parseBytes32("--model", opts.model);
  return (await load()).buildSpec({ prompt: opts.prompt ?? "quote", seconds, fps, ...size, seed, model });
}

/** The SDK client for a job command, from flags, env, config and dev.json. */
async function openClient(
  cmd: Command,
  outDir?: string,
  opts: { readOnly?: boolean } = {},
): Promise<{ client: RendermeshClient; out: Output }> {
  const flags = globalFlags(cmd);
  if (flags.coordinator !== undefined) parseMultiaddrFlag("--coordinator", flags.coordinator);
  const out = createOutput(flags);
  const ctx = await resolveChain(flags);
  try {
    // Reading and verifying need no key: anyone can check a job. A throwaway key stands in when none is configured.
    const wallet = opts.readOnly
      ? await resolveWallet(ctx).catch(() => Wallet.createRandom().connect(ctx.provider) as unknown as Wallet)
      : await resolveWallet(ctx);
    const coordinator = ctx.settings.coordinator ? [ctx.settings.coordinator] : ctx.dev?.coordinator.multiaddrs;
    const client = await (
      await load()
    ).createRendermeshClient({
      wallet,
      deployment: ctx.deployment,
      dataDir: ctx.dataDir,
      coordinator,
      ipfsApi: ctx.settings.ipfsApi,
      outDir: resolve(outDir ?? "out"),
    });
    const close = client.close.bind(client);
    return { client: Object.assign(client, { close: async () => (await close(), ctx.provider.destroy()) }), out };
  } catch (err) {
    ctx.provider.destroy();
    throw err;
  }
}

/** Aborts on Ctrl-C; the journal keeps everything, so the job resumes later. */
function interruptible(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onSignal = () => controller.abort(new AbortedError("The job"));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}

function paymentRows(p: Payments): string[][] {
  const rows = p.providers.map((x) => [`provider ${getAddress(x.provider)}`, String(x.seconds), formatAmount(x.amount)]);
  rows.push([`coordinator fee (${getAddress(p.coordinator.address)})`, "", formatAmount(p.coordinator.amount)]);
  rows.push(["treasury fee", "", formatAmount(p.treasury.amount)]);
  rows.push([
    p.closing ? "refund to you (after the challenge window: `job refund`)" : "refund to you",
    "",
    formatAmount(p.closing ? p.deposit - p.paid : p.refund),
  ]);
  rows.push(["total = deposit", String(p.paidSeconds), formatAmount(p.deposit)]);
  return rows;
}

/** The coordinator's view of a job: a summary line, then one line per segment not yet verified (at most 20). */
function printNetwork(out: Output, n: GetJobStatusReturnType["network"]): void {
  if (!n) return;
  if (!n.reachable) {
    out.line(`Network:   the coordinator could not be asked (${n.reason}); below is this client's own view only`);
    return;
  }
  const c = n.counts;
  out.line(
    `Network:   ${n.status} at the coordinator; ${c.verified}/${n.segments} verified, ${c.active} rendering, ${c.delivered} awaiting your verdict, ${c.pending} queued, ${c.failed} failed (event ${n.lastSeq})`,
  );
  if (n.failCode) out.line(`           failed: ${n.failCode}${n.failMessage ? `: ${n.failMessage}` : ""}`);
  const open = n.items.filter((i) => i.status !== "verified");
  const copy = (a: { provider: string; attempt: number; speculative: boolean }) =>
    `${getAddress(a.provider)} (attempt ${a.attempt}${a.speculative ? ", speculative" : ""})`;
  for (const i of open.slice(0, 20)) {
    const attempts = i.attempts ?? [];
    const rendering = attempts.filter((a) => a.status === "active");
    const shown = attempts.find((a) => a.status === "shown");
    const last = attempts[attempts.length - 1];
    let what: string;
    if (i.status === "delivered")
      what = `awaiting your verdict${shown ? ` on the copy from ${copy(shown)}` : ""}${rendering.length ? `; ${rendering.length} more copy rendering` : ""}`;
    else if (i.status === "active")
      what = rendering.length ? `rendering on ${rendering.map((a) => `${copy(a)}, ${a.framesDone} frames`).join(" and on ")}` : "rendering";
    else if (i.status === "failed")
      what = `failed${last?.failCode ? ` (${last.failCode}${last.failMessage ? `: ${last.failMessage}` : ""})` : ""}`;
    else what = "queued for a provider";
    out.line(`           segment ${i.segment}: ${what}; ${i.tries} of 3 tries used`);
  }
  if (open.length > 20) out.line(`           … and ${open.length - 20} more segments not verified`);
}

/** Segment numbers for a sentence: all of them up to 20, then a count. */
const formatList = (xs: number[]) => (xs.length <= 20 ? xs.join(", ") : `${xs.slice(0, 20).join(", ")} … (${xs.length} in all)`);

function printResult(out: Output, r: RunJobReturnType): void {
  out.result({ ok: r.status === "settled", ...r }, () => {
    out.line();
    if (r.video) out.line(`Video:    ${r.video.path}  (ipfs ${r.video.cid})`);
    out.line(`Manifest: ${r.manifestPath}`);
    out.line(`Settle:   ${r.settleTx} (gas ${r.gasUsed.settle}${r.gasUsed.open !== undefined ? `; open used ${r.gasUsed.open}` : ""})`);
    out.line(`Verified ${r.verified} segments, rejected ${r.rejected} deliveries.`);
    out.line();
    out.table(["payee", "seconds", "MESH"], paymentRows(r.payments), ["left", "right", "right"]);
  });
  if (r.status === "failed") {
    throw Object.assign(
      new JobFailedError(
        r.payments.closing
          ? `The job failed on the network${r.failure ? ` (${r.failure})` : ""}; segment${r.missing.length === 1 ? "" : "s"} ${formatList(r.missing)} never verified. You paid for ${r.payments.paidSeconds} verified seconds. The other ${formatToken(r.payments.deposit - r.payments.paid)} returns with \`rendermesh job refund ${r.jobId}\` once the challenge window (in which providers may still claim) has passed.`
          : `The job failed on the network${r.failure ? ` (${r.failure})` : ""}; segment${r.missing.length === 1 ? "" : "s"} ${formatList(r.missing)} never verified. You paid for ${r.payments.paidSeconds} verified seconds and got ${formatToken(r.payments.refund)} back.`,
        { hint: `\`rendermesh job status ${r.jobId}\` shows what happened.` },
      ),
      { resultPrinted: true },
    );
  }
}

async function follow(client: RendermeshClient, out: Output, jobId: string, resumed: boolean): Promise<void> {
  const view = (await load()).createProgressView(out);
  const { signal, dispose } = interruptible();
  const job = client.journal.findJob(jobId);
  if (job && resumed) {
    const verified = client.journal.verifiedSegments(job.ref).length;
    view.seed({ rendered: verified, verified, paid: verified });
  }
  try {
    const result = await (await load()).runJob(client, { jobId, signal, onProgress: (e) => view.onProgress(e) });
    view.stop();
    printResult(out, result);
  } catch (err) {
    view.stop();
    if (signal.aborted) {
      const id = client.journal.findJob(jobId)?.jobId ?? jobId;
      throw new AbortedError("The job", { hint: `Everything is journalled: run \`rendermesh job resume ${id}\` to continue.` });
    }
    throw err;
  } finally {
    dispose();
  }
}

export function registerJobCommands(program: Command): void {
  const job = program.command("job").description("quote, submit, follow, verify and refund video jobs");

  job
    .command("quote")
    .description("ask the coordinator for a price (no gas is spent)")
    .option("--prompt <text>", "also check the prompt against the content policy")
    .option("--seconds <n>", "length of the video in seconds")
    .option("--fps <n>", `frames per second (default ${SPEC_DEFAULTS.fps})`)
    .option("--size <WxH>", `frame size (default ${SPEC_DEFAULTS.width}x${SPEC_DEFAULTS.height})`)
    .option("--model <id>", "model id, 0x + sha256 of the ONNX file (default: the network's default model)")
    .action(async (opts: SpecFlags, cmd: Command) => {
      const spec = await specFromFlags(opts, false);
      const { client, out } = await openClient(cmd, undefined, { readOnly: true });
      try {
        const policy =
          opts.prompt !== undefined ? await (await load()).checkPolicy(client, { spec: { ...spec, prompt: opts.prompt } }) : undefined;
        const quote = await (await load()).quoteJob(client, { spec });
        out.result(
          { ok: true, spec: { ...spec, prompt: opts.prompt }, quote, policyVersion: policy?.version ?? quote.policyVersion },
          () => {
            out.line(`Price:      ${formatToken(quote.pricePerSecond)} per second`);
            out.line(`Deposit:    ${formatToken(quote.deposit)} for ${spec.seconds} s at ${spec.width}x${spec.height}, ${spec.fps} fps`);
            out.line(
              `Fees:       coordinator ${quote.coordinatorFeeBps / 100}%, treasury ${quote.treasuryFeeBps / 100}% (taken from the paid seconds)`,
            );
            out.line(`Providers:  ${quote.providers} live; ETA ${Math.round(quote.etaSeconds)} s`);
            out.line(`Policy:     version ${quote.policyVersion}${policy ? " (the prompt passes)" : ""}`);
            out.line(`Coordinator ${quote.coordinator}`);
          },
        );
      } finally {
        await client.close();
      }
    });

  job
    .command("submit")
    .description("check the policy, get a quote, open the escrow, and follow the job to a verified, paid video")
    .option("--prompt <text>", "what the video shows")
    .option("--seconds <n>", "length of the video in seconds")
    .option("--fps <n>", `frames per second (default ${SPEC_DEFAULTS.fps})`)
    .option("--size <WxH>", `frame size (default ${SPEC_DEFAULTS.width}x${SPEC_DEFAULTS.height})`)
    .option("--seed <n>", `seed of the model (default ${SPEC_DEFAULTS.seed})`)
    .option("--model <id>", "model id, 0x + sha256 of the ONNX file (default: the network's default model)")
    .option("--max-price <mesh>", "refuse if the quote is above this many MESH per second")
    .option("--out <dir>", "where out/<jobId>/video.mp4 and manifest.json go (default ./out)")
    .option(
      "--from-deposit",
      "pay only from the escrow deposit account (`rendermesh deposit`); refused when it is short. Without either flag the account pays when it covers the whole deposit, else the wallet",
    )
    .option("--from-wallet", "pay from the wallet (one permit), even when the deposit account would cover the job")
    .action(async (opts: SpecFlags & { maxPrice?: string; out?: string; fromDeposit?: boolean; fromWallet?: boolean }, cmd: Command) => {
      if (opts.fromDeposit && opts.fromWallet) throw new UsageError("Give --from-deposit or --from-wallet, not both.");
      const funding = opts.fromDeposit ? "deposit" : opts.fromWallet ? "wallet" : "auto";
      const spec = await specFromFlags(opts, true);
      const maxPrice = opts.maxPrice === undefined ? undefined : parseTokenAmount("--max-price", opts.maxPrice);
      const { client, out } = await openClient(cmd, opts.out);
      const view = (await load()).createProgressView(out);
      try {
        // 1. Policy before any gas; 2. quote; 3. price ceiling; 4. open (one transaction).
        const policy = await (await load()).checkPolicy(client, { spec });
        view.onProgress(progress("policy:checked", { policyVersion: policy.version }));
        const quote = await (await load()).quoteJob(client, { spec });
        view.onProgress(
          progress("quote:received", {
            pricePerSecond: quote.pricePerSecond,
            deposit: quote.deposit,
            providers: quote.providers,
            etaSeconds: quote.etaSeconds,
          }),
        );
        (await load()).assertQuoteAcceptable(quote, maxPrice);
        const opened = await (
          await load()
        ).openJob(client, {
          spec,
          quote,
          policyVersion: policy.version,
          coordinatorPeer: client.coordinator ?? [],
          funding,
          onProgress: (e) => view.onProgress(e),
        });
        view.stop();
        await follow(client, out, opened.ref, false);
      } finally {
        view.stop();
        await client.close();
      }
    });

  job
    .command("resume")
    .description("continue a job after the client was stopped (never pays twice)")
    .argument("<jobId>", "the job id (or the open transaction's hash)")
    .action(async (jobId: string, _opts: unknown, cmd: Command) => {
      const id = parseBytes32("JOB_ID", jobId);
      const { client, out } = await openClient(cmd);
      try {
        client.journal.getJob(id);
        await follow(client, out, id, true);
      } finally {
        await client.close();
      }
    });

  job
    .command("status")
    .description("a job's state in the journal, on the escrow and at the coordinator (the network's view)")
    .argument("<jobId>", "the job id")
    .action(async (jobId: string, _opts: unknown, cmd: Command) => {
      const id = parseBytes32("JOB_ID", jobId);
      const { client, out } = await openClient(cmd, undefined, { readOnly: true });
      try {
        const s = await (await load()).getJobStatus(client, { jobId: id });
        out.result({ ok: true, ...s }, () => {
          out.line(`Job ${s.jobId}`);
          out.line(
            `On-chain:  ${s.chain.status}; ${s.chain.totalSeconds} s at ${formatToken(s.chain.pricePerSecond)}/s; deadline ${new Date(s.chain.deadline * 1000).toISOString()}`,
          );
          if (s.chain.status === "closing") {
            out.line(
              `Pending:   settled without every provider's acknowledgement: providers may redeem and claim until ${new Date(s.chain.closesAt * 1000).toISOString()}`,
            );
          }
          const iso = (t: number) => new Date(t * 1000).toISOString();
          for (const c of s.claims) {
            const who = `segment ${c.segment} claimed by ${getAddress(c.provider)}`;
            if (c.status === "pending")
              out.line(
                `Claim:     ${who}: dispute it until ${iso(c.until)} (bond ${formatToken(s.chain.disputeBond)}); after that it is paid`,
              );
            else if (c.status === "disputed")
              out.line(`Claim:     ${who}: disputed; the arbiter decides until ${iso(c.until)}, after that it is paid to the provider`);
            else out.line(`Claim:     ${who}: ${c.status}`);
          }
          if (s.depositUnlocksAt !== undefined) {
            const waiting = s.depositUnlocksAt > s.refundableAt ? ` (the open claims finish then)` : "";
            out.line(
              `Unlocks:   the unspent deposit returns after ${iso(s.depositUnlocksAt)}${waiting} (\`rendermesh job refund\`), once no claim is pending`,
            );
          }
          printNetwork(out, s.network);
          if (!s.journal) return out.line("Journal:   this client did not open the job.");
          const j = s.journal;
          out.line(
            `Journal:   ${j.phase}; ${j.verified.length}/${j.seconds} segments verified, ${j.rejected.length} deliveries rejected, last event ${j.lastSeq}`,
          );
          for (const v of j.vouchers)
            out.line(
              `Voucher:   ${getAddress(v.provider)} ${v.seconds} s${v.acknowledgement ? " (acknowledged: settles cooperatively)" : v.ackedAt ? " (received)" : ""}`,
            );
          for (const t of j.transactions)
            out.line(`Tx:        ${t.kind} ${t.hash} ${t.state}${t.gasUsed !== undefined ? ` gas ${t.gasUsed}` : ""}`);
          for (const r of j.rejected) out.line(`Rejected:  segment ${r.segment} from ${getAddress(r.provider)} (${r.check}): ${r.message}`);
          if (j.failure) out.line(`Failure:   ${j.failure}`);
          if (j.videoPath) out.line(`Video:     ${j.videoPath}`);
          if (j.manifestPath) out.line(`Manifest:  ${j.manifestPath}`);
        });
      } finally {
        await client.close();
      }
    });

  job
    .command("refund")
    .description("recover an abandoned job's deposit after its deadline and claim window")
    .argument("<jobId>", "the job id")
    .action(async (jobId: string, _opts: unknown, cmd: Command) => {
      const id = parseBytes32("JOB_ID", jobId);
      const { client, out } = await openClient(cmd);
      try {
        const r = await (await load()).refundJob(client, { jobId: id });
        out.result({ ok: true, ...r }, () => {
          out.line(
            r.alreadyRefunded
              ? `Job ${id} was refunded already (tx ${r.txHash}).`
              : `Refunded ${formatToken(r.refund)} to the client (tx ${r.txHash}).`,
          );
          out.table(["payee", "seconds", "MESH"], paymentRows(r.payments), ["left", "right", "right"]);
        });
      } finally {
        await client.close();
      }
    });

  job
    .command("attribute")
    .description(
      "answer another provider's claim on a segment this client verified and paid by voucher (a speculative copy's): the segment is recorded as paid and the claim dropped",
    )
    .argument("<jobId>", "the job id")
    .action(async (jobId: string, _opts: unknown, cmd: Command) => {
      const id = parseBytes32("JOB_ID", jobId);
      const { client, out } = await openClient(cmd);
      try {
        const r = await (await load()).attributeClaims(client, { jobId: id });
        out.result({ ok: true, jobId: id, ...r }, () => {
          for (const a of r.attributed)
            out.line(`Segment ${a.segment}: attributed to ${a.provider}; the claim of ${a.dropped} was dropped (tx ${a.txHash}).`);
          for (const w of r.waiting)
            out.line(
              `Segment ${w.segment}: claimed by ${w.claimant}, not attributable yet (${w.reason}); run it again once ${w.provider}'s voucher is redeemed.`,
            );
          if (r.attributed.length === 0 && r.waiting.length === 0) out.line("No other provider claims a segment this client verified.");
        });
      } finally {
        await client.close();
      }
    });

  job
    .command("list")
    .description("the jobs in this client's journal")
    .action(async (_opts: unknown, cmd: Command) => {
      const flags = globalFlags(cmd);
      const out = createOutput(flags);
      const local = resolveLocal(flags);
      const journal = (await load()).Journal.open(local.dataDir);
      try {
        const jobs = journal.listJobs().map((j) => ({
          jobId: j.jobId ?? j.ref,
          phase: j.phase,
          seconds: j.spec.seconds,
          verified: journal.verifiedSegments(j.ref).length,
          prompt: j.spec.prompt,
          createdAt: new Date(j.createdAt).toISOString(),
        }));
        out.result({ ok: true, jobs }, () => {
          if (jobs.length === 0) return out.line(`No jobs in ${journal.path}.`);
          out.table(
            ["job", "phase", "verified", "created", "prompt"],
            jobs.map((j) => [
              j.jobId,
              j.phase,
              `${j.verified}/${j.seconds}`,
              j.createdAt,
              j.prompt.length > 40 ? `${j.prompt.slice(0, 39)}…` : j.prompt,
            ]),
          );
        });
      } finally {
        journal.close();
      }
    });

  job
    .command("verify")
    .description("re-verify a finished job from IPFS and the chain (anyone can)")
    .argument("<manifest>", "path of the job's manifest.json")
    .option("--no-segments", "skip fetching and re-checking the segments")
    .action(async (path: string, opts: { segments: boolean }, cmd: Command) => {
      const { client, out } = await openClient(cmd, undefined, { readOnly: true });
      try {
        const r = await (
          await load()
        ).verifyManifest(client, {
          path,
          segments: opts.segments,
          onSegment: (segment, ok, detail) => out.line(`segment ${segment}: ${ok ? "ok" : "FAILED"} (${detail})`),
        });
        out.result(r, () => {
          out.line(
            `Checked ${r.checked.segments} segments, ${r.checked.vouchers} vouchers, ${r.checked.transactions} transactions; payments ${r.checked.payments ? "match the chain" : "do not match"}; video ${r.checked.video}.`,
          );
          out.line(r.ok ? `Job ${r.jobId} verifies.` : "");
        });
        if (!r.ok) throw new ManifestInvalidError(r.problems);
      } finally {
        await client.close();
      }
    });
}
