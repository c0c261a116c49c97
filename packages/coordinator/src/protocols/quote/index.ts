import { answerRefusal, MAX_MESSAGE_BYTES, QuoteRequest, type Logger, type Quote } from "@rendermesh/shared";
import { handleProtocol, type ProtocolHost, type ProtocolRegistration } from "@rendermesh/shared/net";
import { MAX_STREAMS_PER_PEER, PROTOCOL, TIMEOUT } from "./constants.js";

export interface QuoteInit {
  maxStreamsPerPeer?: number;
  timeout?: number;
}

export interface QuoteComponents {
  node: ProtocolHost;
  /** Prices a spec from the capacity live now; throws RefusalError. */
  quote: (spec: QuoteRequest["spec"], options: { signal: AbortSignal }) => Promise<Quote>;
  log: Logger;
}

/** `/rendermesh/quote`: request/response, one QuoteRequest → Quote or an error. */
export class QuoteService {
  private registration: ProtocolRegistration | undefined;
  constructor(
    private readonly components: QuoteComponents,
    private readonly init: QuoteInit = {},
  ) {}

  async start(): Promise<void> {
    this.registration = await handleProtocol(
      this.components.node,
      PROTOCOL,
      async (stream, ctx) => {
        const req = await stream.read(QuoteRequest);
        try {
          await stream.write(await this.components.quote(req.spec, { signal: ctx.signal }));
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
