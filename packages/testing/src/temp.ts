// Temp dirs that clean themselves: each is removed by its `cleanup()`, and
// whatever a test forgot is removed when the process exits.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TempDir {
  dir: string;
  /** Removes the dir and everything in it; safe to call twice. */
  cleanup(): void;
}

const live = new Set<string>();
let hooked = false;

function remove(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  live.delete(dir);
}

/** A fresh dir under the OS temp dir, named `<prefix>XXXXXX`. */
export function tempDir(prefix = "rm-test-"): TempDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  live.add(dir);
  if (!hooked) {
    hooked = true;
    process.once("exit", removeTempDirs);
  }
  const cleanup = () => remove(dir);
  return { dir, cleanup };
}

/** Removes every temp dir this process made and has not yet removed. */
export function removeTempDirs(): void {
  for (const dir of [...live]) remove(dir);
}
