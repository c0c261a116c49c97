import type { Wallet } from "ethers";
import { jobAccessMessage, JobStreamMessage, PROTOCOLS, ReportResponse, type JobSpec } from "@rendermesh/shared";
import { createMeshNode, openProtocolStream, request, type MeshNode } from "@rendermesh/shared/net";

export type Event = { type: string; seq: number; segment?: number; [k: string]: unknown };

/** Who the client is on-chain: its job requests carry this wallet's auth unless they bring their own. */
export interface TestClientIdentity {
  wallet: Wallet;
  chainId: number;
  escrow: string;
}

/** A client that speaks the job and report protocols; verifies every delivery "ok" unless told otherwise. */
export class TestClient {
  node!: MeshNode;
  constructor(
    private readonly coordinator: () => string,
    private readonly identity?: TestClientIdentity,
  ) {}

  /** The wallet's auth for `jobId` from this node (undefined without an identity). */
  async auth(jobId: string): Promise<string | undefined> {
    if (!this.identity) return undefined;
    const { wallet, chainId, escrow } = this.identity;
    return wallet.signMessage(jobAccessMessage(chainId, escrow, jobId, this.node.peerId.toString()));
  }

  private async withAuth(msg: unknown): Promise<unknown> {
    const m = msg as { type?: string; jobId?: unknown; auth?: unknown };
    if (
      !this.identity ||
      m.auth !== undefined ||
      typeof m.jobId !== "string" ||
      !["submit", "watch", "cancel", "verdict"].includes(m.type ?? "")
    )
      return msg;
    return { ...m, auth: await this.auth(m.jobId) };
  }

  async start(): Promise<void> {
    this.node = await createMeshNode();
  }

  async stop(): Promise<void> {
    await this.node?.stop();
  }

  /** Sends `first` on the job protocol and collects messages until the stream ends or `until` says stop. */
  async follow(
    first: unknown,
    opts: { verdict?: (e: Event) => boolean | undefined; until?: (e: Event) => boolean; timeoutMs?: number } = {},
  ): Promise<{ events: Event[]; error?: { code: string; message: string } }> {
    const stream = await openProtocolStream(this.node, this.coordinator(), PROTOCOLS.job, { timeout: 10_000, messageTimeout: 0 });
    const events: Event[] = [];
    const signal = AbortSignal.timeout(opts.timeoutMs ?? 90_000);
    try {
      await stream.write(await this.withAuth(first));
      for await (const msg of stream.messages(JobStreamMessage, { signal, timeout: 0 })) {
        const e = msg as unknown as Event;
        if (e.type === "error") return { events, error: { code: String(e.code), message: String(e.message) } };
        events.push(e);
        if (e.type === "segment-delivered" && opts.verdict) {
          const ok = opts.verdict(e);
          if (ok !== undefined) await this.report(e, ok);
        }
        if (opts.until?.(e)) break;
      }
    } catch (err) {
      const e = err as { name?: string; code?: string; shortMessage?: string };
      if (e.name === "RemoteError") return { events, error: { code: e.code!, message: e.shortMessage! } };
      throw err;
    } finally {
      stream.abort(new Error("done"));
    }
    return { events };
  }

  submit(jobId: string, chainId: number, escrow: string, spec: JobSpec, opts: Parameters<TestClient["follow"]>[1] = {}) {
    return this.follow({ type: "submit", jobId, chainId, escrow, spec }, opts);
  }

  async report(e: Event, ok: boolean): Promise<unknown> {
    const d = e.delivery as { delivery: { jobId: string; segment: number; cid: string } };
    const a = e.assignment as { assignment: { provider: string } };
    return request(
      this.node,
      this.coordinator(),
      PROTOCOLS.report,
      await this.withAuth({
        type: "verdict",
        jobId: d.delivery.jobId,
        segment: d.delivery.segment,
        provider: a.assignment.provider,
        cid: d.delivery.cid,
        ok,
        ...(ok ? {} : { check: "content", message: "psnr too low" }),
      }),
      ReportResponse,
      { timeout: 10_000 },
    );
  }
}
