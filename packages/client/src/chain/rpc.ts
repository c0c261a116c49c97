import { FetchRequest } from "ethers";

/** A connection the node closed before answering: the request never reached it, so sending it again is safe. */
function closedUnanswered(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  return e?.code === "ECONNRESET" || e?.code === "EPIPE" || (typeof e?.message === "string" && e.message.includes("socket hang up"));
}

/** Sends of one request at most, on connections the node closed unanswered. */
const ATTEMPTS = 4;

/**
 * The JSON-RPC transport of the CLI: ethers' own, except that a request
 * written to a kept-alive connection which the node then closes without an
 * answer is sent again on a fresh one. That happens to every request in
 * flight when a node that was stalled (SIGSTOPped, or swapped out) runs
 * again: its idle-connection timers all fire at once and close sockets
 * whose requests it never read. Without this a chain stall ended the job
 * with "Cannot read job … from the escrow" the moment the chain came back.
 */
export function rpcRequest(url: string): FetchRequest {
  const req = new FetchRequest(url);
  const send = FetchRequest.createGetUrlFunc();
  req.getUrlFunc = async (r, signal) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send(r, signal);
      } catch (err) {
        if (attempt >= ATTEMPTS || !closedUnanswered(err)) throw err;
      }
    }
  };
  return req;
}
