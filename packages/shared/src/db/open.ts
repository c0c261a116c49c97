import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { BaseError, type BaseErrorOptions } from "../errors.js";

/**
 * One way every Rendermesh part opens its SQLite database (coordinator store,
 * provider journal, client journal): WAL, foreign keys, a busy timeout, and
 * versioned migrations. `PRAGMA user_version` records how many migrations a
 * file has had; each missing one runs in its own transaction with the
 * version bump, so a crash leaves the file at a whole version. Never edit a
 * released migration: add the next one.
 */

export type SqliteDatabase = Database.Database;
/** A prepared statement of a `SqliteDatabase`. */
export type SqliteStatement = Database.Statement<unknown[]>;

/** SQL to run, or a function for a migration that needs code (reading a legacy file, say). */
export type Migration = string | ((db: SqliteDatabase) => void);

export interface OpenDatabaseOptions {
  /** In order: migration i takes the file from version i to i + 1. */
  migrations: readonly Migration[];
  /**
   * NORMAL is durable across process crashes in WAL mode (only a power loss
   * can drop the last transactions); FULL also syncs every commit, for a
   * record acknowledged to a peer. Default FULL.
   */
  synchronous?: "NORMAL" | "FULL";
}

/** The database cannot be opened or migrated. */
export class DatabaseError extends BaseError {
  override name = "DatabaseError";
  constructor(shortMessage: string, options: BaseErrorOptions = {}) {
    super("DATABASE", shortMessage, options);
  }
}

/** The file was written by a newer version (more migrations than this one knows): opened read-write, it would be corrupted. */
export class DatabaseTooNewError extends DatabaseError {
  override name = "DatabaseTooNewError";
  readonly version: number;
  readonly known: number;
  constructor(path: string, version: number, known: number) {
    super(`The database ${path} is from a newer version (schema ${version}, this one knows ${known}).`);
    this.version = version;
    this.known = known;
  }
}

/** Opens (creating it and its directory if needed) the database at `path` (`:memory:` for a throwaway one) and applies the missing migrations. */
export function openDatabase(path: string, options: OpenDatabaseOptions): SqliteDatabase {
  let db: SqliteDatabase;
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
    db = new Database(path);
    db.pragma("journal_mode = WAL");
    db.pragma(`synchronous = ${options.synchronous ?? "FULL"}`);
    db.pragma("foreign_keys = ON");
    db.pragma("busy_timeout = 5000");
  } catch (cause) {
    throw new DatabaseError(`Cannot open the database ${path}.`, { cause });
  }
  try {
    migrate(db, path, options.migrations);
  } catch (err) {
    db.close();
    throw err instanceof DatabaseError ? err : new DatabaseError(`Cannot migrate the database ${path}.`, { cause: err });
  }
  return db;
}

function migrate(db: SqliteDatabase, path: string, migrations: readonly Migration[]): void {
  const version = Number(db.pragma("user_version", { simple: true }));
  if (version > migrations.length) throw new DatabaseTooNewError(path, version, migrations.length);
  for (let v = version; v < migrations.length; v++) {
    const m = migrations[v]!;
    db.transaction(() => {
      if (typeof m === "string") db.exec(m);
      else m(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

/**
 * `db.prepare` that keeps each statement by its SQL and hands it out again:
 * preparing a statement costs more than running it, and the daemons' stores
 * run the same few statements thousands of times a job (measured: preparing
 * was a third of the coordinator's CPU in a 12-segment job).
 */
export function statementCache(db: SqliteDatabase): (sql: string) => SqliteStatement {
  const prepared = new Map<string, SqliteStatement>();
  return (sql) => {
    let statement = prepared.get(sql);
    if (!statement) {
      statement = db.prepare(sql);
      prepared.set(sql, statement);
    }
    return statement;
  };
}
