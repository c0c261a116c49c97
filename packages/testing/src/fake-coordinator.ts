import {
  JobRequest,
  PROTOCOLS,
  ProviderAnnounce,
  RenderResponse,
  segmentFrames,
  VoucherResponse,
  type JobSegments,
  type JobSpec,
} from "@rendermesh/shared";
import { createMeshNode, handleProtocol, loadOrCreatePeerKey, openProtocolStream, request, type MeshNode } from "@rendermesh/shared/net";
import type { Signer } from "ethers";
import type { TestChain } from "./test-chain.js";

export type Reply = RenderResponse | { type: "error"; code: string; message: string };

export interface RenderExchangeOptions {
  /** Hang up (abort the stream) once this reply has arrived. */
  stopAfter?: (r: Reply) => boolean;
  /** Sees each reply as it arrives. */
  onReply?: (r: Reply) => void;
}

/**
 * One render exchange as a coordinator has it: sends `message` on a fresh
 * `/rendermesh/render` stream from `node` and collects the replies until
 * `delivered` or `error` (a typed remote error becomes an `error` reply).
 */
export async function renderExchange(
  node: MeshNode,
  target: string,
  message: unknown,
  options: RenderExchangeOptions = {},
): Promise<Reply[]> {
  const stream = await openProtocolStream(node, target, PROTOCOLS.render, { timeout: 10_000, messageTimeout: 120_000 });
  const replies: Reply[] = [];
  try {
    await stream.write(message);
    for (;;) {
      let reply: Reply;
      try {
        reply = await stream.read(RenderResponse, { timeout: 120_000 });
      } catch (err) {
        if ((err as { name?: string }).name !== "RemoteError") throw err;
        reply = { type: "error", code: (err as { code: string }).code, message: (err as Error).message };
      }
      replies.push(reply);
      options.onReply?.(reply);
      if (reply.type === "delivered" || reply.type === "error" || options.stopAfter?.(reply)) break;
    }
  } finally {
    if (options.stopAfter && replies.length > 0 && options.stopAfter(replies[replies.length - 1]!))
      stream.abort(new Error("coordinator hung up"));
    else await stream.close().catch(() => undefined);
  }
  return replies;
}

/**
 * A stand-in coordinator for tests: a real libp2p node that acknowledges
 * announcements (recording them) and sends signed render requests. Every
 * wait is on an event (an announcement arriving, a reply read), never a clock.
 */
export class FakeCoordinator {
  readonly announcements: ProviderAnnounce[] = [];
  /**
   * What a `segments` query on `/rendermesh/job` is answered with: per job, the copy of each segment the client
   * verified (segment → provider and CID). A job not here is answered UNKNOWN_JOB, as a coordinator that never
   * heard of it would.
   */
  readonly verifiedCopies = new Map<string, Map<number, { provider: string; cid: string }>>();
  /** Job ids of the `segments` queries answered, in order. */
  readonly segmentQueries: string[] = [];
  node!: MeshNode;
  #waiters: Array<() => void> = [];

  readonly chain: TestChain;
  readonly options: { dataDir: string; listen?: string; heartbeatIntervalMs?: number; refuse?: string };

  // No parameter properties: the toolkit also runs under Node's strip-only TypeScript.
  constructor(chain: TestChain, options: FakeCoordinator["options"]) {
    this.chain = chain;
    this.options = options;
  }

  async start(): Promise<this> {
    this.node = await createMeshNode({
      privateKey: await loadOrCreatePeerKey(this.options.dataDir),
      listen: [this.options.listen ?? "/ip4/127.0.0.1/tcp/0"],
    });
    await handleProtocol(this.node, PROTOCOLS.announce, async (stream) => {
      const message = await stream.read(ProviderAnnounce);
      this.announcements.push(message);
      if (this.options.refuse) {
        await stream.write({ type: "error", code: this.options.refuse, message: "refused by the test" });
        for (const w of this.#waiters.splice(0)) w();
        return;
      }
      await stream.write({
        type: "announce-ack",
        coordinator: this.chain.coordinator.address,
        chainId: this.chain.chainId,
        escrow: this.chain.deployment.escrow,
        policyVersion: "1",
        heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 60_000,
      });
      for (const w of this.#waiters.splice(0)) w();
    });
    await handleProtocol(this.node, PROTOCOLS.job, async (stream) => {
      const req = await stream.read(JobRequest);
      const copies = this.verifiedCopies.get(req.jobId.toLowerCase());
      if (req.type !== "segments" || !copies) {
        await stream.write({
          type: "error",
          code: "UNKNOWN_JOB",
          message: "the fake coordinator answers only segments queries of known jobs",
        });
        return;
      }
      this.segmentQueries.push(req.jobId.toLowerCase());
      const answer: JobSegments = {
        type: "job-segments",
        jobId: req.jobId,
        status: "running",
        segments: copies.size,
        lastSeq: 0,
        items: [...copies].map(([segment, v]) => ({
          segment,
          status: "verified" as const,
          tries: 1,
          verified: { provider: v.provider as `0x${string}`, cid: v.cid },
        })),
      };
      await stream.write(answer);
    });
    return this;
  }

  get multiaddr(): string {
    return this.node.getMultiaddrs()[0]!.toString();
  }

  async stop(): Promise<void> {
    await this.node?.stop();
  }

  /** Resolves once `count` announcements in total have arrived (and been answered). */
  async waitForAnnouncements(count: number): Promise<void> {
    while (this.announcements.length < count) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  async signedRequest(
    jobId: `0x${string}`,
    spec: JobSpec,
    segment: number,
    provider: string,
    over: { deadline?: number; signer?: Signer } = {},
  ) {
    const assignment = {
      jobId,
      segment,
      ...segmentFrames(spec, segment),
      provider: provider as `0x${string}`,
      deadline: over.deadline ?? Math.floor(Date.now() / 1000) + 600,
    };
    const signature = await this.chain.signAssignment(assignment, over.signer);
    // Allocated every segment up to this one (the fake coordinator assigns a provider a job's segments in order).
    const allocation = {
      seconds: segment + 1,
      signature: await this.chain.signAllocation({ jobId, provider, seconds: segment + 1 }, over.signer),
    };
    return {
      type: "render" as const,
      chainId: this.chain.chainId,
      escrow: this.chain.deployment.escrow,
      spec,
      assignment,
      signature,
      allocation,
    };
  }

  /**
   * Sends a render request and collects replies until `delivered` or `error`
   * (or until `stopAfter` says so: then it hangs up). `onReply` sees each
   * reply as it arrives, so a test can act on `accepted` while the rest flows.
   */
  async render(target: string, message: unknown, options: RenderExchangeOptions = {}): Promise<Reply[]> {
    return renderExchange(this.node, target, message, options);
  }

  async sendVoucher(target: string, message: unknown) {
    try {
      return await request(this.node, target, PROTOCOLS.voucher, message, VoucherResponse, { timeout: 30_000 });
    } catch (err) {
      if ((err as { name?: string }).name !== "RemoteError") throw err;
      return { type: "error" as const, code: (err as { code: string }).code, message: (err as Error).message };
    }
  }
}
