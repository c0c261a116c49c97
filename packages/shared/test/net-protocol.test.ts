import { lpStream } from "@libp2p/utils";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { createLogger } from "../src/logger.js";
import {
  createMeshNode,
  handleProtocol,
  MessageStream,
  openProtocolStream,
  ProtocolError,
  request,
  type HandleProtocolOptions,
  type MeshNode,
  type ProtocolHandler,
} from "../src/net/index.js";

const ECHO = "/rendermesh-test/echo/1.0.0";
const logger = createLogger({ name: "test", level: "silent" });

const Ping = z.object({ type: z.literal("ping"), n: z.number().int(), amount: z.coerce.bigint() });
const Pong = z.object({ type: z.literal("pong"), n: z.number().int(), amount: z.coerce.bigint() });
const ErrorFrame = z.object({ type: z.literal("error"), code: z.string(), message: z.string() }).loose();
const PongOrError = z.discriminatedUnion("type", [Pong, ErrorFrame]);

let server: MeshNode;
let client: MeshNode;
/** Names of the errors the server-side handler saw. */
let seen: string[];

beforeEach(async () => {
  [server, client] = await Promise.all([createMeshNode(), createMeshNode()]);
  seen = [];
});

afterEach(async () => {
  await Promise.all([server.stop(), client.stop()]);
});

const echo: ProtocolHandler = async (stream) => {
  try {
    const ping = await stream.read(Ping);
    await stream.write({ type: "pong", n: ping.n + 1, amount: ping.amount * 2n });
  } catch (err) {
    seen.push((err as Error).name);
    throw err;
  }
};

async function serveEcho(options: HandleProtocolOptions = {}) {
  return handleProtocol(server, ECHO, echo, { logger, ...options });
}

const addr = () => server.getMultiaddrs()[0]!;

/** One length-prefixed frame (payloads under 128 bytes: a one-byte varint). */
function frame(payload: Uint8Array): Uint8Array {
  expect(payload.byteLength).toBeLessThan(128);
  return Uint8Array.from([payload.byteLength, ...payload]);
}

/**
 * Opens a raw libp2p stream, sends `bytes` as they are (no framing added),
 * and reads one length-prefixed reply, bypassing MessageStream's own checks.
 */
async function rawExchange(bytes: Uint8Array, protocol = ECHO): Promise<unknown> {
  const stream = await client.dialProtocol(addr(), protocol);
  const lp = lpStream(stream);
  stream.send(bytes);
  const reply = await lp.read({ signal: AbortSignal.timeout(5_000) });
  await stream.close();
  return JSON.parse(new TextDecoder().decode(reply.subarray()));
}

describe("framed messages between two libp2p nodes", () => {
  test("default: request/response round-trips, bigints travel as decimal strings", async () => {
    await serveEcho();
    const pong = await request(client, addr(), ECHO, { type: "ping", n: 1, amount: 10n ** 30n }, Pong);
    expect(pong).toEqual({ type: "pong", n: 2, amount: 2n * 10n ** 30n });
  });

  test("behavior: a streaming protocol sends many messages, the client iterates to the end", async () => {
    const Progress = z.object({ type: z.literal("progress"), frame: z.number() });
    await handleProtocol(
      server,
      "/rendermesh-test/follow/1.0.0",
      async (stream) => {
        const { n } = await stream.read(z.object({ n: z.number() }));
        for (let frame = 0; frame < n; frame++) await stream.write({ type: "progress", frame });
      },
      { logger, timeout: 0 },
    );
    const stream = await openProtocolStream(client, addr(), "/rendermesh-test/follow/1.0.0");
    await stream.write({ n: 50 });
    const frames: number[] = [];
    for await (const msg of stream.messages(Progress, { timeout: 5_000 })) frames.push(msg.frame);
    expect(frames).toEqual([...Array(50).keys()]);
    expect(stream.ended).toBe(true);
    await expect(stream.read(Progress)).rejects.toMatchObject({ name: "StreamClosedError" });
    await stream.close();
  });

  test("behavior: a client can send several messages on one stream before the server answers", async () => {
    await handleProtocol(
      server,
      "/rendermesh-test/sum/1.0.0",
      async (stream) => {
        let sum = 0n;
        for await (const m of stream.messages(z.object({ v: z.coerce.bigint() }))) sum += m.v;
        await stream.write({ sum });
      },
      { logger },
    );
    const stream = await openProtocolStream(client, addr(), "/rendermesh-test/sum/1.0.0");
    for (const v of [1n, 2n, 3n, 2n ** 70n]) await stream.write({ v });
    await stream.close();
    const { sum } = await stream.read(z.object({ sum: z.coerce.bigint() }));
    expect(sum).toBe(6n + 2n ** 70n);
  });

  test("error: an oversized message gets MESSAGE_TOO_LARGE, and the node serves the next stream", async () => {
    await serveEcho({ maxMessageBytes: 1024 });
    const stream = await openProtocolStream(client, addr(), ECHO, { maxMessageBytes: 1024 * 1024 });
    await stream.write({ type: "ping", n: 1, amount: "1", pad: "x".repeat(4096) });
    const err = await stream.read(Pong).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "RemoteError", code: "MESSAGE_TOO_LARGE" });
    expect(seen).toEqual(["MessageTooLargeError"]);

    // A huge declared length is refused from the prefix alone, before any body arrives.
    const reply = await rawExchange(new Uint8Array([0x80, 0x80, 0x80, 0x40, 0x7b]));
    expect(reply).toMatchObject({ type: "error", code: "MESSAGE_TOO_LARGE" });

    const pong = await request(client, addr(), ECHO, { type: "ping", n: 5, amount: 1 }, Pong);
    expect(pong.n).toBe(6);
  });

  test("error: the client refuses to send a message over its own cap, and sends nothing", async () => {
    await serveEcho();
    const stream = await openProtocolStream(client, addr(), ECHO, { maxMessageBytes: 100 });
    await expect(stream.write({ type: "ping", pad: "x".repeat(200) })).rejects.toMatchObject({
      name: "MessageTooLargeError",
      size: expect.any(Number),
      limit: 100,
    });
    await stream.write({ type: "ping", n: 1, amount: 3 });
    expect(await stream.read(Pong)).toEqual({ type: "pong", n: 2, amount: 6n });
    await stream.close();
  });

  test("error: malformed JSON and invalid UTF-8 get BAD_MESSAGE, and the node serves the next stream", async () => {
    await serveEcho();
    expect(await rawExchange(frame(new TextEncoder().encode('{"type": "ping", ')))).toMatchObject({
      type: "error",
      code: "BAD_MESSAGE",
      message: expect.stringContaining("not valid JSON"),
    });
    expect(await rawExchange(frame(new Uint8Array([0xff, 0xfe, 0x7b])))).toMatchObject({ type: "error", code: "BAD_MESSAGE" });
    expect(seen).toEqual(["InvalidMessageError", "InvalidMessageError"]);
    expect((await request(client, addr(), ECHO, { type: "ping", n: 0, amount: 0 }, Pong)).n).toBe(1);
  });

  test("error: a schema-invalid message gets BAD_MESSAGE naming the field", async () => {
    await serveEcho();
    const err = await request(client, addr(), ECHO, { type: "ping", n: "one", amount: 1 }, Pong).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "RemoteError", code: "BAD_MESSAGE" });
    expect((err as Error).message).toMatch(/n: /);
    expect(seen).toEqual(["InvalidMessageError"]);
  });

  test("error: a stream closed before any message gets BAD_MESSAGE", async () => {
    await serveEcho();
    const stream = await openProtocolStream(client, addr(), ECHO);
    await stream.close();
    await expect(stream.read(Pong)).rejects.toMatchObject({ name: "RemoteError", code: "BAD_MESSAGE" });
    expect(seen).toEqual(["StreamClosedError"]);
  });

  test("behavior: an error frame is returned when the response schema models it", async () => {
    await serveEcho();
    const res = await request(client, addr(), ECHO, { type: "nope" }, PongOrError);
    expect(res).toMatchObject({ type: "error", code: "BAD_MESSAGE" });
  });

  test("behavior: a handler's ProtocolError reaches the client with its code and fields", async () => {
    await handleProtocol(
      server,
      ECHO,
      () => {
        throw new ProtocolError("POLICY_BLOCKED_TERM", "The prompt uses a blocked term.", { fields: { term: "x" } });
      },
      { logger },
    );
    const err = await request(client, addr(), ECHO, { type: "ping" }, Pong).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "RemoteError", code: "POLICY_BLOCKED_TERM", shortMessage: "The prompt uses a blocked term." });
    expect((err as { frame: unknown }).frame).toMatchObject({ term: "x" });
  });

  test("behavior: an unexpected handler failure is answered INTERNAL without details", async () => {
    await handleProtocol(
      server,
      ECHO,
      () => {
        throw new Error("database password is hunter2");
      },
      { logger },
    );
    const err = await request(client, addr(), ECHO, { type: "ping" }, Pong).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "RemoteError", code: "INTERNAL", shortMessage: "Internal error." });
  });
});

describe("timeouts", () => {
  test("behavior: a handler past its deadline answers TIMEOUT", async () => {
    // The handler never finishes by itself: only its deadline can end it, on any machine.
    let cut: unknown;
    await handleProtocol(
      server,
      ECHO,
      async (_stream, { signal }) => {
        await new Promise((resolve) => signal.addEventListener("abort", resolve, { once: true }));
        cut = signal.reason;
      },
      { logger, timeout: 200 },
    );
    const err = await request(client, addr(), ECHO, { type: "ping" }, Pong).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "RemoteError", code: "TIMEOUT" });
    expect(cut).toBeDefined();
  });

  test("behavior: a server read that waits too long times out and answers TIMEOUT", async () => {
    await serveEcho({ messageTimeout: 200 });
    const stream = await openProtocolStream(client, addr(), ECHO);
    await expect(stream.read(Pong, { timeout: 5_000 })).rejects.toMatchObject({ name: "RemoteError", code: "TIMEOUT" });
    expect(seen).toEqual(["TimeoutError"]);
  });

  test("error: a client request times out with TimeoutError", async () => {
    await handleProtocol(
      server,
      ECHO,
      async (_stream, { signal }) => {
        await new Promise((resolve) => signal.addEventListener("abort", resolve));
      },
      { logger, timeout: 0 },
    );
    const err = await request(client, addr(), ECHO, { type: "ping" }, Pong, { timeout: 300 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "TimeoutError", code: "TIMEOUT" });
  });

  test("behavior: a read timeout before any byte arrived leaves the stream usable", async () => {
    let answer!: () => void;
    const answerNow = new Promise<void>((resolve) => (answer = resolve));
    await handleProtocol(
      server,
      ECHO,
      async (stream) => {
        // Answers only once the client's first read has timed out (held, not slept).
        await answerNow;
        await stream.write({ type: "pong", n: 1, amount: 1 });
      },
      { logger },
    );
    const stream = await openProtocolStream(client, addr(), ECHO);
    await expect(stream.read(Pong, { timeout: 100 })).rejects.toMatchObject({ name: "TimeoutError" });
    answer();
    expect(await stream.read(Pong, { timeout: 60_000 })).toMatchObject({ n: 1 });
    await stream.close();
  });

  test("behavior: a caller's abort signal gives AbortError", async () => {
    await handleProtocol(
      server,
      ECHO,
      async (_s, { signal }) => {
        await new Promise((resolve) => signal.addEventListener("abort", resolve));
      },
      { logger, timeout: 0 },
    );
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("user pressed ctrl-c")), 100);
    const err = await request(client, addr(), ECHO, { type: "ping" }, Pong, { signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "AbortError", code: "ABORTED" });
  });
});

describe("limits and dialling", () => {
  test("behavior: one peer cannot hold more than maxStreamsPerPeer handlers; extra streams get BUSY", async () => {
    let releaseHandlers!: () => void;
    const released = new Promise<void>((resolve) => (releaseHandlers = resolve));
    const reg = await handleProtocol(
      server,
      ECHO,
      async (stream) => {
        await stream.read(Ping);
        await released;
        await stream.write({ type: "pong", n: 0, amount: 0 });
      },
      { logger, maxStreamsPerPeer: 2 },
    );
    const held = await Promise.all(
      [0, 1].map(async () => {
        const s = await openProtocolStream(client, addr(), ECHO);
        await s.write({ type: "ping", n: 0, amount: 0 });
        return s;
      }),
    );
    await expect.poll(() => reg.activeFor(client.peerId)).toBe(2);
    const err = await request(client, addr(), ECHO, { type: "ping", n: 0, amount: 0 }, Pong).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "RemoteError", code: "BUSY", retryAfterMs: 1_000 });

    releaseHandlers();
    for (const s of held) expect(await s.read(Pong)).toMatchObject({ type: "pong" });
    await expect.poll(() => reg.active).toBe(0);
    expect((await request(client, addr(), ECHO, { type: "ping", n: 0, amount: 0 }, Pong)).type).toBe("pong");
  });

  test("behavior: unhandle aborts running handlers, which answer BUSY", async () => {
    const reg = await handleProtocol(
      server,
      ECHO,
      async (stream, { signal }) => {
        await stream.read(Ping);
        await new Promise((resolve) => signal.addEventListener("abort", resolve));
      },
      { logger, timeout: 0 },
    );
    const stream = await openProtocolStream(client, addr(), ECHO);
    await stream.write({ type: "ping", n: 0, amount: 0 });
    await expect.poll(() => reg.active).toBe(1);
    await reg.unhandle();
    await expect(stream.read(Pong)).rejects.toMatchObject({ name: "RemoteError", code: "BUSY" });
  });

  test("error: a protocol the peer does not serve gives ProtocolNotSupportedError", async () => {
    await expect(openProtocolStream(client, addr(), "/rendermesh-test/nope/1.0.0")).rejects.toMatchObject({
      name: "ProtocolNotSupportedError",
    });
  });

  test("error: an unreachable peer gives DialError", async () => {
    const gone = await createMeshNode();
    const target = gone.getMultiaddrs()[0]!;
    await gone.stop();
    await expect(openProtocolStream(client, target, ECHO, { timeout: 5_000 })).rejects.toMatchObject({ name: "DialError" });
    await expect(openProtocolStream(client, "not a multiaddr", ECHO)).rejects.toMatchObject({ name: "DialError" });
  });

  test("default: a peer id alone works once the peer store knows its address", async () => {
    await serveEcho();
    await client.dial(addr());
    const pong = await request(client, server.peerId, ECHO, { type: "ping", n: 1, amount: 1 }, Pong);
    expect(pong.n).toBe(2);
  });

  test("behavior: MessageStream wraps a raw libp2p stream", async () => {
    await handleProtocol(
      server,
      ECHO,
      async (stream) => {
        expect(stream).toBeInstanceOf(MessageStream);
        await echo(stream, undefined as never);
      },
      { logger },
    );
    const raw = await client.dialProtocol(addr(), ECHO);
    const stream = new MessageStream(raw);
    await stream.write({ type: "ping", n: 41, amount: 0 });
    expect((await stream.read(Pong)).n).toBe(42);
    await stream.close();
  });
});
