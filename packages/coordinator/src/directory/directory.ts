import { verifyMessage, ZeroAddress } from "ethers";
import { announceMessage, type Logger, type ProviderAnnounce } from "@rendermesh/shared";
import type { ChainView } from "../chain/types.js";
import { RefusalError } from "../errors.js";
import type { CoordinatorStore, ProviderRow } from "../store/index.js";

/** A registered, staked provider that announced itself recently. */
export interface LiveProvider {
  address: string;
  peerId: string;
  /** Max of its on-chain ask and its announced ask. */
  ask: bigint;
  models: ReadonlySet<string>;
  capacity: number;
  benchmarkFps: number;
  device: string;
  agent: string;
  multiaddrs: string[];
  lastSeen: number;
  /** Reference frames/s per render slot: measured when known, else benchmark ÷ capacity. */
  speedFps: number;
  reliability: number;
}

export interface DirectoryInit {
  /** How old an announcement's timestamp may be (ms, default 60 s, either way). */
  maxClockSkewMs?: number;
  /** A provider silent for this long is dropped (default 3 heartbeats). */
  livenessMs?: number;
  /** How long an on-chain binding is trusted before it is read again (default 30 s; registry events invalidate it sooner). */
  bindingTtlMs?: number;
  /**
   * How long an expired binding's re-read may take before the last known one
   * is used instead (default 3 s): a chain that stalls is the chain's fault,
   * and its providers stay live on what the chain last said.
   */
  chainWaitMs?: number;
  /** On-chain bindings kept at most (least recently used go first; default 4096): strangers' peer ids cannot grow the cache. */
  maxBindings?: number;
  now?: () => number;
}

export interface DirectoryComponents {
  store: CoordinatorStore;
  chain: ChainView;
  log: Logger;
}

interface Binding {
  address: string;
  active: boolean;
  ask: bigint;
  models: string[];
  checkedAt: number;
}

/**
 * The provider directory: on-chain registrations (registry reads, refreshed
 * by registry events) joined with live announcements. A peer is admitted
 * only if its announcement is signed by the address the registry binds its
 * peer id to, and that address is registered and staked.
 */
export class ProviderDirectory {
  private readonly live = new Map<string, LiveProvider>();
  private readonly byPeer = new Map<string, string>();
  private readonly bindings = new Map<string, Binding>();
  private readonly now: () => number;
  readonly livenessMs: number;
  private readonly maxClockSkewMs: number;
  private readonly bindingTtlMs: number;
  private readonly maxBindings: number;
  private readonly chainWaitMs: number;

  constructor(
    private readonly components: DirectoryComponents,
    init: DirectoryInit = {},
  ) {
    this.now = init.now ?? Date.now;
    this.livenessMs = init.livenessMs ?? 15_000;
    this.maxClockSkewMs = init.maxClockSkewMs ?? 60_000;
    this.bindingTtlMs = init.bindingTtlMs ?? 30_000;
    this.maxBindings = init.maxBindings ?? 4096;
    this.chainWaitMs = init.chainWaitMs ?? 3_000;
  }

  /** On-chain bindings cached now (never more than `maxBindings`). */
  get cachedBindings(): number {
    return this.bindings.size;
  }

  /**
   * Checks an announcement from `peerId` and records the provider as live.
   * Throws RefusalError BAD_SIGNATURE, NOT_REGISTERED or PEER_MISMATCH.
   */
  async admit(
    msg: ProviderAnnounce,
    peerId: string,
    peerIdBytes: Uint8Array,
    multiaddrs: string[],
    options: { signal?: AbortSignal } = {},
  ): Promise<LiveProvider> {
    const now = this.now();
    if (Math.abs(now - msg.timestamp) > this.maxClockSkewMs) {
      throw new RefusalError(
        "BAD_SIGNATURE",
        `The announcement's timestamp is ${Math.round((now - msg.timestamp) / 1000)} s off this node's clock.`,
        {
          hint: "Sync the provider's clock (NTP).",
        },
      );
    }
    let signer: string;
    try {
      signer = verifyMessage(announceMessage(peerId, msg.address, msg.timestamp), msg.signature).toLowerCase();
    } catch (cause) {
      throw new RefusalError("BAD_SIGNATURE", "The announcement's signature is not a valid signature.", { cause });
    }
    const address = msg.address.toLowerCase();
    if (signer !== address) throw new RefusalError("BAD_SIGNATURE", `The announcement is signed by ${signer}, not by ${address}.`);

    const binding = await this.binding(peerId, peerIdBytes, options);
    if (binding.address === ZeroAddress.toLowerCase()) {
      const reg = await this.components.chain.getProvider(address, options);
      if (reg.registered) {
        throw new RefusalError("PEER_MISMATCH", `Peer ${peerId} is not the peer id registered for ${address}.`);
      }
      throw new RefusalError("NOT_REGISTERED", `Peer ${peerId} is not bound on-chain to any provider.`);
    }
    if (binding.address !== address) {
      throw new RefusalError("PEER_MISMATCH", `Peer ${peerId} is registered to ${binding.address}, not to ${address}.`);
    }
    if (!binding.active) {
      throw new RefusalError(
        "NOT_REGISTERED",
        `Provider ${address} is not active (not registered, or its stake is below the policy minimum).`,
      );
    }

    const previousPeer = this.live.get(address)?.peerId;
    if (previousPeer && previousPeer !== peerId) this.byPeer.delete(previousPeer);
    const row = this.components.store.upsertProvider({
      address,
      peerId,
      ask: binding.ask > msg.askPerSecond ? binding.ask : msg.askPerSecond,
      // Only models it both registered and announces.
      models: msg.models.filter((m) => binding.models.includes(m.toLowerCase())).map((m) => m.toLowerCase()),
      capacity: msg.capacity,
      benchmarkFps: msg.benchmarkFps,
      device: msg.device,
      agent: msg.agent,
      multiaddrs,
      lastSeen: now,
    });
    const live = toLive(row);
    this.live.set(address, live);
    this.byPeer.set(peerId, address);
    return live;
  }

  /** Re-reads the binding of this address at its next announcement (a registry event changed it). */
  invalidate(address: string): void {
    const a = address.toLowerCase();
    for (const [peer, b] of this.bindings) if (b.address === a) this.bindings.delete(peer);
    const live = this.live.get(a);
    if (live) this.bindings.delete(live.peerId);
  }

  /** Folds fresh measurements (speed, reliability) from the store into a live provider. */
  refresh(address: string): void {
    const live = this.live.get(address);
    const row = this.components.store.provider(address);
    if (live && row) {
      live.speedFps = speedOf(row);
      live.reliability = row.reliability;
    }
  }

  /** Drops a provider (disconnected, silent, or deregistered); returns it if it was live. */
  drop(address: string): LiveProvider | undefined {
    const live = this.live.get(address);
    if (!live) return undefined;
    this.live.delete(address);
    this.byPeer.delete(live.peerId);
    return live;
  }

  /** A live provider showed it works (render progress, a delivery): that counts as hearing from it. */
  touch(address: string): void {
    const live = this.live.get(address.toLowerCase());
    if (live) live.lastSeen = Math.max(live.lastSeen, this.now());
  }

  /** Drops every provider not heard from within the liveness window; returns their addresses. */
  expire(): string[] {
    const cutoff = this.now() - this.livenessMs;
    const out: string[] = [];
    for (const [address, p] of this.live) {
      if (p.lastSeen < cutoff) {
        this.drop(address);
        out.push(address);
      }
    }
    return out;
  }

  get(address: string): LiveProvider | undefined {
    return this.live.get(address.toLowerCase());
  }

  addressOfPeer(peerId: string): string | undefined {
    return this.byPeer.get(peerId);
  }

  liveProviders(): LiveProvider[] {
    return [...this.live.values()];
  }

  get size(): number {
    return this.live.size;
  }

  private async binding(peerId: string, peerIdBytes: Uint8Array, options: { signal?: AbortSignal }): Promise<Binding> {
    const cached = this.bindings.get(peerId);
    const now = this.now();
    if (cached) {
      // Re-inserted on every use, so the Map's order is least recently used first.
      this.bindings.delete(peerId);
      if (now - cached.checkedAt < this.bindingTtlMs) {
        this.bindings.set(peerId, cached);
        return cached;
      }
    }
    const lookup = this.lookup(peerId, peerIdBytes, now, options);
    if (!cached) return lookup;
    // An expired binding is re-read, but a chain that does not answer (stalled, or its RPC down) leaves the
    // provider on its last known binding instead of failing its announcement: otherwise every provider would be
    // dropped as "stopped announcing" for the chain's fault. The re-read goes on and refreshes the cache when it lands.
    lookup.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const slow = new Promise<"slow">((resolve) => (timer = setTimeout(() => resolve("slow"), this.chainWaitMs)));
    const outcome = await Promise.race([
      lookup.then(
        (b) => ({ b }),
        (err: unknown) => ({ err }),
      ),
      slow,
    ]);
    clearTimeout(timer);
    if (outcome !== "slow" && "b" in outcome) return outcome.b;
    if (!this.bindings.has(peerId)) this.bindings.set(peerId, cached);
    this.components.log.warn(
      {
        provider: cached.address,
        peerId,
        bindingAgeMs: now - cached.checkedAt,
        reason: outcome === "slow" ? `no answer within ${this.chainWaitMs} ms` : String((outcome.err as Error)?.message ?? outcome.err),
      },
      "the chain does not answer; keeping the provider on its last known on-chain binding",
    );
    return cached;
  }

  /** Reads a peer's binding from the registry and caches it. */
  private async lookup(peerId: string, peerIdBytes: Uint8Array, now: number, options: { signal?: AbortSignal }): Promise<Binding> {
    const { chain } = this.components;
    const address = (await chain.providerOfPeer(peerIdBytes, options)).toLowerCase();
    let b: Binding = { address, active: false, ask: 0n, models: [], checkedAt: now };
    if (address !== ZeroAddress.toLowerCase()) {
      const [active, reg] = await Promise.all([chain.isActive(address, options), chain.getProvider(address, options)]);
      b = { address, active, ask: reg.askPerSecond, models: reg.models.map((m) => m.toLowerCase()), checkedAt: now };
    }
    this.bindings.set(peerId, b);
    while (this.bindings.size > this.maxBindings) this.bindings.delete(this.bindings.keys().next().value!);
    return b;
  }
}

function speedOf(row: ProviderRow): number {
  return row.speedFps ?? Math.max(1e-6, row.benchmarkFps / Math.max(1, row.capacity));
}

function toLive(row: ProviderRow): LiveProvider {
  return {
    address: row.address,
    peerId: row.peerId,
    ask: row.ask,
    models: new Set(row.models),
    capacity: row.capacity,
    benchmarkFps: row.benchmarkFps,
    device: row.device,
    agent: row.agent,
    multiaddrs: row.multiaddrs,
    lastSeen: row.lastSeen,
    speedFps: speedOf(row),
    reliability: row.reliability,
  };
}
