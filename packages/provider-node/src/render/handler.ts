import { MAX_MESSAGE_BYTES, RenderRequest, type Logger } from "@rendermesh/shared";
import { handleProtocol, type MeshNode, type ProtocolRegistration } from "@rendermesh/shared/net";
import { RENDER_MAX_STREAMS_PER_PEER, RENDER_PROTOCOL, RENDER_REQUEST_TIMEOUT_MS } from "./constants.js";
import type { RenderService } from "./service.js";

export interface RenderHandlerComponents {
  node: Pick<MeshNode, "handle" | "unhandle">;
  service: RenderService;
  /** The coordinator address a peer proved by announcing, if it is one of ours. */
  coordinatorOf(peerId: string): string | undefined;
  logger: Logger;
}

/**
 * Serves `/rendermesh/render`: reads one RenderRequest, then streams
 * `accepted`, `progress`…, and `delivered` (or one `error` with a reason
 * code) on the same stream. The stream has no overall deadline (rendering
 * takes what it takes, bounded by the assignment); a reset by the
 * coordinator on a live connection gives the segment back, a connection lost
 * with the coordinator (a crash) lets the render finish for it to ask again.
 */
export async function serveRender(c: RenderHandlerComponents): Promise<ProtocolRegistration> {
  return handleProtocol(
    c.node,
    RENDER_PROTOCOL,
    async (stream, context) => {
      const request = await stream.read(RenderRequest, { timeout: RENDER_REQUEST_TIMEOUT_MS });
      const gone = new AbortController();
      const onClose = () => gone.abort(new Error("render stream closed"));
      stream.stream.addEventListener("close", onClose, { once: true });
      const signal = AbortSignal.any([gone.signal, context.signal]);
      try {
        const peer = context.remotePeer.toString();
        await c.service.handle(
          request,
          {
            send: async (message) => {
              if (signal.aborted) throw new Error("render stream closed");
              await stream.write(message, { timeout: 30_000 });
            },
            signal,
            peerConnected: () => context.connection.status === "open",
          },
          { peer, coordinator: c.coordinatorOf(peer) },
        );
      } finally {
        stream.stream.removeEventListener("close", onClose);
      }
    },
    { timeout: 0, maxStreamsPerPeer: RENDER_MAX_STREAMS_PER_PEER, maxMessageBytes: MAX_MESSAGE_BYTES, logger: c.logger },
  );
}
