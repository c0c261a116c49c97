import { answerRefusal, MAX_MESSAGE_BYTES, SegmentVerdict, type Logger } from "@rendermesh/shared";
import { handleProtocol, type ProtocolHost, type ProtocolRegistration } from "@rendermesh/shared/net";
import { MAX_STREAMS_PER_PEER, PROTOCOL, TIMEOUT } from "./constants.js";

export interface ReportInit {
  maxStreamsPerPeer?: number;
  timeout?: number;
}

export interface ReportComponents {
  node: ProtocolHost;
  /** Applies a verdict from `peer`; throws RefusalError (`NOT_JOB_CLIENT` unless it comes from the job's client). */
  verdict: (v: SegmentVerdict, peer: string, options: { signal: AbortSignal }) => Promise<void>;
  log: Logger;
}

/** `/rendermesh/report`: the client's verdict on one delivered segment → VerdictAck or an error. */
export class ReportService {
  private registration: ProtocolRegistration | undefined;
  constructor(
    private readonly components: ReportComponents,
    private readonly init: ReportInit = {},
  ) {}

  async start(): Promise<void> {
    this.registration = await handleProtocol(
      this.components.node,
      PROTOCOL,
      async (stream, ctx) => {
        const v = await stream.read(SegmentVerdict);
        try {
          await this.components.verdict(v, ctx.remotePeer.toString(), { signal: ctx.signal });
          await stream.write({ type: "verdict-ack", jobId: v.jobId, segment: v.segment });
        } catch (err) {
          await answerRefusal(stream, err);
        }
      },
      {
        timeout: this.init.timeout ?? TIMEOUT,
        maxStreamsPerPeer: this.init.maxStreamsPerPeer ?? MAX_STREAMS_PER_PEER,
        maxMessageBytes: MAX_MESSAGE_BYTES,
        logger: this.components.log,
      },
    );
  }

  async stop(): Promise<void> {
    await this.registration?.unhandle();
    this.registration = undefined;
  }
}
