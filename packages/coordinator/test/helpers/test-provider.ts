import { createHash } from "node:crypto";
import { peerIdFromString } from "@libp2p/peer-id";
import type { Wallet } from "ethers";
import { AnnounceResponse, announceMessage, PROTOCOLS, RenderRequest, type RenderDelivered } from "@rendermesh/shared";
import { eip712Domain, signDelivery, verifyAssignment } from "@rendermesh/shared/chain";
import { createMeshNode, handleProtocol, request, type MeshNode } from "@rendermesh/shared/net";

export interface TestProviderInit {
  wallet: Wallet;
  chainId: number;
  escrow: string;
  model: string;
  askPerSecond: bigint;
  /** ms per frame (default 20). */
  msPerFrame?: number;
  capacity?: number;
  benchmarkFps?: number;
  /** Sign deliveries with a key other than the provider's (a receipt that does not verify). */
  badReceipts?: boolean;
  /** Accept and never deliver. */
  hang?: boolean;
}

const B32 = "abcdefghijklmnopqrstuvwxyz234567";
function base32(bytes: Uint8Array): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** CIDv1, raw codec, sha2-256, base32 — what IPFS gives a small raw block. */
export function rawCid(bytes: Uint8Array): string {
  const digest = createHash("sha256").update(bytes).digest();
  return `b${base32(Uint8Array.from([0x01, 0x55, 0x12, 0x20, ...digest]))}`;
}

/**
 * A provider that speaks the real announce and render protocols (signed
 * announcements, EIP-712 assignment checks, signed delivery receipts) but
 * "renders" deterministic bytes instead of running the model.
 */
export class TestProvider {
  node!: MeshNode;
  readonly rendered: Array<{ jobId: string; segment: number }> = [];
  readonly init: TestProviderInit;
  private timer: NodeJS.Timeout | undefined;
  private coordinator: string | undefined;
  lastAnnounce: unknown;

  constructor(init: TestProviderInit) {
    this.init = init;
  }

  get address(): string {
    return this.init.wallet.address.toLowerCase();
  }

  async start(): Promise<void> {
    this.node = await createMeshNode();
    const domain = eip712Domain(this.init.chainId, this.init.escrow);
    await handleProtocol(
      this.node,
      PROTOCOLS.render,
      async (stream) => {
        const req = await stream.read(RenderRequest);
        const a = req.assignment;
        verifyAssignment(domain, a, req.signature);
        if (a.provider.toLowerCase() !== this.address) throw new Error("not my assignment");
        await stream.write({ type: "accepted", jobId: a.jobId, segment: a.segment });
        if (this.init.hang) {
          await new Promise(() => undefined);
        }
        const ms = this.init.msPerFrame ?? 20;
        for (let f = 1; f <= a.frameCount; f++) {
          await new Promise((r) => setTimeout(r, ms));
          if (f === Math.ceil(a.frameCount / 2)) await stream.write({ type: "progress", jobId: a.jobId, segment: a.segment, framesDone: f, frameCount: a.frameCount });
        }
        const bytes = createHash("sha256").update(`${a.jobId}:${a.segment}:${req.spec.prompt}`).digest();
        const delivery = { jobId: a.jobId, segment: a.segment, cid: rawCid(bytes), sha256: `0x${createHash("sha256").update(bytes).digest("hex")}` as `0x${string}`, frameCount: a.frameCount };
        const signer = this.init.badReceipts ? (await import("ethers")).Wallet.createRandom() : this.init.wallet;
        const signature = await signDelivery(signer, domain, delivery);
        const msg: RenderDelivered = { type: "delivered", delivery, signature, multiaddrs: this.node.getMultiaddrs().map(String) };
        this.rendered.push({ jobId: a.jobId, segment: a.segment });
        await stream.write(msg);
      },
      { timeout: 0, maxStreamsPerPeer: 64 },
    );
  }

  /** Announces now and then every `intervalMs` to the coordinator at `multiaddr`. */
  async announceTo(multiaddr: string, intervalMs = 1000): Promise<unknown> {
    this.coordinator = multiaddr;
    const once = async () => {
      const timestamp = Date.now();
      const signature = (await this.init.wallet.signMessage(announceMessage(this.node.peerId.toString(), this.address, timestamp))) as `0x${string}`;
      this.lastAnnounce = await request(this.node, multiaddr, PROTOCOLS.announce, {
        type: "announce",
        address: this.address,
        models: [this.init.model],
        askPerSecond: this.init.askPerSecond.toString(),
        capacity: this.init.capacity ?? 2,
        benchmarkFps: this.init.benchmarkFps ?? 50,
        device: "cpu",
        active: 0,
        agent: "test-provider",
        timestamp,
        signature,
      }, AnnounceResponse, { timeout: 10_000 });
      return this.lastAnnounce;
    };
    const first = await once();
    this.timer = setInterval(() => void once().catch(() => undefined), intervalMs);
    return first;
  }

  peerIdObject() {
    return peerIdFromString(this.node.peerId.toString());
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.node?.stop();
  }
}
