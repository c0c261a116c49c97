import { answerRefusal, MAX_MESSAGE_BYTES, ProviderAnnounce, type AnnounceAck, type Logger } from "@rendermesh/shared";
import { handleProtocol, peerIdBytes, type ProtocolHost, type ProtocolRegistration } from "@rendermesh/shared/net";
import type { ChainView } from "../../chain/types.js";
import type { ProviderDirectory } from "../../directory/index.js";
import { MAX_STREAMS_PER_PEER, PROTOCOL, TIMEOUT } from "./constants.js";
import { dialableAddrs, type DialableAddrsNode } from "./dialable.js";

export interface AnnounceInit {
  heartbeatIntervalMs?: number;
  maxStreamsPerPeer?: number;
  timeout?: number;
}

export interface AnnounceComponents {
  node: ProtocolHost & DialableAddrsNode;
  directory: ProviderDirectory;
  chain: Pick<ChainView, "chainId" | "escrow" | "coordinator">;
  policyVersion: () => bigint;
  /** Called after a provider was admitted (or re-admitted). */
  onAdmitted: (address: string) => void;
  log: Logger;
}

/**
 * `/rendermesh/announce`: a provider announces itself every heartbeat; the
 * announcement is its heartbeat. Admitted only if signed by the address the
 * registry binds the sender's peer id to, and that address is staked.
 */
export class AnnounceService {
  private registration: ProtocolRegistration | undefined;
  constructor(
    private readonly components: AnnounceComponents,
    private readonly init: AnnounceInit = {},
  ) {}

  async start(): Promise<void> {
    const { directory, chain, log } = this.components;
    const heartbeatIntervalMs = this.init.heartbeatIntervalMs ?? 5_000;
    this.registration = await handleProtocol(
      this.components.node,
      PROTOCOL,
      async (stream, ctx) => {
        const msg = await stream.read(ProviderAnnounce);
        const peer = ctx.remotePeer.toString();
        try {
          // Listed (on /api/providers, to clients and arbiters) and dialled at the addresses it listens on.
          const multiaddrs = await dialableAddrs(this.components.node, ctx.remotePeer, ctx.connection, { signal: ctx.signal });
          const live = await directory.admit(msg, peer, peerIdBytes(ctx.remotePeer), multiaddrs, {
            signal: ctx.signal,
          });
          const ack: AnnounceAck = {
            type: "announce-ack",
            coordinator: chain.coordinator as `0x${string}`,
            chainId: chain.chainId,
            escrow: chain.escrow as `0x${string}`,
            policyVersion: this.components.policyVersion(),
            heartbeatIntervalMs,
          };
          await stream.write(ack);
          this.components.onAdmitted(live.address);
        } catch (err) {
          log.info({ peer, address: msg.address, err: (err as Error).message }, "announcement refused");
          await answerRefusal(stream, err);
        }
      },
      {
        timeout: this.init.timeout ?? TIMEOUT,
        maxStreamsPerPeer: this.init.maxStreamsPerPeer ?? MAX_STREAMS_PER_PEER,
        maxMessageBytes: MAX_MESSAGE_BYTES,
        logger: log,
      },
    );
  }

  async stop(): Promise<void> {
    await this.registration?.unhandle();
    this.registration = undefined;
  }
}
