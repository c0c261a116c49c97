import { PROTOCOLS, ProviderAnnounce, RenderResponse, segmentFrames, VoucherResponse, type JobSpec } from "@rendermesh/shared";
import { createMeshNode, handleProtocol, loadOrCreatePeerKey, openProtocolStream, request, type MeshNode } from "@rendermesh/shared/net";
import type { Signer } from "ethers";
import type { TestChain } from "../../../../test/compliance/test-chain.js";

export type Reply = RenderResponse | { type: "error"; code: string; message: string };

/**
 * A stand-in coordinator for tests: a real libp2p node that acknowledges
 * announcements (recording them) and sends signed render requests.
 */
export class FakeCoordinator {
  readonly announcements: ProviderAnnounce[] = [];
  node!: MeshNode;
  #waiters: Array<() => void> = [];

  constructor(
    readonly chain: TestChain,
    readonly options: { dataDir: string; listen?: string; heartbeatIntervalMs?: number; refuse?: string },
  ) {}

  async start(): Promise<this> {
    this.node = await createMeshNode({ privateKey: await loadOrCreatePeerKey(this.options.dataDir), listen: [this.options.listen ?? "/ip4/127.0.0.1/tcp/0"] });
    await handleProtocol(this.node, PROTOCOLS.announce, async (stream) => {
      const message = await stream.read(ProviderAnnounce);
      this.announcements.push(message);
      for (const w of this.#waiters.splice(0)) w();
      if (this.options.refuse) {
        await stream.write({ type: "error", code: this.options.refuse, message: "refused by the test" });
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
    });
    return this;
  }

  get multiaddr(): string {
    return this.node.getMultiaddrs()[0]!.toString();
  }

  async stop(): Promise<void> {
    await this.node?.stop();
  }

  /** Resolves once `count` announcements in total have arrived. */
  async waitForAnnouncements(count: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.announcements.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.announcements.length} of ${count} announcements arrived`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 250);
      });
    }
  }

  async signedRequest(jobId: `0x${string}`, spec: JobSpec, segment: number, provider: string, over: { deadline?: number; signer?: Signer } = {}) {
    const assignment = { jobId, segment, ...segmentFrames(spec, segment), provider: provider as `0x${string}`, deadline: over.deadline ?? Math.floor(Date.now() / 1000) + 600 };
    const signature = await this.chain.signAssignment(assignment, over.signer);
    return { type: "render" as const, chainId: this.chain.chainId, escrow: this.chain.deployment.escrow, spec, assignment, signature };
  }

  /** Sends a render request and collects replies until `delivered` or `error` (or `stopAfter` replies). */
  async render(target: string, message: unknown, options: { stopAfter?: (r: Reply) => boolean } = {}): Promise<Reply[]> {
    const stream = await openProtocolStream(this.node, target, PROTOCOLS.render, { timeout: 10_000 });
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
        if (reply.type === "delivered" || reply.type === "error" || options.stopAfter?.(reply)) break;
      }
    } finally {
      if (options.stopAfter && replies.length > 0 && options.stopAfter(replies[replies.length - 1]!)) stream.abort(new Error("coordinator hung up"));
      else await stream.close().catch(() => undefined);
    }
    return replies;
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
