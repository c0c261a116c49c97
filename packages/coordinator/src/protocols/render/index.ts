import { peerIdFromString } from "@libp2p/peer-id";
import { MAX_MESSAGE_BYTES, RenderResponse, type Logger, type RenderDelivered, type RenderRequest } from "@rendermesh/shared";
import { openProtocolStream, type ProtocolDialer } from "@rendermesh/shared/net";
import { RenderError } from "../../errors.js";
import type { RenderDispatcher } from "../../supervisor/index.js";
import { DIAL_TIMEOUT, MAX_OUTBOUND_STREAMS, PROTOCOL } from "./constants.js";

export interface RenderClientComponents {
  node: ProtocolDialer;
  log: Logger;
}

/**
 * `/rendermesh/render`, the coordinator's side: sends one signed assignment
 * and follows the provider's accepted → progress → delivered messages until
 * the delivery, an error, the end of the stream or the signal.
 */
export class RenderClient implements RenderDispatcher {
  constructor(private readonly components: RenderClientComponents) {}

  async render(
    target: { peerId: string; multiaddrs: string[] },
    request: RenderRequest,
    events: { onProgress?: (framesDone: number, frameCount: number) => void },
    options: { signal: AbortSignal },
  ): Promise<RenderDelivered> {
    const peer = peerIdFromString(target.peerId);
    const stream = await openProtocolStream(this.components.node, peer, PROTOCOL, {
      signal: options.signal,
      timeout: DIAL_TIMEOUT,
      maxMessageBytes: MAX_MESSAGE_BYTES,
      maxOutboundStreams: MAX_OUTBOUND_STREAMS,
      messageTimeout: 0,
    });
    try {
      await stream.write(request, { signal: options.signal, timeout: 0 });
      for (;;) {
        const msg = await stream.read(RenderResponse, { signal: options.signal, timeout: 0 });
        if (msg.type === "accepted") continue;
        if (msg.type === "progress") {
          if (msg.segment === request.assignment.segment) events.onProgress?.(msg.framesDone, msg.frameCount);
          continue;
        }
        if (msg.type === "delivered") {
          await stream.close({ timeout: 2_000 }).catch(() => undefined);
          return msg;
        }
        throw new RenderError(msg.code, `The provider refused the segment: ${msg.message}`);
      }
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }
}
