import { randomUUID } from "node:crypto";
import {
  assertQuoteAcceptable,
  buildSpec,
  checkPolicy,
  openJob,
  progress,
  quoteJob,
  runJob,
  type JobProgressEvent,
  type RendermeshClient,
  type RunJobReturnType,
} from "@rendermesh/client";
import type { JobSpec, Quote } from "@rendermesh/shared";
import { errorBody, type ErrorBody } from "./json.js";

/**
 * A job the page started on this node: the SDK's own flow (policy check,
 * quote, open with a permit, submit, verify each segment here, voucher per
 * verified second, join, settle, manifest), with its progress events kept
 * so a page that reloads (or a second tab) sees the whole story.
 */
export interface RunEvent {
  seq: number;
  at: number;
  type: JobProgressEvent["type"] | "run:started" | "run:done" | "run:failed";
  detail: unknown;
}

export interface Run {
  id: string;
  account: string;
  spec: JobSpec;
  state: "running" | "done" | "failed";
  startedAt: number;
  ref: `0x${string}` | undefined;
  jobId: `0x${string}` | undefined;
  events: RunEvent[];
  result: RunJobReturnType | undefined;
  error: ErrorBody | undefined;
}

export interface SpecInput {
  prompt: string;
  seconds: number;
  width?: number | undefined;
  height?: number | undefined;
  fps?: number | undefined;
  seed?: number | undefined;
  model?: `0x${string}` | undefined;
}

export interface QuoteResult {
  spec: JobSpec;
  policyVersion: bigint;
  quote: Quote;
  balance: bigint;
}

/** The quote and the policy check, before anything is signed. */
export async function quoteFor(
  client: RendermeshClient,
  input: SpecInput,
  coordinator: string[],
  account = client.account,
): Promise<QuoteResult> {
  const spec = buildSpec(input);
  const policy = await checkPolicy(client, { spec });
  const quote = await quoteJob(client, { spec, coordinator });
  assertQuoteAcceptable(quote, undefined);
  const balance = (await client.contracts.token.balanceOf(account)) as bigint;
  return { spec, policyVersion: policy.version, quote, balance };
}

export class Runs {
  readonly #runs = new Map<string, Run>();
  readonly #listeners = new Map<string, Set<(e: RunEvent) => void>>();

  get(id: string): Run | undefined {
    return this.#runs.get(id);
  }

  list(account?: string): Run[] {
    return [...this.#runs.values()].filter((r) => !account || r.account.toLowerCase() === account.toLowerCase());
  }

  byRef(ref: string): Run | undefined {
    return [...this.#runs.values()].find((r) => r.ref === ref || r.jobId === ref);
  }

  /** Calls `fn` with every event of the run, past and future; returns the unsubscribe. */
  subscribe(id: string, fn: (e: RunEvent) => void): () => void {
    const run = this.#runs.get(id);
    if (!run) return () => undefined;
    for (const e of run.events) fn(e);
    let set = this.#listeners.get(id);
    if (!set) this.#listeners.set(id, (set = new Set()));
    set.add(fn);
    return () => set.delete(fn);
  }

  /**
   * Starts a job: the price the user accepted on the quote is the most it
   * pays (a new quote above it is refused before any gas is spent).
   */
  start(client: RendermeshClient, input: SpecInput, acceptedPricePerSecond: bigint, coordinator: string[]): Run {
    const run: Run = {
      id: randomUUID(),
      account: client.account,
      spec: buildSpec(input),
      state: "running",
      startedAt: Date.now(),
      ref: undefined,
      jobId: undefined,
      events: [],
      result: undefined,
      error: undefined,
    };
    this.#runs.set(run.id, run);
    this.#emit(run, "run:started", { account: client.account, spec: run.spec });
    void this.#execute(client, run, acceptedPricePerSecond, coordinator);
    return run;
  }

  #emit(run: Run, type: RunEvent["type"], detail: unknown): void {
    const e: RunEvent = { seq: run.events.length + 1, at: Date.now(), type, detail };
    run.events.push(e);
    for (const fn of this.#listeners.get(run.id) ?? []) fn(e);
  }

  async #execute(client: RendermeshClient, run: Run, acceptedPricePerSecond: bigint, coordinator: string[]): Promise<void> {
    const onProgress = (e: JobProgressEvent) => {
      if (e.type === "job:opened") run.jobId = e.detail.jobId as `0x${string}`;
      this.#emit(run, e.type, e.detail);
    };
    try {
      const spec = run.spec;
      const policy = await checkPolicy(client, { spec });
      onProgress(progress("policy:checked", { policyVersion: policy.version }));
      const quote = await quoteJob(client, { spec, coordinator });
      onProgress(
        progress("quote:received", {
          pricePerSecond: quote.pricePerSecond,
          deposit: quote.deposit,
          providers: quote.providers,
          etaSeconds: quote.etaSeconds,
        }),
      );
      assertQuoteAcceptable(quote, acceptedPricePerSecond);
      const opened = await openJob(client, { spec, quote, policyVersion: policy.version, coordinatorPeer: coordinator, onProgress });
      run.ref = opened.ref;
      run.jobId = opened.jobId;
      const result = await runJob(client, { jobId: opened.ref, onProgress });
      run.result = result;
      run.state = result.status === "settled" ? "done" : "failed";
      this.#emit(run, run.state === "done" ? "run:done" : "run:failed", {
        result,
        ...(run.state === "failed"
          ? { error: { code: "JOB_FAILED", message: client.journal.getJob(opened.ref).failure ?? "The job failed.", hint: undefined } }
          : {}),
      });
    } catch (err) {
      run.state = "failed";
      run.error = errorBody(err);
      client.logger.warn({ err: run.error.message, code: run.error.code }, "web job failed");
      this.#emit(run, "run:failed", { error: run.error });
    }
  }
}
