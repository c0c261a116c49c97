import { expect, test } from "vitest";
import { BaseError, UsageError, toBaseError } from "../src/index.js";

test("default: message carries short message, details and fix", () => {
  const cause = new Error("ECONNREFUSED");
  const err = new BaseError("RPC_UNREACHABLE", "Cannot reach the chain.", {
    hint: "Start a node or pass --rpc-url.",
    details: ["url: http://127.0.0.1:8545"],
    cause,
  });
  expect(err.message).toBe("Cannot reach the chain.\n\nurl: http://127.0.0.1:8545\n\nFix: Start a node or pass --rpc-url.");
  expect(err.cause).toBe(cause);
  expect(err.walk((e) => e === cause)).toBe(cause);
  expect(err.toJSON()).toMatchObject({ code: "RPC_UNREACHABLE", message: "Cannot reach the chain." });
});

test("behavior: subclasses keep their name for err.name checks", () => {
  expect(new UsageError("bad flag").name).toBe("UsageError");
  expect(new UsageError("bad flag").code).toBe("USAGE");
});

test("behavior: toBaseError wraps foreign errors and keeps BaseErrors", () => {
  const own = new BaseError("X", "x");
  expect(toBaseError(own)).toBe(own);
  const wrapped = toBaseError(new TypeError("nope"), "WRAPPED");
  expect(wrapped.code).toBe("WRAPPED");
  expect(wrapped.shortMessage).toBe("nope");
});
