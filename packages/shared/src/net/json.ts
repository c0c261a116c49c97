import type { Uint8ArrayList } from "uint8arraylist";
import { InvalidMessageError } from "./errors.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/**
 * JSON.stringify that writes a bigint as its decimal string (token amounts
 * are bigints). Schemas read them back with `z.coerce.bigint()` or a
 * string → bigint transform.
 */
export function stringifyMessage(message: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(message, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value));
  } catch (cause) {
    throw new InvalidMessageError("The message cannot be encoded as JSON.", { cause });
  }
  if (text === undefined) throw new InvalidMessageError("The message cannot be encoded as JSON (it is undefined or a function).");
  return text;
}

/** UTF-8 JSON bytes of a message (bigints as decimal strings). */
export function encodeMessage(message: unknown): Uint8Array {
  return encoder.encode(stringifyMessage(message));
}

/** Parses one frame as UTF-8 JSON; bad UTF-8 or bad JSON throw InvalidMessageError. */
export function decodeMessage(frame: Uint8Array | Uint8ArrayList): unknown {
  const bytes = frame instanceof Uint8Array ? frame : frame.subarray();
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (cause) {
    throw new InvalidMessageError("The message is not valid UTF-8.", { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new InvalidMessageError("The message is not valid JSON.", { cause });
  }
}
