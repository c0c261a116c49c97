/**
 * Amounts are decimal strings (they exceed 2^53); hashes and addresses are
 * lower-case 0x hex; times are unix milliseconds unless named otherwise.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS jobs (
  job_id TEXT PRIMARY KEY,
  chain_id INTEGER NOT NULL,
  escrow TEXT NOT NULL,
  client TEXT NOT NULL,
  coordinator TEXT NOT NULL,
  deadline INTEGER NOT NULL,          -- escrow deadline, unix seconds
  seconds INTEGER NOT NULL,
  price_per_second TEXT NOT NULL,
  opened_block INTEGER NOT NULL,
  spec TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'settled', 'refunded')),
  paid_seconds INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS assignments (
  job_id TEXT NOT NULL REFERENCES jobs (job_id),
  segment INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('accepted', 'delivered', 'released')),
  assignment TEXT NOT NULL,           -- AssignmentFields JSON, as signed
  coordinator_sig TEXT NOT NULL,
  coordinator_peer TEXT,
  frames_done INTEGER NOT NULL DEFAULT 0,
  delivery TEXT,                      -- DeliveryFields JSON, as signed
  provider_sig TEXT,
  cid TEXT,
  bytes INTEGER,
  pay_state TEXT CHECK (pay_state IN ('unpaid', 'covered', 'claimed', 'finalized', 'disputed', 'rejected')),
  claim_tx TEXT,
  disputable_until INTEGER,           -- unix seconds
  reported_at INTEGER,                -- when the delivery reached the coordinator
  release_reason TEXT,
  attempts INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (job_id, segment)
);
CREATE INDEX IF NOT EXISTS assignments_state ON assignments (state, pay_state);

CREATE TABLE IF NOT EXISTS vouchers (
  job_id TEXT PRIMARY KEY,
  chain_id INTEGER NOT NULL,
  escrow TEXT NOT NULL,
  seconds INTEGER NOT NULL,
  signature TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  redeemed_seconds INTEGER NOT NULL DEFAULT 0,
  redeem_tx TEXT
);

CREATE TABLE IF NOT EXISTS payments (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('redeem', 'claim', 'settle', 'withdraw')),
  job_id TEXT,
  segment INTEGER,
  seconds INTEGER,
  amount TEXT NOT NULL,
  tx TEXT,
  at INTEGER NOT NULL
);
-- One row per payment event: the loop records what the chain says it paid, once.
CREATE UNIQUE INDEX IF NOT EXISTS payments_event ON payments (tx, kind, COALESCE(segment, -1)) WHERE tx IS NOT NULL;
`;

/**
 * The journal's migrations (openDatabase in shared/db): migration i takes a
 * journal from `user_version` i to i + 1; a journal from a newer version is
 * refused. Never edit a released one: add the next.
 */
export const MIGRATIONS: readonly string[] = [
  SCHEMA,
  // 2: the highest coordinator allocation held per job; a redeem and the client's settle entry need it.
  `CREATE TABLE IF NOT EXISTS allocations (
    job_id TEXT PRIMARY KEY,
    seconds INTEGER NOT NULL,
    signature TEXT NOT NULL
  );`,
  // 3: the allocation the escrow keeps for this provider from its own redeem (0: none known), so a later redeem
  // within it sends an empty allocation signature (one signature check fewer).
  `ALTER TABLE allocations ADD COLUMN on_chain_seconds INTEGER NOT NULL DEFAULT 0;`,
];

/** The schema version this provider writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;
