import type { Stream } from "@libp2p/interface";
import { streamPair } from "@libp2p/utils";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { z } from "zod";
import { decodeMessage, encodeMessage, MessageStream, stringifyMessage } from "../src/net/index.js";

const Msg = z.object({ type: z.literal("msg"), n: z.number(), amount: z.coerce.bigint().optional() });

let local: Stream;
let remote: Stream;

beforeEach(async () => {
  [local, remote] = await streamPair();
});

afterEach(() => {
  local.abort(new Error("test over"));
  remote.abort(new Error("test over"));
});

describe("JSON encoding", () => {
  test("default: bigints become decimal strings, schemas coerce them back", () => {
    const text = stringifyMessage({ amount: 123456789012345678901234567890n, nested: [1n] });
    expect(text).toBe('{"amount":"123456789012345678901234567890","nested":["1"]}');
    expect(Msg.parse(decodeMessage(encodeMessage({ type: "msg", n: 1, amount: 5n }))).amount).toBe(5n);
  });

  test("error: unencodable values and bad bytes throw InvalidMessageError", () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    expect(() => encodeMessage(circular)).toThrow(expect.objectContaining({ name: "InvalidMessageError" }));
    expect(() => encodeMessage(undefined)).toThrow(expect.objectContaining({ name: "InvalidMessageError" }));
    expect(() => decodeMessage(new Uint8Array([0xc3, 0x28]))).toThrow(/UTF-8/);
    expect(() => decodeMessage(new TextEncoder().encode("{"))).toThrow(/JSON/);
  });
});

describe("MessageStream framing", () => {
  test("default: messages keep their boundaries, however the bytes are split", async () => {
    const reader = new MessageStream(remote);
    const frames = [1, 2, 3].map((n) => encodeMessage({ type: "msg", n }));
    const wire = Buffer.concat(frames.map((f) => Buffer.concat([Buffer.from([f.byteLength]), f])));
    // one byte at a time
    for (const byte of wire) local.send(Uint8Array.of(byte));
    await local.close();
    const got: number[] = [];
    for await (const m of reader.messages(Msg)) got.push(m.n);
    expect(got).toEqual([1, 2, 3]);
  });

  test("behavior: a bad message does not break the framing; the next one is read", async () => {
    const writer = new MessageStream(local);
    const reader = new MessageStream(remote);
    await writer.write({ type: "msg", n: "not a number" });
    await writer.write({ type: "msg", n: 2 });
    await expect(reader.read(Msg)).rejects.toMatchObject({
      name: "InvalidMessageError",
      code: "BAD_MESSAGE",
      issues: [expect.stringMatching(/^n: /)],
    });
    expect(await reader.read(Msg)).toEqual({ type: "msg", n: 2 });
  });

  test("error: an empty frame is InvalidMessageError", async () => {
    const reader = new MessageStream(remote);
    local.send(Uint8Array.of(0));
    await expect(reader.read(Msg)).rejects.toMatchObject({ name: "InvalidMessageError" });
  });

  test("error: a stream that ends mid-frame is StreamClosedError, and stays unreadable", async () => {
    const reader = new MessageStream(remote);
    local.send(Uint8Array.of(10, 0x7b, 0x22));
    await local.close();
    await expect(reader.read(Msg)).rejects.toMatchObject({ name: "StreamClosedError", message: expect.stringMatching(/middle/) });
    await expect(reader.read(Msg)).rejects.toMatchObject({ name: "StreamClosedError" });
  });

  test("error: endless varint continuation bytes are MessageTooLargeError, not an endless read", async () => {
    const reader = new MessageStream(remote, { maxMessageBytes: 1024 });
    local.send(new Uint8Array(64).fill(0x80));
    await expect(reader.read(Msg, { timeout: 2_000 })).rejects.toMatchObject({
      name: "MessageTooLargeError",
      size: undefined,
      limit: 1024,
    });
  });

  test("error: a declared length over the cap is refused before the body arrives", async () => {
    const reader = new MessageStream(remote, { maxMessageBytes: 1024 });
    local.send(Uint8Array.of(0x81, 0x08)); // 1025
    await expect(reader.read(Msg, { timeout: 2_000 })).rejects.toMatchObject({ name: "MessageTooLargeError", size: 1025, limit: 1024 });
    await expect(reader.read(Msg)).rejects.toMatchObject({ name: "MessageTooLargeError" });
  });

  test("behavior: an error frame the schema does not model is thrown as RemoteError", async () => {
    const writer = new MessageStream(local);
    const reader = new MessageStream(remote);
    await writer.writeError("BUSY", "Try later.", { retryAfterMs: 250 });
    const err = await reader.read(Msg).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: "RemoteError", code: "BUSY", shortMessage: "Try later.", retryAfterMs: 250 });
  });

  test("behavior: a very long error text is cut to fit", async () => {
    const writer = new MessageStream(local);
    const reader = new MessageStream(remote);
    await writer.writeError("INTERNAL", "x".repeat(10_000));
    const err = (await reader.read(Msg).catch((e: unknown) => e)) as { shortMessage: string };
    expect(err.shortMessage.length).toBeLessThanOrEqual(1024);
  });

  test("behavior: the init signal bounds reads, but not error replies", async () => {
    const controller = new AbortController();
    const server = new MessageStream(remote, { signal: controller.signal });
    const client = new MessageStream(local);
    const pending = server.read(Msg);
    controller.abort(new Error("handler stopped"));
    await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    await server.writeError("TIMEOUT", "too slow");
    await expect(client.read(Msg)).rejects.toMatchObject({ name: "RemoteError", code: "TIMEOUT" });
  });

  test("behavior: after discardIncoming, reads fail and incoming data is dropped", async () => {
    const server = new MessageStream(remote);
    const client = new MessageStream(local, { maxMessageBytes: 8 * 1024 * 1024 });
    server.discardIncoming();
    await client.write({ type: "msg", n: 1, pad: "x".repeat(6 * 1024 * 1024) });
    await expect(server.read(Msg)).rejects.toMatchObject({ name: "StreamClosedError" });
    await server.write({ type: "msg", n: 2 });
    expect(await client.read(Msg)).toEqual({ type: "msg", n: 2 });
    expect(remote.status).toBe("open");
  });
});
