import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { FsDatastore } from "datastore-fs";
import { SqliteDatastore } from "./sqlite-datastore.js";

/**
 * Opens the embedded IPFS node's datastore at `<dir>.sqlite`, first moving
 * in what a data dir made before it holds in `<dir>` (datastore-fs: one file
 * per key — pins, pinned-block records), so no pin is lost in the upgrade.
 *
 * Crash-safe: the records are copied into `<dir>.sqlite.tmp`, which is then
 * renamed into place, and the old directory is removed only after that; a
 * crash before the rename leaves the old directory as it was, and the next
 * start migrates again from scratch.
 */
export async function openDatastore(dir: string): Promise<{ datastore: SqliteDatastore; migrated: number }> {
  const file = `${dir}.sqlite`;
  let migrated = 0;
  if (!existsSync(file) && existsSync(dir)) {
    const tmp = `${file}.tmp`;
    await rm(tmp, { force: true });
    await rm(`${tmp}-wal`, { force: true });
    await rm(`${tmp}-shm`, { force: true });
    const old = new FsDatastore(dir, { createIfMissing: false });
    await old.open();
    const pairs = [];
    try {
      for await (const pair of old.query({})) pairs.push(pair);
    } finally {
      await old.close();
    }
    const target = new SqliteDatastore(tmp);
    try {
      migrated = target.putAll(pairs);
    } finally {
      target.close(); // checkpoints the WAL into the file before it is renamed
    }
    await rename(tmp, file);
  }
  // Left behind by a crash between the rename and this removal, or just migrated.
  if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
  return { datastore: new SqliteDatastore(file), migrated };
}
