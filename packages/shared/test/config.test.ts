import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { z } from "zod";
import { ConfigError, loadConfig } from "../src/index.js";

const schema = z.object({
  rpcUrl: z.url().default("http://127.0.0.1:8545"),
  askPerSecond: z.coerce.bigint().nonnegative().default(1n),
  device: z.enum(["cpu", "cuda", "auto"]).default("auto"),
});

function file(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), "rm-config-"));
  const path = join(dir, "config.json");
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("loadConfig", () => {
  test("default: schema defaults when nothing is given", () => {
    const { config, sources } = loadConfig({ schema, env: {} });
    expect(config).toEqual({ rpcUrl: "http://127.0.0.1:8545", askPerSecond: 1n, device: "auto" });
    expect(sources.device).toBe("default");
  });

  test("behavior: file < env < flags, key by key", () => {
    const path = file({ rpcUrl: "http://file:1", device: "cpu", askPerSecond: "5" });
    const { config, sources } = loadConfig({
      schema,
      file: path,
      envPrefix: "RM_",
      env: { RM_DEVICE: "cuda", RM_ASK_PER_SECOND: "7", OTHER: "x" },
      flags: { device: "auto", rpcUrl: undefined },
    });
    expect(config).toEqual({ rpcUrl: "http://file:1", askPerSecond: 7n, device: "auto" });
    expect(sources).toEqual({ rpcUrl: "file", askPerSecond: "env", device: "flag" });
  });

  test("error: a bad value names field, value, source and what is allowed", () => {
    let err: unknown;
    try {
      loadConfig({ schema, envPrefix: "RM_", env: { RM_DEVICE: "tpu" } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe("CONFIG_INVALID");
    expect(e.shortMessage).toContain('"device"');
    expect(e.shortMessage).toContain('"tpu"');
    expect(e.shortMessage).toContain("from env");
    expect(e.shortMessage).toContain('"cpu", "cuda", "auto"');
    expect(e.hint).toContain("RM_DEVICE");
  });

  test("error: unknown field in a config file", () => {
    expect(() => loadConfig({ schema, file: file({ rpcURL: "x" }) })).toThrow(/Unknown config field "rpcURL"/);
  });

  test("error: a file that is not JSON", () => {
    expect(() => loadConfig({ schema, file: file("rpcUrl = 1") })).toThrow(/is not a JSON object/);
  });

  test("error: a missing file", () => {
    expect(() => loadConfig({ schema, file: "/nonexistent/rm.json" })).toThrow(/Cannot read config file/);
  });
});
