import { answerRefusal, MAX_MESSAGE_BYTES, PROTOCOLS, VoucherMessage, type Logger } from "@rendermesh/shared";
import { handleProtocol, type MeshNode, type ProtocolRegistration } from "@rendermesh/shared/net";
import type { VoucherService } from "./service.js";

export const VOUCHER_PROTOCOL = PROTOCOLS.voucher;

/** Serves `/rendermesh/voucher`: one VoucherMessage in, one `voucher-ack` or `error` out. */
export async function serveVouchers(c: {
  node: Pick<MeshNode, "handle" | "unhandle">;
  service: VoucherService;
  logger: Logger;
}): Promise<ProtocolRegistration> {
  return handleProtocol(
    c.node,
    VOUCHER_PROTOCOL,
    async (stream, context) => {
      const message = await stream.read(VoucherMessage);
      try {
        await stream.write(await c.service.handle(message, { peer: context.remotePeer.toString() }));
      } catch (err) {
        await answerRefusal(stream, err);
      }
    },
    { maxMessageBytes: MAX_MESSAGE_BYTES, logger: c.logger },
  );
}
