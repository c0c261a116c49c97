/** `node --import` this in a worker started from the TypeScript sources (see `hooks.ts`). */
import { register } from "node:module";

register(new URL("./hooks.ts", import.meta.url));
