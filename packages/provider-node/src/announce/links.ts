import { withDeadline } from "@rendermesh/shared/net";
import {
  announceMessage,
  reasonSentence,
  REASON_CODES,
  type AnnounceAck,
  type Logger,
  type ProviderAnnounce,
  type ReasonCode,
} from "@rendermesh/shared";
import type { ProviderMetrics } from "../metrics.js";
import { ANNOUNCE_RETRY_MAX_MS, ANNOUNCE_RETRY_MIN_MS, ANNOUNCE_TIMEOUT_MS, DEFAULT_HEARTBEAT_MS } from "./constants.js";

/** What a provider advertises, besides the signed envelope. */
export type Capabilities = Pick<
  ProviderAnnounce,
  "address" | "models" | "askPerSecond" | "capacity" | "benchmarkFps" | "device" | "active" | "agent"
>;

/** The wire message before zod (bigints are sent as decimal strings by the codec). */
export type AnnounceWire = Omit<ProviderAnnounce, "askPerSecond"> & { askPerSecond: bigint | string };

/** The events a libp2p node emits that the links follow. */
export interface PeerEvents {
  addEventListener(type: "peer:disconnect" | "peer:connect", listener: (event: CustomEvent<{ toString(): string }>) => void): void;
  removeEventListener(type: "peer:disconnect" | "peer:connect", listener: (event: CustomEvent<{ toString(): string }>) => void): void;
}

export interface CoordinatorLinksComponents {
  /** This node's libp2p peer id, as a string. */
  peerId: string;
  events: PeerEvents;
  /** One announce request/response to the coordinator at `multiaddr`. */
  announce(multiaddr: string, message: AnnounceWire, options: { signal: AbortSignal }): Promise<AnnounceAck>;
  /** EIP-191 signature of `text` by the provider's key. */
  signMessage(text: string): Promise<string>;
  capabilities(): Capabilities;
  logger: Logger;
  metrics?: ProviderMetrics | undefined;
}

export interface CoordinatorLinksInit {
  coordinators: readonly string[];
  retryMinMs?: number;
  retryMaxMs?: number;
  timeoutMs?: number;
}

export interface LinkStatus {
  multiaddr: string;
  peerId: string | undefined;
  /** True while the last announcement was acknowledged and no disconnect has been seen since. */
  live: boolean;
  coordinator: string | undefined;
  lastAckAt: number | undefined;
  announcements: number;
  failures: number;
  lastError: string | undefined;
}

interface Link extends LinkStatus {
  wake: AbortController;
  heartbeatMs: number;
  loop: Promise<void> | undefined;
}

const peerOf = (addr: string) => /\/p2p\/([^/]+)/.exec(addr)?.[1];

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Keeps this provider announced to each configured coordinator: announces
 * at start, again every heartbeat the coordinator asks for (which keeps the
 * connection alive and the directory fresh), at once after a disconnect
 * (dialling again), and with exponential back-off while a coordinator is
 * unreachable or refuses.
 */
export class CoordinatorLinks {
  readonly #c: CoordinatorLinksComponents;
  readonly #links: Link[];
  readonly #retryMin: number;
  readonly #retryMax: number;
  readonly #timeout: number;
  readonly #stopping = new AbortController();
  readonly #waiters = new Set<() => void>();
  #onDisconnect = (event: CustomEvent<{ toString(): string }>) => {
    const peer = event.detail.toString();
    for (const link of this.#links) {
      if (link.peerId !== peer) continue;
      if (link.live) this.#c.logger.info({ coordinator: link.multiaddr }, "coordinator disconnected; re-announcing");
      link.live = false;
      link.wake.abort();
    }
    this.#updateGauge();
  };

  constructor(components: CoordinatorLinksComponents, init: CoordinatorLinksInit) {
    this.#c = components;
    this.#retryMin = init.retryMinMs ?? ANNOUNCE_RETRY_MIN_MS;
    this.#retryMax = init.retryMaxMs ?? ANNOUNCE_RETRY_MAX_MS;
    this.#timeout = init.timeoutMs ?? ANNOUNCE_TIMEOUT_MS;
    this.#links = init.coordinators.map((multiaddr) => ({
      multiaddr,
      peerId: peerOf(multiaddr),
      live: false,
      coordinator: undefined,
      lastAckAt: undefined,
      announcements: 0,
      failures: 0,
      lastError: undefined,
      wake: new AbortController(),
      heartbeatMs: DEFAULT_HEARTBEAT_MS,
      loop: undefined,
    }));
  }

  start(): void {
    this.#c.events.addEventListener("peer:disconnect", this.#onDisconnect);
    for (const link of this.#links) link.loop = this.#run(link);
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    for (const link of this.#links) link.wake.abort();
    this.#c.events.removeEventListener("peer:disconnect", this.#onDisconnect);
    await Promise.allSettled(this.#links.map((l) => l.loop));
    for (const w of this.#waiters) w();
  }

  /** Announces to every coordinator now, instead of at the next heartbeat (e.g. after capacity changed). */
  announceNow(): void {
    for (const link of this.#links) link.wake.abort();
  }

  status(): LinkStatus[] {
    return this.#links.map(({ multiaddr, peerId, live, coordinator, lastAckAt, announcements, failures, lastError }) => ({
      multiaddr,
      peerId,
      live,
      coordinator,
      lastAckAt,
      announcements,
      failures,
      lastError,
    }));
  }

  /** The coordinator address a peer proved in its announce ack, if it is one of ours. */
  coordinatorOf(peerId: string): string | undefined {
    return this.#links.find((l) => l.peerId === peerId)?.coordinator;
  }

  /** Resolves once every coordinator has acknowledged at least `count` announcements in total per link. */
  async waitForAnnouncements(count = 1, signal?: AbortSignal): Promise<void> {
    while (!this.#links.every((l) => l.announcements >= count)) {
      signal?.throwIfAborted();
      if (this.#stopping.signal.aborted) throw new Error("coordinator links stopped");
      await new Promise<void>((resolve) => {
        this.#waiters.add(resolve);
        signal?.addEventListener("abort", () => resolve(), { once: true });
      });
    }
  }

  async #run(link: Link): Promise<void> {
    const log = this.#c.logger.child({ coordinator: link.multiaddr });
    while (!this.#stopping.signal.aborted) {
      let delay: number;
      link.wake = new AbortController();
      try {
        const ack = await this.#announceOnce(link);
        const wasLive = link.live;
        link.live = true;
        link.coordinator = ack.coordinator;
        link.heartbeatMs = ack.heartbeatIntervalMs;
        link.lastAckAt = Date.now();
        link.announcements++;
        link.failures = 0;
        link.lastError = undefined;
        if (!wasLive)
          log.info(
            { address: ack.coordinator, heartbeatMs: ack.heartbeatIntervalMs, policyVersion: String(ack.policyVersion) },
            "announced to coordinator",
          );
        delay = ack.heartbeatIntervalMs;
      } catch (err) {
        if (this.#stopping.signal.aborted) break;
        link.live = false;
        link.failures++;
        const code = (err as { code?: string }).code;
        const known = code !== undefined && (REASON_CODES as readonly string[]).includes(code);
        link.lastError = known
          ? reasonSentence(code as ReasonCode, (err as Error & { shortMessage?: string }).shortMessage)
          : (err as Error).message;
        delay = Math.min(this.#retryMax, this.#retryMin * 2 ** Math.min(link.failures - 1, 16));
        delay = Math.round(delay * (0.75 + Math.random() * 0.5));
        (link.failures === 1 || link.failures % 10 === 0 ? log.warn.bind(log) : log.debug.bind(log))(
          { failures: link.failures, retryInMs: delay, reason: link.lastError },
          "announce failed",
        );
      }
      this.#updateGauge();
      for (const w of this.#waiters) w();
      this.#waiters.clear();
      const wake = link.wake.signal;
      // A fresh signal per nap, detached afterwards: AbortSignal.any on the
      // long-lived stopping signal would pile up one dependent per heartbeat.
      await withDeadline({}, 0, (signal) => sleep(delay, signal), wake, this.#stopping.signal);
      // A wake-up right after a disconnect: give the transport a moment, then dial again.
      if (wake.aborted && !this.#stopping.signal.aborted) await sleep(Math.min(this.#retryMin, 250), this.#stopping.signal);
    }
  }

  async #announceOnce(link: Link): Promise<AnnounceAck> {
    const caps = this.#c.capabilities();
    const timestamp = Date.now();
    const signature = await this.#c.signMessage(announceMessage(this.#c.peerId, caps.address, timestamp));
    const message: AnnounceWire = { type: "announce", ...caps, timestamp, signature: signature as `0x${string}` };
    return withDeadline(
      { timeout: this.#timeout },
      this.#timeout,
      (signal) => this.#c.announce(link.multiaddr, message, { signal }),
      this.#stopping.signal,
    );
  }

  #updateGauge(): void {
    this.#c.metrics?.coordinatorsConnected.set(this.#links.filter((l) => l.live).length);
  }
}
