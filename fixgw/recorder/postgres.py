"""The PostgreSQL backend (psycopg 3): the same schema and semantics as SQLite.

* A batch is ``COPY`` straight into ``reports`` inside a savepoint: a bare COPY,
  the fastest write PostgreSQL has. Only when the unique key refuses it (a report
  already stored, twice in the batch, or written concurrently by another recorder)
  is the savepoint rolled back and the batch copied into a per-connection temporary
  table and moved with one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING``, whose
  rowcount is what was new.
* Durable on return: the commit waits for the WAL flush.  ``synchronous_commit``
  is forced back to ``on`` if the server default turned it off.
* The connection runs in autocommit; writes open explicit transactions, reads
  don't, so a slow ``reports()`` consumer never leaves the session idle in a
  transaction.  A lost connection is reopened on the next call; a ``put()`` that
  raised may or may not have committed, and repeating it is always safe.
* Migrations are numbered steps, each in its own transaction that first takes a
  transaction-scoped advisory lock, so recorders starting together migrate once.
* Opening errors are StoreErrors naming the URL (without its password) and the
  server's or driver's reason.  A write failing because the connection was lost
  or the server is restarting is :meth:`~PostgresStore.transient`: repeating it
  reconnects.
"""
from __future__ import annotations

import datetime as dt
import threading
import urllib.parse
from typing import Sequence

import psycopg

from fixgw.recorder.sqlbase import (COLUMNS, KEPT_COLUMNS, KEPT_TABLE, SETTLEMENT_COLUMNS, SETTLEMENTS_TABLE,
                                    UNITS_COLUMN, SqlReads, record_units)
from fixgw.recorder.store import (
    UTC, Checkpoint, Gap, StoredReport, StoredSettlement, StoreError, check_version, utc, watermark_key)

# SQLSTATEs worth repeating a write for: the connection broke (class 08), the server is
# shutting down or starting (57P01-57P03), a serialization failure or deadlock (40001, 40P01).
_TRANSIENT_STATES = {"40001", "40P01", "57P01", "57P02", "57P03"}

# pg_advisory_xact_lock key: any constant shared by every fixgw process ("fixgwREC").
_MIGRATION_LOCK = 0x6669786777524543

MIGRATIONS: list[tuple[int, tuple]] = [
    (1, (
        """CREATE TABLE reports (
            account text NOT NULL,
            product text NOT NULL,
            exec_id text NOT NULL,
            exchange_index bigint NOT NULL,
            clock bigint NOT NULL,
            event bigint NOT NULL,
            symbol text NOT NULL,
            subaccount bigint NOT NULL,
            transact_time timestamptz,
            raw text NOT NULL,
            received_at timestamptz NOT NULL)""",
        """CREATE UNIQUE INDEX reports_key
            ON reports (account, product, exchange_index, clock, event)""",
        """CREATE INDEX reports_symbol
            ON reports (account, product, symbol, exchange_index, clock, event)""",
        """CREATE TABLE gaps (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            account text NOT NULL,
            product text NOT NULL,
            begin_exec_id text NOT NULL,
            end_exec_id text,
            reason text NOT NULL,
            recorded_at timestamptz NOT NULL)""",
        "CREATE INDEX gaps_account ON gaps (account, product, id)",
    )),
    # The recorder's promise: every report at or below this ExecID is stored.
    (2, (
        """CREATE TABLE watermarks (
            account text NOT NULL,
            product text NOT NULL,
            exchange_index bigint NOT NULL,
            exec_id text NOT NULL,
            clock bigint NOT NULL,
            event bigint NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (account, product, exchange_index))""",
    )),
    (3, tuple(sql.format(id="bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY", time="timestamptz")
              for sql in SETTLEMENTS_TABLE)),
    (4, tuple(sql.format(blob="bytea", time="timestamptz") for sql in KEPT_TABLE)),
    # The order reports were stored in (SQLite's rowid), for readers that follow the store (fixgw.api):
    # one writer per account, so an account's numbers grow in the order its transactions commit.
    (5, ("ALTER TABLE reports ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY",
         "CREATE INDEX reports_seq ON reports (seq)")),
    (6, (UNITS_COLUMN.replace("ADD COLUMN", "ADD COLUMN IF NOT EXISTS"), lambda db: record_units(lambda sql, args: db.execute(sql, args).fetchall(),
                                               lambda sql, rows: db.cursor().executemany(sql, rows), "%s"))),
]
_PUT_KEPT = (f"INSERT INTO kept ({KEPT_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,now()) "
             "ON CONFLICT (account, product) DO UPDATE SET exchange_index=excluded.exchange_index, "
             "clock=excluded.clock, event=excluded.event, exec_id=excluded.exec_id, version=excluded.version, "
             "reports=excluded.reports, state=excluded.state, updated_at=excluded.updated_at")


# Upsert that only ever moves forward, so a late or repeated call cannot lower it.
_SET_WATERMARK = (
    "INSERT INTO watermarks (account, product, exchange_index, exec_id, clock, event, updated_at) "
    "VALUES (%s, %s, %s, %s, %s, %s, now()) "
    "ON CONFLICT (account, product, exchange_index) DO UPDATE SET exec_id=excluded.exec_id, "
    "clock=excluded.clock, event=excluded.event, updated_at=excluded.updated_at "
    "WHERE (excluded.clock, excluded.event) > (watermarks.clock, watermarks.event)")


def _row(r: StoredReport) -> tuple:
    if not isinstance(r, StoredReport):
        raise TypeError(f"put() takes StoredReports, not {type(r).__name__}")
    return (r.account, r.product, r.exec_id, r.exchange_index, r.clock, r.event, r.symbol,
            r.subaccount, None if r.transact_time is None else utc(r.transact_time), r.raw,
            utc(r.received_at), r.units.value)


def _kept_row(k: Checkpoint) -> tuple:
    return (k.account, k.product, *k.through, k.exec_id, k.version, k.reports, k.state)


class PostgresStore(SqlReads):
    """A :class:`~fixgw.recorder.store.Store` in a PostgreSQL database."""

    migrations = MIGRATIONS
    P = "%s"
    SEQ = "seq"

    def _query(self, sql: str, args) -> list[tuple]:
        with self._lock:
            return self._conn().execute(sql, args).fetchall()

    def _time_arg(self, t: dt.datetime) -> dt.datetime:
        return utc(t)

    def _time_of(self, value: dt.datetime | None) -> dt.datetime | None:
        return None if value is None else value.astimezone(UTC)

    def __init__(self, url: str, *, connect_timeout: int = 10):
        self.url = url
        self.where = f"PostgreSQL store {safe_url(url)}"
        self._timeout = connect_timeout
        self._lock = threading.RLock()
        self._db: psycopg.Connection | None = None
        self._closed = False
        try:
            self._migrate()
        except psycopg.Error as e:
            self.close()
            raise StoreError(f"{self.where}: {_cause(e)}") from None
        except BaseException:
            self.close()
            raise

    def transient(self, exc: BaseException) -> bool:
        if not isinstance(exc, psycopg.Error) or self._closed:
            return False
        state = exc.sqlstate
        if state is None:  # raised by the driver: the connection failed or was lost
            return isinstance(exc, psycopg.OperationalError)
        return state.startswith("08") or state in _TRANSIENT_STATES

    # ------------------------------------------------------------------ connection
    def _conn(self) -> psycopg.Connection:
        """The live connection, (re)opened as needed. Call with the lock held."""
        if self._closed:
            raise psycopg.InterfaceError("the store is closed")
        db = self._db
        if db is None or db.closed or db.broken:
            if db is not None:
                db.close()
            self._db = None
            db = psycopg.connect(self.url, autocommit=True, connect_timeout=self._timeout)
            try:
                db.execute("SET TIME ZONE 'UTC'")
                if db.execute("SHOW synchronous_commit").fetchone()[0] == "off":
                    db.execute("SET synchronous_commit TO on")
                db.execute(f"CREATE TEMP TABLE IF NOT EXISTS incoming ({_TEMPCOLUMNS}) "
                           "ON COMMIT DELETE ROWS")
            except BaseException:
                db.close()
                raise
            self._db = db
        return db

    # ------------------------------------------------------------------ migrations
    def _migrate(self) -> None:
        known = max(v for v, _ in self.migrations)
        with self._lock:
            db = self._conn()
            for version, statements in self.migrations:
                with db.transaction():
                    db.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                    db.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                               "version integer PRIMARY KEY, applied_at timestamptz NOT NULL)")
                    current = self._version(db)
                    check_version(current, known, _where(db))
                    if current >= version:
                        continue
                    for sql in statements:  # SQL, or a data step given the connection
                        sql(db) if callable(sql) else db.execute(sql)
                    db.execute("INSERT INTO schema_version (version, applied_at) "
                               "VALUES (%s, now())", (version,))

    @staticmethod
    def _version(db: psycopg.Connection) -> int:
        return db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]

    def schema_version(self) -> int:
        with self._lock:
            return self._version(self._conn())

    # ------------------------------------------------------------------ writing
    def put(self, reports: Sequence[StoredReport]) -> int:
        rows = [_row(r) for r in reports]
        if not rows:
            return 0
        with self._lock:
            db = self._conn()
            with db.transaction(), db.cursor() as cur:
                try:
                    with db.transaction():  # a savepoint: most batches hold no stored report
                        with cur.copy(f"COPY reports ({COLUMNS}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
                    return len(rows)
                except psycopg.errors.UniqueViolation:
                    pass
                with cur.copy(f"COPY incoming ({COLUMNS}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                cur.execute(f"INSERT INTO reports ({COLUMNS}) SELECT {COLUMNS} FROM incoming "
                            "ON CONFLICT DO NOTHING")
                return cur.rowcount

    def put_settlements(self, settlements: Sequence[StoredSettlement]) -> int:
        rows = [(x.account, x.product, x.report_id, x.symbol, x.raw, utc(x.received_at)) for x in settlements]
        if not rows:
            return 0
        with self._lock:
            db = self._conn()
            with db.transaction(), db.cursor() as cur:
                cur.executemany(f"INSERT INTO settlements ({SETTLEMENT_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s) "
                                "ON CONFLICT DO NOTHING", rows)
                return cur.rowcount

    def add_gap(self, gap: Gap) -> None:
        with self._lock:
            db = self._conn()
            with db.transaction():
                db.execute(
                    "INSERT INTO gaps (account, product, begin_exec_id, end_exec_id, reason, "
                    "recorded_at) VALUES (%s, %s, %s, %s, %s, %s)",
                    (gap.account, gap.product, gap.begin_exec_id, gap.end_exec_id, gap.reason,
                     utc(gap.recorded_at)))

    def set_watermark(self, account: str, product: str, exchange_index: int,
                      exec_id: str, kept: Checkpoint | None = None) -> None:
        clock, event = watermark_key(exchange_index, exec_id)
        args = [account, product, exchange_index, exec_id, clock, event]
        with self._lock:
            db = self._conn()
            with db.transaction():
                db.execute(_SET_WATERMARK, args)
                if kept is not None:
                    db.execute(_PUT_KEPT, _kept_row(kept))

    def put_checkpoint(self, kept: Checkpoint) -> None:
        with self._lock:
            db = self._conn()
            with db.transaction():
                db.execute(_PUT_KEPT, _kept_row(kept))

    def watermark(self, account: str, product: str, exchange_index: int = 0) -> str | None:
        with self._lock:
            row = self._conn().execute(
                "SELECT exec_id FROM watermarks WHERE account=%s AND product=%s "
                "AND exchange_index=%s", (account, product, exchange_index)).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ reading
    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        info = psycopg.conninfo.conninfo_to_dict(self.url)
        info.pop("password", None)
        return f"PostgresStore({info!r})"


# The temp table repeats the columns rather than LIKE reports, so it can exist
# before the first migration has created reports.
_TEMPCOLUMNS = ("account text, product text, exec_id text, exchange_index bigint, "
                 "clock bigint, event bigint, symbol text, subaccount bigint, "
                 "transact_time timestamptz, raw text, received_at timestamptz, units text")


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unparsable URL>"


def _cause(e: BaseException) -> str:
    """The driver's reason on one line (libpq's messages span several)."""
    return " ".join(str(e).split()) or type(e).__name__


def _where(db: psycopg.Connection) -> str:
    """Names the database in errors, never the password."""
    i = db.info
    return f"postgresql database {i.dbname!r} on {i.host}:{i.port}"
