import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { z } from "zod";
import * as shared from "@rendermesh/shared";

// The generator lives in the repo's scripts/ (outside this package's sources).
interface Generator {
  PROTOCOL_DOC_PATH: string;
  renderProtocolDoc(shared: unknown, toJSONSchema: typeof z.toJSONSchema): string;
}
const { PROTOCOL_DOC_PATH, renderProtocolDoc } = (await import(
  pathToFileURL(join(import.meta.dirname, "../../../scripts/gen-protocol-doc.ts")).href
)) as Generator;

describe("docs/protocol.md", () => {
  it("default: matches what the zod schemas generate (run `node scripts/gen-protocol-doc.ts` after changing them)", () => {
    const text = renderProtocolDoc(shared, z.toJSONSchema);
    if (process.env.RENDERMESH_WRITE_PROTOCOL_DOC === "1") writeFileSync(PROTOCOL_DOC_PATH, text);
    expect(existsSync(PROTOCOL_DOC_PATH)).toBe(true);
    expect(readFileSync(PROTOCOL_DOC_PATH, "utf8")).toBe(text);
  });

  it("behavior: names every protocol id and every reason code", () => {
    const text = renderProtocolDoc(shared, z.toJSONSchema);
    for (const id of Object.values(shared.PROTOCOLS)) expect(text).toContain(id);
    for (const code of shared.REASON_CODES) expect(text).toContain(`\`${code}\``);
  });
});
