import { multiaddr, type Multiaddr } from "@multiformats/multiaddr";
import { BaseError, REASON_CODES, UsageError, type ErrorMessage, type ReasonCode } from "@rendermesh/shared";
import { DialError, ProtocolNotSupportedError, RemoteError, TimeoutError } from "@rendermesh/shared/net";
import { NetworkError, PeerRefusedError } from "../errors.js";

/** Multiaddr strings → multiaddrs, skipping none: a malformed one is a usage error. */
export function toMultiaddrs(addrs: readonly string[], what: string): Multiaddr[] {
  if (addrs.length === 0) {
    throw new UsageError(`No ${what} address is configured.`, {
      hint: "Pass --coordinator /ip4/…/tcp/…/p2p/… (or set RENDERMESH_COORDINATOR), or start the local network with `pnpm dev`.",
    });
  }
  return addrs.map((a) => {
    try {
      return multiaddr(a);
    } catch (cause) {
      throw new UsageError(`"${a}" is not a multiaddr.`, { cause, hint: "Use a form like /ip4/127.0.0.1/tcp/4001/p2p/12D3Koo…" });
    }
  });
}

const isReason = (code: string): code is ReasonCode => (REASON_CODES as readonly string[]).includes(code);

/** A typed refusal from a peer as the client's error. */
export function refusal(message: ErrorMessage, peer: string): PeerRefusedError {
  return new PeerRefusedError(message.code, message.message, { peer, retryAfterMs: message.retryAfterMs, term: message.term });
}

/** Wraps a net/ failure talking to `who` into a client error with one sentence. */
export function networkError(err: unknown, who: string, what: string): BaseError {
  if (err instanceof PeerRefusedError || err instanceof NetworkError) return err;
  if (err instanceof RemoteError) {
    const code = isReason(err.code) ? err.code : "INTERNAL";
    return new PeerRefusedError(code, err.shortMessage, { peer: who, retryAfterMs: err.retryAfterMs });
  }
  if (err instanceof DialError)
    return new NetworkError(`Cannot reach the ${who} to ${what}.`, {
      cause: err,
      hint: "Check that it is running and that its multiaddr is right.",
    });
  if (err instanceof ProtocolNotSupportedError)
    return new NetworkError(`The ${who} does not speak the protocol needed to ${what}.`, { cause: err, hint: "Upgrade the older side." });
  if (err instanceof TimeoutError)
    return new NetworkError(`The ${who} did not answer in time to ${what}.`, { cause: err, hint: "Check that it is running, then retry." });
  if (err instanceof BaseError) return new NetworkError(`Talking to the ${who} to ${what} failed: ${err.shortMessage}`, { cause: err });
  return new NetworkError(`Talking to the ${who} to ${what} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
