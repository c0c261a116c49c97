import { readFileSync } from "node:fs";
import type { z } from "zod";
import { ConfigError } from "./errors.js";

/**
 * Config layering shared by every daemon and CLI:
 * defaults < config file (JSON) < environment < command-line flags.
 * Later layers override earlier ones key by key; the merged object is then
 * validated once, so an error names the field and where its value came from.
 */
export type ConfigSource = "default" | "file" | "env" | "flag";

export interface LoadConfigOptions<S extends z.ZodObject> {
  schema: S;
  /** Path of a JSON config file; a missing file is an error only if given explicitly. */
  file?: string | undefined;
  /** Environment (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Prefix of env vars, e.g. `RENDERMESH_PROVIDER_`; `ASK_PER_SECOND` maps to `askPerSecond`. */
  envPrefix?: string;
  /** Values from parsed flags; `undefined` entries are ignored. */
  flags?: Record<string, unknown>;
}

export interface LoadedConfig<T> {
  config: T;
  /** Which layer each top-level key came from, for `config show` style output. */
  sources: Record<string, ConfigSource>;
}

const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new ConfigError(`Cannot read config file ${path}.`, {
      hint: "Check the path given with --config, or omit it to use defaults.",
      cause,
    });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not an object");
    return parsed as Record<string, unknown>;
  } catch (cause) {
    throw new ConfigError(`Config file ${path} is not a JSON object.`, {
      hint: 'Write it as JSON, e.g. {"rpcUrl": "http://127.0.0.1:8545"}.',
      cause,
    });
  }
}

function fromEnv(shape: z.ZodRawShape, env: NodeJS.ProcessEnv, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = new Set(Object.keys(shape));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(prefix) || value === undefined) continue;
    const key = camel(name.slice(prefix.length));
    if (keys.has(key)) out[key] = value;
  }
  return out;
}

function describeAllowed(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected}`;
    case "invalid_value":
      return `allowed: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return `must be ${issue.inclusive ? "at least" : "more than"} ${String(issue.minimum)}`;
    case "too_big":
      return `must be ${issue.inclusive ? "at most" : "less than"} ${String(issue.maximum)}`;
    default:
      return issue.message;
  }
}

/** Loads and validates a config; throws a ConfigError naming field, value, source and what is allowed. */
export function loadConfig<S extends z.ZodObject>(options: LoadConfigOptions<S>): LoadedConfig<z.output<S>> {
  const { schema } = options;
  const layers: Array<[ConfigSource, Record<string, unknown>]> = [];
  if (options.file) layers.push(["file", readConfigFile(options.file)]);
  if (options.envPrefix) layers.push(["env", fromEnv(schema.shape, options.env ?? process.env, options.envPrefix)]);
  if (options.flags) {
    const flags = Object.fromEntries(Object.entries(options.flags).filter(([, v]) => v !== undefined));
    layers.push(["flag", flags]);
  }

  const merged: Record<string, unknown> = {};
  const sources: Record<string, ConfigSource> = {};
  for (const key of Object.keys(schema.shape)) sources[key] = "default";
  for (const [source, values] of layers) {
    for (const [key, value] of Object.entries(values)) {
      if (!(key in schema.shape)) {
        if (source === "file") {
          throw new ConfigError(`Unknown config field "${key}" in ${options.file}.`, {
            hint: `Known fields: ${Object.keys(schema.shape).join(", ")}.`,
          });
        }
        continue;
      }
      merged[key] = value;
      sources[key] = source;
    }
  }

  const result = schema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join(".") || "(root)";
    const top = String(issue.path[0] ?? "");
    const value = top ? merged[top] : undefined;
    const from = sources[top] ?? "default";
    throw new ConfigError(`Invalid config field "${field}" = ${JSON.stringify(value)} (from ${from}): ${describeAllowed(issue)}.`, {
      hint:
        from === "env" && options.envPrefix
          ? `Fix or unset ${options.envPrefix}${top.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}.`
          : `Fix the ${from === "flag" ? "flag" : from === "file" ? "config file" : "value"} for "${field}".`,
      details: result.error.issues.slice(1).map((i) => `also: ${i.path.join(".")}: ${i.message}`),
    });
  }
  return { config: result.data, sources };
}
