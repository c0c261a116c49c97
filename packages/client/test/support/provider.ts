import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { Wallet } from "ethers";
import { AnnounceResponse, announceMessage, MAX_MESSAGE_BYTES, PROTOCOLS, RenderRequest, VoucherMessage, type RenderDelivered } from "@rendermesh/shared";
import { eip712Domain, signDelivery, verifyAssignment, verifyVoucher } from "@rendermesh/shared/chain";
import { createMeshNode, handleProtocol, request, type MeshNode } from "@rendermesh/shared/net";
import { createHeliaSegmentStore, segmentCid, type HeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { encodeSegment } from "@rendermesh/shared/media";
import { renderFrames, sha256Hex } from "./segments.js";

/**
 * How a test provider answers an assignment. "honest" renders the frames
 * with the real model and encoder; the others are the ways a provider can
 * cheat or break that the client must catch:
 * - wrong-cid: the receipt names a CID nobody serves;
 * - wrong-hash: the right file, but the receipt's sha256 is another one;
 * - truncated: half of the file (receipt consistent with it);
 * - wrong-frames: frames rendered with another seed (receipt consistent).
 */
export type ProviderMode = "honest" | "wrong-cid" | "wrong-hash" | "truncated" | "wrong-frames";

export interface TestProviderInit {
  wallet: Wallet;
  chainId: number;
  escrow: string;
  model: string;
  askPerSecond: bigint;
  mode?: ProviderMode;
  capacity?: number;
}

/**
 * A provider that speaks the real protocols — signed announcements, the
 * render protocol with EIP-712 assignments and receipts, segments added to
 * an embedded Helia node that clients fetch over bitswap, and the voucher
 * protocol — rendering with the real ONNX model and ffmpeg encoder.
 */
export class TestProvider {
  node!: MeshNode;
  store!: HeliaSegmentStore;
  readonly init: TestProviderInit;
  mode: ProviderMode;
  /** Segments delivered, with the receipt's CID. */
  readonly delivered: Array<{ jobId: string; segment: number; cid: string }> = [];
  /** Vouchers received (verified against the job's client). */
  readonly vouchers: Array<{ jobId: string; seconds: number; signer: string }> = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), "rm-test-provider-"));

  constructor(init: TestProviderInit) {
    this.init = init;
    this.mode = init.mode ?? "honest";
  }

  get address(): string {
    return this.init.wallet.address;
  }

  async start(): Promise<void> {
    this.node = await createMeshNode();
    this.store = await createHeliaSegmentStore({ libp2p: this.node, dataDir: this.dir });
    const domain = eip712Domain(this.init.chainId, this.init.escrow);
    await handleProtocol(
      this.node,
      PROTOCOLS.render,
      async (stream) => {
        const req = await stream.read(RenderRequest);
        const a = req.assignment;
        verifyAssignment(domain, a, req.signature);
        if (a.provider.toLowerCase() !== this.address.toLowerCase()) throw new Error("not my assignment");
        await stream.write({ type: "accepted", jobId: a.jobId, segment: a.segment });
        const spec = this.mode === "wrong-frames" ? { ...req.spec, seed: req.spec.seed + 1 } : req.spec;
        const frames = await renderFrames(spec, a.firstFrame, a.frameCount);
        await stream.write({ type: "progress", jobId: a.jobId, segment: a.segment, framesDone: a.frameCount, frameCount: a.frameCount });
        let bytes = await encodeSegment(frames, req.spec);
        if (this.mode === "truncated") bytes = bytes.slice(0, Math.floor(bytes.length / 2));
        const cid = (await this.store.add(bytes)).toString();
        const receiptCid = this.mode === "wrong-cid" ? (await segmentCid(randomBytes(5000))).toString() : cid;
        const delivery = {
          jobId: a.jobId,
          segment: a.segment,
          cid: receiptCid,
          sha256: this.mode === "wrong-hash" ? sha256Hex(randomBytes(32)) : sha256Hex(bytes),
          frameCount: a.frameCount,
        };
        const signature = await signDelivery(this.init.wallet, domain, delivery);
        const msg: RenderDelivered = { type: "delivered", delivery, signature, multiaddrs: this.node.getMultiaddrs().map(String) };
        this.delivered.push({ jobId: a.jobId, segment: a.segment, cid: receiptCid });
        await stream.write(msg);
      },
      { timeout: 0, maxStreamsPerPeer: 64, maxMessageBytes: MAX_MESSAGE_BYTES },
    );
    await handleProtocol(
      this.node,
      PROTOCOLS.voucher,
      async (stream) => {
        const m = await stream.read(VoucherMessage);
        const signer = verifyVoucher(domain, m.voucher, m.signature);
        this.vouchers.push({ jobId: m.voucher.jobId, seconds: m.voucher.seconds, signer });
        await stream.write({ type: "voucher-ack", jobId: m.voucher.jobId, seconds: m.voucher.seconds });
      },
      { maxMessageBytes: MAX_MESSAGE_BYTES },
    );
  }

  /** Announces to the coordinator at `multiaddr` now and every `intervalMs`. */
  async announceTo(multiaddr: string, intervalMs = 1000): Promise<void> {
    const once = async () => {
      const timestamp = Date.now();
      const address = this.address.toLowerCase();
      const signature = (await this.init.wallet.signMessage(announceMessage(this.node.peerId.toString(), address, timestamp))) as `0x${string}`;
      const answer = await request(
        this.node,
        multiaddr,
        PROTOCOLS.announce,
        {
          type: "announce",
          address,
          models: [this.init.model],
          askPerSecond: this.init.askPerSecond.toString(),
          capacity: this.init.capacity ?? 2,
          benchmarkFps: 200,
          device: "cpu",
          active: 0,
          agent: `test-provider/${this.mode}`,
          timestamp,
          signature,
        },
        AnnounceResponse,
        { timeout: 10_000 },
      );
      if (answer.type === "error") throw new Error(`announce refused: ${answer.code} ${answer.message}`);
    };
    await once();
    this.timers.push(setInterval(() => void once().catch(() => undefined), intervalMs));
  }

  /** Stops announcing (the coordinator then considers it gone after its liveness window). */
  silence(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
  }

  /** Seconds the voucher of `jobId` received last says this provider is owed. */
  voucherSeconds(jobId: string): number {
    return Math.max(0, ...this.vouchers.filter((v) => v.jobId.toLowerCase() === jobId.toLowerCase()).map((v) => v.seconds));
  }

  async stop(): Promise<void> {
    this.silence();
    await this.store?.stop().catch(() => undefined);
    await this.node?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
