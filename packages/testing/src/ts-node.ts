// Running this repo's TypeScript sources in a child process (a CLI, a
// provider or a coordinator a test kills for real): the Node flags, with the
// one hooks file (ts-hooks.mjs) every package uses.
import { fileURLToPath } from "node:url";

/** Absolute path of ts-hooks.mjs (maps `./x.js` imports to `./x.ts`). */
export const TS_HOOKS = fileURLToPath(new URL("./ts-hooks.mjs", import.meta.url));

/** Node arguments that run a `.ts` entry from source: put the script and its arguments after them. */
export function tsNodeArgs(): string[] {
  return ["--conditions=@rendermesh/source", "--experimental-transform-types", "--no-warnings", "--import", TS_HOOKS];
}
