"""SQLite schema, as ordered migration steps.

The schema version is SQLite's `PRAGMA user_version` (in the database header,
so it changes in the same transaction as the step). Step k takes a database at
version k-1 to k. Steps are append-only: never edit a released one, add the
next. A database whose version is newer than the last step is refused: this
code doesn't know what the newer one changed, and writing to it could corrupt
data the newer code relies on.

Indexes are few on purpose (each costs every insert): the vendor id lookup of
receipts, the queue of each integration, the segments awaiting a final
receipt of each integration (the receipt timeout), events per business unit
by cursor, and the idempotency key.
"""

from __future__ import annotations

import sqlite3

from byosms.store.base import SchemaError

MIGRATIONS: tuple[str, ...] = (
    # 1: integrations, numbers, messages, segments, events, consumers
    """
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE integrations (
        id            TEXT PRIMARY KEY,
        business_unit TEXT NOT NULL,
        provider      TEXT NOT NULL,
        name          TEXT NOT NULL,
        config        BLOB NOT NULL,          -- JSON, secret fields removed
        state         TEXT NOT NULL CHECK (state IN ('active', 'inactive', 'deleted')),
        created       REAL NOT NULL,
        updated       REAL NOT NULL
    );

    CREATE TABLE integration_secrets (
        integration_id TEXT NOT NULL REFERENCES integrations(id),
        field          TEXT NOT NULL,
        ciphertext     BLOB NOT NULL,         -- nonce || AES-GCM(value), see crypto.py
        PRIMARY KEY (integration_id, field)
    ) WITHOUT ROWID;

    CREATE TABLE numbers (
        number         TEXT PRIMARY KEY,
        type           TEXT NOT NULL,
        integration_id TEXT NOT NULL REFERENCES integrations(id),
        business_unit  TEXT NOT NULL,
        display_name   TEXT NOT NULL,
        keywords       BLOB,                  -- JSON Keywords, NULL = N3 defaults
        enabled        INTEGER NOT NULL,
        created        REAL NOT NULL,
        updated        REAL NOT NULL
    );
    CREATE INDEX numbers_by_integration ON numbers(integration_id);

    CREATE TABLE messages (
        id              TEXT PRIMARY KEY,
        direction       TEXT NOT NULL CHECK (direction IN ('mt', 'mo')),
        integration_id  TEXT NOT NULL REFERENCES integrations(id),
        business_unit   TEXT NOT NULL,
        source          TEXT NOT NULL,
        destination     TEXT NOT NULL,
        text            TEXT NOT NULL,
        encoding        TEXT NOT NULL,
        dcs             INTEGER NOT NULL,
        segment_count   INTEGER NOT NULL,
        state           TEXT NOT NULL,
        generic_code    INTEGER,
        generic_cause   TEXT,
        client_ref      TEXT,
        idempotency_key TEXT,
        created         REAL NOT NULL,
        updated         REAL NOT NULL
    );
    CREATE UNIQUE INDEX messages_idempotency
        ON messages(business_unit, idempotency_key) WHERE idempotency_key IS NOT NULL;

    CREATE TABLE segments (
        id                INTEGER PRIMARY KEY,
        message_id        TEXT NOT NULL REFERENCES messages(id),
        idx               INTEGER NOT NULL,
        short_message     BLOB NOT NULL,
        esm_class         INTEGER NOT NULL,
        dcs               INTEGER NOT NULL,
        sar_ref           INTEGER,
        sar_total         INTEGER,
        sar_seq           INTEGER,
        integration_id    TEXT NOT NULL,
        state             TEXT NOT NULL,
        attempts          INTEGER NOT NULL DEFAULT 0,
        vendor_message_id TEXT,
        generic_code      INTEGER,
        generic_cause     TEXT,
        vendor_code       INTEGER,
        updated           REAL NOT NULL,
        UNIQUE (message_id, idx)
    );
    -- The durable queue: only queued rows are in this index, so it stays small.
    CREATE INDEX segments_queued ON segments(integration_id, id) WHERE state = 'queued';
    CREATE INDEX segments_vendor_id
        ON segments(integration_id, vendor_message_id) WHERE vendor_message_id IS NOT NULL;

    CREATE TABLE events (
        cursor        INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after pruning
        business_unit TEXT NOT NULL,
        type          TEXT NOT NULL,
        payload       BLOB NOT NULL,                      -- JSON
        created       REAL NOT NULL
    );
    CREATE INDEX events_by_unit ON events(business_unit, cursor);

    CREATE TABLE consumers (
        consumer TEXT PRIMARY KEY,
        cursor   INTEGER NOT NULL
    ) WITHOUT ROWID;
    """,
    # 2: compliance (opt-outs) and API keys
    """
    CREATE TABLE opt_outs (
        sender    TEXT NOT NULL,
        recipient TEXT NOT NULL,
        since     REAL NOT NULL,
        PRIMARY KEY (sender, recipient)
    ) WITHOUT ROWID;

    CREATE TABLE api_keys (
        id            TEXT PRIMARY KEY,
        business_unit TEXT NOT NULL,
        name          TEXT NOT NULL,
        hash          BLOB NOT NULL UNIQUE,   -- sha256(token); the token is never stored
        created       REAL NOT NULL,
        revoked       REAL
    );
    """,
    # 3: when each segment was submitted, for the receipt timeout
    # (`Store.expire_receipts`). `updated` will not do: an intermediate receipt
    # (ENROUTE, ACCEPTD) moves it, and the timeout counts from the submit.
    # Segments submitted before this step take their `updated`: at or after
    # their submit, so none expires early.
    """
    ALTER TABLE segments ADD COLUMN submitted_at REAL;
    UPDATE segments SET submitted_at = updated WHERE state = 'submitted';
    -- Only segments awaiting a final receipt: the receipt-timeout sweep's
    -- oldest-first scan per integration.
    CREATE INDEX segments_submitted ON segments(integration_id, submitted_at)
        WHERE state = 'submitted';
    """,
)

LATEST = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def migrate(conn: sqlite3.Connection, target: int = LATEST) -> int:
    """Bring the database to `target`, one transaction per step. Returns the
    version found before migrating. `conn` must be in autocommit mode
    (isolation_level=None)."""
    found = schema_version(conn)
    if found > LATEST:
        raise SchemaError(
            f"the database schema is version {found}, newer than this byosms knows "
            f"(up to {LATEST}): upgrade byosms, or use a backup made by this version"
        )
    for version in range(found + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # executescript() would COMMIT first; run the statements one by one
            # so the step and its version bump commit together.
            for stmt in _statements(MIGRATIONS[version - 1]):
                conn.execute(stmt)
            conn.execute(f"PRAGMA user_version = {version:d}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return found


def _statements(script: str) -> list[str]:
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            stmt = buf.strip()
            if stmt:
                out.append(stmt)
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
