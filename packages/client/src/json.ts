/** JSON with bigints as decimal strings and Infinity as the string "Infinity" (for --json output, manifests). */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v === Infinity ? "Infinity" : v), space);
}
