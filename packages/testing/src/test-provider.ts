// The one test provider: a node that speaks the real protocols (signed
// announcements, the render protocol with EIP-712 assignments and receipts,
// segments added to an embedded Helia node that peers fetch over bitswap, the
// voucher protocol) and is configurable in how it answers, so each way a
// provider can cheat or break is one option. It passes the same compliance
// suite as the real provider (test/compliance). Unlike the real provider it
// keeps no journal and never touches the chain.
import { createHash, randomBytes } from "node:crypto";
import {
  AnnounceResponse,
  announceMessage,
  evaluateSpec,
  MAX_MESSAGE_BYTES,
  PROTOCOLS,
  RenderRequest,
  specHash,
  VoucherMessage,
  type JobSpec,
  type RenderDelivered,
  type RenderRequest as RenderRequestMessage,
} from "@rendermesh/shared";
import {
  connectContracts,
  eip712Domain,
  hashVoucher,
  isValidSignatureNow,
  JobStatus,
  readPolicy,
  signAcknowledgement,
  signDelivery,
  verifyAssignment,
  verifyVoucher,
  type Deployment,
} from "@rendermesh/shared/chain";
import { createHeliaSegmentStore, segmentCid, type HeliaSegmentStore } from "@rendermesh/shared/ipfs";
import { encodeSegment } from "@rendermesh/shared/media";
import { createRenderer, defaultModel, type Renderer } from "@rendermesh/shared/model";
import { createMeshNode, handleProtocol, request, type MeshNode } from "@rendermesh/shared/net";
import { createProvenanceIdentity, credentialSegment, type ProvenanceIdentity } from "@rendermesh/shared/provenance";
import { Wallet, type Provider } from "ethers";
import type { PipelineHold } from "./hold.js";
import { tempDir, type TempDir } from "./temp.js";

/**
 * How a test provider answers an assignment. "honest" delivers what was
 * asked; the others are the ways a provider can cheat or break that a
 * coordinator or client must catch:
 * - wrong-cid: the receipt names a CID nobody serves;
 * - wrong-hash: the right file, but the receipt's sha256 is another one;
 * - truncated: half of the file (receipt consistent with it);
 * - wrong-frames: frames rendered with another seed (receipt consistent);
 * - bad-receipt: the receipt is signed by a key other than the provider's;
 * - hang: accepts and never delivers.
 */
export type ProviderMode = "honest" | "wrong-cid" | "wrong-hash" | "truncated" | "wrong-frames" | "bad-receipt" | "hang";

export interface TestProviderInit {
  wallet: Wallet;
  chainId: number;
  escrow: string;
  model: string;
  askPerSecond: bigint;
  mode?: ProviderMode;
  /**
   * "model" (default): frames from the real ONNX model, encoded to H.264 by
   * ffmpeg, as a real provider makes them. "stub": a few deterministic bytes
   * per segment (still added to IPFS and signed), for coordinator tests whose
   * model id is not a real model.
   */
  render?: "model" | "stub";
  /** Capacity it announces (default 2). */
  capacity?: number;
  benchmarkFps?: number;
  /** Milliseconds per frame in "stub" mode, to pace work like a device would (default 0). Never relied on for an outcome. */
  msPerFrame?: number;
  /** Holds each render at its start until the test releases it. */
  hold?: PipelineHold;
  /**
   * The chain to check assignments against, as a provider must (the job
   * exists and is open, its coordinator signed, the spec is the job's and
   * passes the policy). Without it only the signature's form is checked.
   */
  chain?: { provider: Provider; deployment: Deployment };
  /**
   * The first this many vouchers are recorded but never answered: the stream is reset instead of acknowledged, as
   * when an acknowledgement is lost on the way back (default 0).
   */
  dropVoucherAcks?: number;
}

/** A refusal with the protocol's reason code. */
class Refusal extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

let renderer: Promise<Renderer> | undefined;
/** One CPU renderer per test process, shared by its test providers. */
export function sharedRenderer(): Promise<Renderer> {
  renderer ??= createRenderer({ model: defaultModel(), device: "cpu", logger: { info() {}, warn() {}, debug() {} }, threads: 1 });
  return renderer;
}

/** Closes the shared renderer (call in `afterAll` of a file that rendered). */
export async function closeRenderer(): Promise<void> {
  const r = renderer;
  renderer = undefined;
  await (await r)?.close();
}

/** Frames `firstFrame`.. of `spec`, from the shared renderer. */
export async function renderFrames(spec: JobSpec, firstFrame: number, frameCount: number): Promise<Uint8Array[]> {
  const r = await sharedRenderer();
  const frames: Uint8Array[] = [];
  for await (const f of r.renderFrames({ spec, firstFrame, frameCount })) frames.push(f);
  return frames;
}

export const sha256Hex = (bytes: Uint8Array): `0x${string}` => `0x${createHash("sha256").update(bytes).digest("hex")}`;

/** A coordinator's answer to an announcement: an ack or a typed refusal. */
export type AnnounceAnswer = ReturnType<typeof AnnounceResponse.parse>;

export class TestProvider {
  node!: MeshNode;
  store!: HeliaSegmentStore;
  readonly init: TestProviderInit;
  mode: ProviderMode;
  /** Segments delivered, with the receipt's CID. */
  readonly delivered: Array<{ jobId: string; segment: number; cid: string }> = [];
  /** Vouchers received (verified against the job's client). */
  readonly vouchers: Array<{ jobId: string; seconds: number; signer: string }> = [];
  /** The coordinator's answer to the last announcement. */
  lastAnnounce: AnnounceAnswer | undefined;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #deliveries = new Map<string, RenderDelivered>();
  readonly #dir: TempDir = tempDir("rm-test-provider-");
  #identity: Promise<ProvenanceIdentity> | undefined;
  #acksToDrop: number;

  constructor(init: TestProviderInit) {
    this.init = init;
    this.mode = init.mode ?? "honest";
    this.#acksToDrop = init.dropVoucherAcks ?? 0;
  }

  /** Its address, lower-case. */
  get address(): string {
    return this.init.wallet.address.toLowerCase();
  }

  /** Its libp2p peer id. */
  get peerId(): string {
    return this.node.peerId.toString();
  }

  async start(): Promise<void> {
    this.node = await createMeshNode({ listen: ["/ip4/127.0.0.1/tcp/0"] });
    this.store = await createHeliaSegmentStore({ libp2p: this.node, dataDir: this.#dir.dir });
    const domain = eip712Domain(this.init.chainId, this.init.escrow);
    await handleProtocol(
      this.node,
      PROTOCOLS.render,
      async (stream) => {
        const req = await stream.read(RenderRequest);
        const a = req.assignment;
        try {
          await this.#check(req, domain);
        } catch (err) {
          if (!(err instanceof Refusal)) throw err;
          await stream.write({ type: "error", code: err.code, message: err.message });
          return;
        }
        await stream.write({ type: "accepted", jobId: a.jobId, segment: a.segment });
        const done = this.#deliveries.get(`${a.jobId.toLowerCase()}/${a.segment}`);
        if (done) {
          // The same assignment again: the same receipt, never a second different one.
          await stream.write(done);
          return;
        }
        if (this.mode === "hang") await new Promise(() => undefined);
        await this.init.hold?.pass({ firstFrame: a.firstFrame, frameCount: a.frameCount, seed: req.spec.seed });
        let bytes = await this.#segment(req.spec, a.firstFrame, a.frameCount);
        if (this.init.render !== "stub") {
          // As a real provider does: its own Content Credentials, before hashing (the segment is then an ingredient of the video).
          this.#identity ??= createProvenanceIdentity(this.init.wallet);
          const segment = {
            chainId: this.init.chainId,
            escrow: this.init.escrow,
            jobId: a.jobId,
            segment: a.segment,
            firstFrame: a.firstFrame,
            frameCount: a.frameCount,
            model: req.spec.model,
          };
          bytes = await credentialSegment({ mp4: bytes, identity: await this.#identity, segment });
        }
        await stream.write({ type: "progress", jobId: a.jobId, segment: a.segment, framesDone: a.frameCount, frameCount: a.frameCount });
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
        const signer = this.mode === "bad-receipt" ? Wallet.createRandom() : this.init.wallet;
        const signature = await signDelivery(signer, domain, delivery);
        const msg: RenderDelivered = { type: "delivered", delivery, signature, multiaddrs: this.node.getMultiaddrs().map(String) };
        this.delivered.push({ jobId: a.jobId, segment: a.segment, cid: receiptCid });
        this.#deliveries.set(`${a.jobId.toLowerCase()}/${a.segment}`, msg);
        await stream.write(msg);
      },
      { timeout: 0, maxStreamsPerPeer: 64, maxMessageBytes: MAX_MESSAGE_BYTES },
    );
    await handleProtocol(
      this.node,
      PROTOCOLS.voucher,
      async (stream) => {
        const m = await stream.read(VoucherMessage);
        const signer = await this.#voucherSigner(domain, m);
        if (!signer) {
          await stream.write({ type: "error", code: "BAD_SIGNATURE", message: "The voucher is not signed by the job's client." });
          return;
        }
        this.vouchers.push({ jobId: m.voucher.jobId, seconds: m.voucher.seconds, signer });
        if (this.#acksToDrop > 0) {
          this.#acksToDrop--;
          stream.abort(new Error("the acknowledgement was lost"));
          return;
        }
        // As a real provider does: acknowledge the voucher's seconds (what a cooperative settle needs).
        const acknowledgement = await signAcknowledgement(this.init.wallet, domain, {
          jobId: m.voucher.jobId,
          provider: this.address,
          seconds: m.voucher.seconds,
        });
        await stream.write({ type: "voucher-ack", jobId: m.voucher.jobId, seconds: m.voucher.seconds, acknowledgement });
      },
      { maxMessageBytes: MAX_MESSAGE_BYTES },
    );
  }

  /**
   * Who signed the voucher, as the escrow will judge it. With `chain`: the job's client, if the signature is valid
   * for it by ECDSA or, for a contract wallet (a Safe, an ERC-4337 account), by its ERC-1271 `isValidSignature`;
   * else undefined (refused). Without `chain`: the ECDSA signer, whoever it is (only the form is checked).
   */
  async #voucherSigner(domain: ReturnType<typeof eip712Domain>, m: VoucherMessage): Promise<string | undefined> {
    if (!this.init.chain) return verifyVoucher(domain, m.voucher, m.signature);
    const contracts = connectContracts(this.init.chain.provider, this.init.chain.deployment);
    const client = String((await contracts.escrow.getJob(m.voucher.jobId)).client);
    const ok = await isValidSignatureNow(this.init.chain.provider, client, hashVoucher(domain, m.voucher), m.signature);
    return ok ? client : undefined;
  }

  /** The checks a provider makes before it renders, each refusal with its reason code. */
  async #check(req: RenderRequestMessage, domain: ReturnType<typeof eip712Domain>): Promise<void> {
    const a = req.assignment;
    if (req.chainId !== this.init.chainId || req.escrow.toLowerCase() !== this.init.escrow.toLowerCase()) {
      throw new Refusal("WRONG_CHAIN", `This provider serves escrow ${this.init.escrow} on chain ${this.init.chainId}.`);
    }
    if (a.provider.toLowerCase() !== this.address)
      throw new Refusal("BAD_MESSAGE", `The assignment is for ${a.provider}, not ${this.address}.`);
    if (a.deadline <= Math.floor(Date.now() / 1000)) throw new Refusal("ASSIGNMENT_EXPIRED", "The assignment's deadline has passed.");
    if (req.spec.model.toLowerCase() !== this.init.model.toLowerCase())
      throw new Refusal("MODEL_NOT_SERVED", `This provider does not serve model ${req.spec.model}.`);
    let signer: string;
    try {
      signer = verifyAssignment(domain, a, req.signature).toLowerCase();
    } catch {
      throw new Refusal("BAD_SIGNATURE", "The assignment's signature does not verify.");
    }
    if (!this.init.chain) return;
    const contracts = connectContracts(this.init.chain.provider, this.init.chain.deployment);
    const job = await contracts.escrow.getJob(a.jobId);
    if (Number(job.status) === JobStatus.None) throw new Refusal("UNKNOWN_JOB", `Job ${a.jobId} does not exist.`);
    if (signer !== String(job.coordinator).toLowerCase())
      throw new Refusal("BAD_SIGNATURE", `The assignment is not signed by the job's coordinator ${job.coordinator}.`);
    if (Number(job.status) !== JobStatus.Open) throw new Refusal("JOB_NOT_OPEN", `Job ${a.jobId} is not open.`);
    if (specHash(req.spec).toLowerCase() !== String(job.specHash).toLowerCase())
      throw new Refusal("SPEC_HASH_MISMATCH", "The spec is not the one the job was opened with.");
    const violation = evaluateSpec(req.spec, await readPolicy(contracts.policy))[0];
    if (violation) throw new Refusal(violation.code, violation.message);
  }

  async #segment(spec: JobSpec, firstFrame: number, frameCount: number): Promise<Uint8Array> {
    if (this.init.render === "stub") {
      for (let f = 0; f < frameCount && this.init.msPerFrame; f++) await new Promise((r) => setTimeout(r, this.init.msPerFrame));
      return createHash("sha256").update(`${spec.prompt}:${spec.seed}:${firstFrame}:${frameCount}:${this.mode}`).digest();
    }
    const frames = await renderFrames(
      this.mode === "wrong-frames" ? { ...spec, seed: (spec.seed + 1) >>> 0 } : spec,
      firstFrame,
      frameCount,
    );
    return encodeSegment(frames, spec);
  }

  /**
   * Announces to the coordinator at `multiaddr` now and every `intervalMs`;
   * returns the first answer. A function is asked each time (a coordinator
   * restarted on a new port).
   */
  async announceTo(target: string | (() => string), intervalMs = 1000): Promise<AnnounceAnswer> {
    const once = async () => {
      const multiaddr = typeof target === "string" ? target : target();
      const timestamp = Date.now();
      const address = this.address;
      const signature = (await this.init.wallet.signMessage(announceMessage(this.peerId, address, timestamp))) as `0x${string}`;
      this.lastAnnounce = await request(
        this.node,
        multiaddr,
        PROTOCOLS.announce,
        {
          type: "announce",
          address,
          models: [this.init.model],
          askPerSecond: this.init.askPerSecond.toString(),
          capacity: this.init.capacity ?? 2,
          benchmarkFps: this.init.benchmarkFps ?? 200,
          device: "cpu",
          active: 0,
          agent: `test-provider/${this.mode}`,
          timestamp,
          signature,
        },
        AnnounceResponse,
        { timeout: 10_000 },
      );
      return this.lastAnnounce;
    };
    const first = await once();
    this.#timers.push(setInterval(() => void once().catch(() => undefined), intervalMs));
    return first;
  }

  /** Stops announcing (the coordinator then considers it gone after its liveness window). */
  silence(): void {
    for (const t of this.#timers.splice(0)) clearInterval(t);
  }

  /** Seconds the voucher of `jobId` received last says this provider is owed. */
  voucherSeconds(jobId: string): number {
    return Math.max(0, ...this.vouchers.filter((v) => v.jobId.toLowerCase() === jobId.toLowerCase()).map((v) => v.seconds));
  }

  async stop(): Promise<void> {
    this.silence();
    await this.store?.stop().catch(() => undefined);
    await this.node?.stop();
    this.#dir.cleanup();
  }
}
