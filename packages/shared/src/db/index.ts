/**
 * db/ — `openDatabase(path, { migrations })`: SQLite (better-sqlite3) with
 * WAL, foreign keys and versioned migrations, for every part's durable state.
 */
export * from "./open.js";
