/**
 * How to start a worker thread on one of this package's modules, from
 * `dist/` (built) or from the TypeScript sources (tests): the entry's URL
 * beside the caller, and the `execArgv` that lets the sources load.
 */
export function workerEntry(callerUrl: string, name: string): { url: URL; execArgv: string[] | undefined } {
  if (!callerUrl.endsWith(".ts")) return { url: new URL(`./${name}.js`, callerUrl), execArgv: undefined };
  return { url: new URL(`./${name}.ts`, callerUrl), execArgv: ["--import", new URL("./register.ts", import.meta.url).href] };
}
