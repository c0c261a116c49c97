/**
 * Schema migrations, applied in order inside one transaction each; the
 * database records the highest applied version in `PRAGMA user_version`.
 * Never edit a released migration: add the next one.
 */
export const MIGRATIONS: readonly string[] = [
  /* 1 */ `
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  CREATE TABLE jobs (
    job_id           TEXT PRIMARY KEY,           -- bytes32, lower-case 0x hex
    chain_id         INTEGER NOT NULL,
    escrow           TEXT NOT NULL,
    client           TEXT NOT NULL,              -- the escrow's client address
    client_peer      TEXT,                       -- libp2p peer that submitted (verdicts only from it)
    spec             TEXT NOT NULL,              -- canonical JSON of the JobSpec
    spec_hash        TEXT NOT NULL,
    model            TEXT NOT NULL,
    segments         INTEGER NOT NULL,
    fps              INTEGER NOT NULL,
    width            INTEGER NOT NULL,
    height           INTEGER NOT NULL,
    price_per_second TEXT NOT NULL,              -- bigint, decimal
    deadline         INTEGER NOT NULL,           -- unix seconds (escrow)
    policy_version   TEXT NOT NULL,
    opened_block     INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('running','complete','failed')),
    fail_code        TEXT,
    fail_message     TEXT,
    next_seq         INTEGER NOT NULL DEFAULT 1,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
  );
  CREATE INDEX jobs_status ON jobs (status, created_at);
  CREATE INDEX jobs_client ON jobs (client, status);

  CREATE TABLE segments (
    job_id          TEXT NOT NULL REFERENCES jobs (job_id),
    idx             INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending','active','delivered','verified','failed')),
    tries           INTEGER NOT NULL DEFAULT 0,
    verified_attempt INTEGER,
    PRIMARY KEY (job_id, idx)
  ) WITHOUT ROWID;
  CREATE INDEX segments_pending ON segments (job_id, status);

  CREATE TABLE attempts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id        TEXT NOT NULL REFERENCES jobs (job_id),
    idx           INTEGER NOT NULL,
    try           INTEGER NOT NULL,
    provider      TEXT NOT NULL,
    peer_id       TEXT NOT NULL,
    speculative   INTEGER NOT NULL DEFAULT 0,
    status        TEXT NOT NULL CHECK (status IN ('active','held','shown','verified','rejected','failed','superseded','cancelled')),
    assignment    TEXT NOT NULL,                 -- SignedAssignment JSON
    deadline_ms   INTEGER NOT NULL,
    expected_ms   INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    delivery      TEXT,                          -- SignedDelivery JSON
    multiaddrs    TEXT,
    fail_code     TEXT,
    fail_message  TEXT,
    frames_done   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (job_id, idx, try)
  );
  CREATE INDEX attempts_job ON attempts (job_id, idx);
  CREATE INDEX attempts_status ON attempts (status);

  CREATE TABLE events (
    job_id  TEXT NOT NULL REFERENCES jobs (job_id),
    seq     INTEGER NOT NULL,
    type    TEXT NOT NULL,
    body    TEXT NOT NULL,                       -- the JobEvent as sent on the wire
    at      INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
  ) WITHOUT ROWID;

  CREATE TABLE providers (
    address        TEXT PRIMARY KEY,             -- lower-case
    peer_id        TEXT NOT NULL,
    ask            TEXT NOT NULL,
    models         TEXT NOT NULL,                -- JSON array of bytes32
    capacity       INTEGER NOT NULL,
    benchmark_fps  REAL NOT NULL,
    device         TEXT NOT NULL,
    agent          TEXT NOT NULL,
    multiaddrs     TEXT NOT NULL DEFAULT '[]',
    last_seen      INTEGER NOT NULL,
    speed_fps      REAL,                         -- measured reference frames/s per render slot (EWMA)
    reliability    REAL NOT NULL DEFAULT 0.9,    -- EWMA of attempt outcomes
    completed      INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0
  );
  `,
];
