"""The SQLite backend (stdlib ``sqlite3``): one file, no server, durable on return.

* ``journal_mode=WAL`` so readers (other Stores on the same file) never block the
  writer, and ``synchronous=FULL`` so every commit fsyncs the WAL: a ``put()`` that
  returned survives SIGKILL of the process and loss of power.  (WAL with NORMAL
  would only survive the former.)
* One connection per Store, in autocommit mode with explicit ``BEGIN IMMEDIATE``:
  a batch is one transaction, and the write lock is taken up front so a busy
  database makes ``put()`` wait (``busy_timeout``) instead of failing half-way.
  A lock serialises threads on the connection; a long ``reports()`` only holds it
  while fetching a page.
* Times are integer microseconds since the epoch (UTC): exact and index-friendly.
* Migrations are numbered steps, each applied in its own transaction together with
  its row in ``schema_version``; a database with a newer version is refused.
* Opening checks the file (``PRAGMA quick_check``) before anything is written to
  it: a damaged file is refused, never written into.  Every opening error is a
  StoreError naming the path and SQLite's reason.
"""
from __future__ import annotations

import datetime as dt
import functools
import os
import sqlite3
import threading
import time
from typing import Sequence

from fixgw.recorder.sqlbase import (COLUMNS, KEPT_COLUMNS, KEPT_TABLE, SETTLEMENT_COLUMNS, SETTLEMENTS_TABLE,
                                    UNITS_COLUMN, SqlReads, record_units)
from fixgw.recorder.store import (
    Checkpoint, Gap, StoredReport, StoredSettlement, StoreError, check_version, from_micros, to_micros, utc, watermark_key)

# Primary result codes worth repeating the write for: another connection holds the lock.
_TRANSIENT = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}

# (version, statements). Append only: a released step is never edited.
MIGRATIONS: list[tuple[int, tuple]] = [
    (1, (
        """CREATE TABLE reports (
            account TEXT NOT NULL,
            product TEXT NOT NULL,
            exec_id TEXT NOT NULL,
            exchange_index INTEGER NOT NULL,
            clock INTEGER NOT NULL,
            event INTEGER NOT NULL,
            symbol TEXT NOT NULL,
            subaccount INTEGER NOT NULL,
            transact_time INTEGER,
            raw TEXT NOT NULL,
            received_at INTEGER NOT NULL)""",
        # The identity of a report, and the order reports() and last_exec_id() walk.
        """CREATE UNIQUE INDEX reports_key
            ON reports (account, product, exchange_index, clock, event)""",
        # reports(ticker=...) pages through this range in key order, without a sort.
        """CREATE INDEX reports_symbol
            ON reports (account, product, symbol, exchange_index, clock, event)""",
        """CREATE TABLE gaps (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            account TEXT NOT NULL,
            product TEXT NOT NULL,
            begin_exec_id TEXT NOT NULL,
            end_exec_id TEXT,
            reason TEXT NOT NULL,
            recorded_at INTEGER NOT NULL)""",
        "CREATE INDEX gaps_account ON gaps (account, product, id)",
    )),
    # The recorder's promise: every report at or below this ExecID is stored.
    (2, (
        """CREATE TABLE watermarks (
            account TEXT NOT NULL,
            product TEXT NOT NULL,
            exchange_index INTEGER NOT NULL,
            exec_id TEXT NOT NULL,
            clock INTEGER NOT NULL,
            event INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (account, product, exchange_index))""",
    )),
    (3, tuple(sql.format(id="INTEGER PRIMARY KEY AUTOINCREMENT", time="INTEGER") for sql in SETTLEMENTS_TABLE)),
    (4, tuple(sql.format(blob="BLOB", time="INTEGER") for sql in KEPT_TABLE)),
    (5, (UNITS_COLUMN, lambda db: record_units(lambda sql, args: db.execute(sql, args).fetchall(),
                                               db.executemany, "?"))),
]
_PUT_KEPT = f"INSERT OR REPLACE INTO kept ({KEPT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"

_ROW = "(?,?,?,?,?,?,?,?,?,?,?,?)"
_ROWS = 1000  # rows per INSERT at most: 12,000 parameters (SQLite >= 3.32 allows 32,766; older ones 999)


@functools.lru_cache(maxsize=64)
def _insert(rows: int) -> str:
    return f"INSERT OR IGNORE INTO reports ({COLUMNS}) VALUES " + ",".join([_ROW] * rows)

# Upsert that only ever moves forward, so a late or repeated call cannot lower it.
_SET_WATERMARK = (
    "INSERT INTO watermarks (account, product, exchange_index, exec_id, clock, event, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (account, product, exchange_index) DO UPDATE SET exec_id=excluded.exec_id, "
    "clock=excluded.clock, event=excluded.event, updated_at=excluded.updated_at "
    "WHERE (excluded.clock, excluded.event) > (watermarks.clock, watermarks.event)")


def _row(r: StoredReport) -> tuple:
    if not isinstance(r, StoredReport):
        raise TypeError(f"put() takes StoredReports, not {type(r).__name__}")
    return (r.account, r.product, r.exec_id, r.exchange_index, r.clock, r.event, r.symbol,
            r.subaccount, to_micros(r.transact_time), r.raw, to_micros(r.received_at), r.units.value)


def _kept_row(k: Checkpoint) -> tuple:
    return (k.account, k.product, *k.through, k.exec_id, k.version, k.reports, k.state,
            to_micros(dt.datetime.now(dt.timezone.utc)))


class SqliteStore(SqlReads):
    """A :class:`~fixgw.recorder.store.Store` in one SQLite file."""

    migrations = MIGRATIONS
    P = "?"

    def _query(self, sql: str, args) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _time_arg(self, t: dt.datetime) -> int:
        return to_micros(utc(t))

    def _time_of(self, value: int | None) -> dt.datetime | None:
        return from_micros(value)

    def _wal(self, timeout: float) -> str:
        """Switch to WAL. SQLite answers "locked" at once (no busy wait) while another
        connection is making the same switch on a new file, so retry until the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                mode = ""
            if mode.lower() == "wal" or self.path == ":memory:" or time.monotonic() > deadline:
                return mode
            time.sleep(0.02)

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout: float = 30.0):
        self.path = os.fspath(path)
        self.where = f"SQLite store {self.path}"
        self._lock = threading.RLock()
        try:
            # isolation_level=None: sqlite3 opens no implicit transactions; we say BEGIN.
            self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                       check_same_thread=False)
        except sqlite3.Error as e:
            raise StoreError(f"{self.where}: {e}{self._hint()}") from None
        try:
            self._check()
            mode = self._wal(busy_timeout)
            if mode.lower() != "wal" and self.path != ":memory:":
                raise sqlite3.OperationalError(f"cannot switch to WAL (got {mode})")
            # as many rows per INSERT as this SQLite's parameter limit allows (999 before 3.32)
            self._rows = max(1, min(_ROWS, self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 12))
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA fullfsync=ON")  # macOS: fsync() alone does not flush
            self._migrate()
        except sqlite3.Error as e:
            self._db.close()
            raise StoreError(f"{self.where}: {e}{self._hint()}") from None
        except BaseException:
            self._db.close()
            raise

    def _hint(self) -> str:
        parent = os.path.dirname(os.path.abspath(self.path))
        return "" if self.path == ":memory:" or os.path.isdir(parent) else f" (directory {parent} does not exist)"

    def _check(self) -> None:
        """Refuse a damaged file before writing anything into it (quick_check reads every page)."""
        try:
            problems = [row[0] for row in self._db.execute("PRAGMA quick_check(5)").fetchall()]
        except sqlite3.DatabaseError as e:
            if (getattr(e, "sqlite_errorcode", 0) or 0) & 0xFF not in _DAMAGED:
                raise
            problems = [str(e)]
        if problems != ["ok"]:
            raise StoreError(f"{self.where} is damaged (PRAGMA quick_check: {'; '.join(problems)}); "
                             "refusing to write into it: restore it from a backup or move it aside "
                             "(a new store is backfilled with what KalshiDC still has, the last 3 hours)")

    def transient(self, exc: BaseException) -> bool:
        code = getattr(exc, "sqlite_errorcode", None)
        return isinstance(exc, sqlite3.OperationalError) and code is not None and code & 0xFF in _TRANSIENT

    # ------------------------------------------------------------------ migrations
    def _migrate(self) -> None:
        known = max(v for v, _ in self.migrations)
        for version, statements in self.migrations:
            with self._transaction():
                current = self._version()
                check_version(current, known, self.path)
                if current >= version:
                    continue  # applied earlier, or by another process meanwhile
                for sql in statements:  # SQL, or a data step given the connection
                    sql(self._db) if callable(sql) else self._db.execute(sql)
                self._db.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                                 (version, to_micros(dt.datetime.now(dt.timezone.utc))))

    def _version(self) -> int:
        self._db.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                         "version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
        return self._db.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]

    def schema_version(self) -> int:
        with self._lock:
            return self._db.execute(
                "SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]

    # ------------------------------------------------------------------ writing
    def _transaction(self):
        return _Transaction(self._db, self._lock)

    def put(self, reports: Sequence[StoredReport]) -> int:
        rows = [_row(r) for r in reports]
        if not rows:
            return 0
        with self._transaction():
            before = self._db.total_changes
            for i in range(0, len(rows), self._rows):  # one statement per chunk: executemany lets go of
                chunk = rows[i:i + self._rows]  # the GIL and takes it back for every row, a handoff each time
                self._db.execute(_insert(len(chunk)), [v for row in chunk for v in row])
            return self._db.total_changes - before

    def put_settlements(self, settlements: Sequence[StoredSettlement]) -> int:
        rows = [(x.account, x.product, x.report_id, x.symbol, x.raw, to_micros(x.received_at)) for x in settlements]
        if not rows:
            return 0
        with self._transaction():
            before = self._db.total_changes
            self._db.executemany(f"INSERT OR IGNORE INTO settlements ({SETTLEMENT_COLUMNS}) VALUES (?,?,?,?,?,?)", rows)
            return self._db.total_changes - before

    def add_gap(self, gap: Gap) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO gaps (account, product, begin_exec_id, end_exec_id, reason, "
                "recorded_at) VALUES (?,?,?,?,?,?)",
                (gap.account, gap.product, gap.begin_exec_id, gap.end_exec_id, gap.reason,
                 to_micros(gap.recorded_at)))

    def set_watermark(self, account: str, product: str, exchange_index: int,
                      exec_id: str, kept: Checkpoint | None = None) -> None:
        clock, event = watermark_key(exchange_index, exec_id)
        args = [account, product, exchange_index, exec_id, clock, event]
        args.append(to_micros(dt.datetime.now(dt.timezone.utc)))
        with self._transaction():
            self._db.execute(_SET_WATERMARK, args)
            if kept is not None:
                self._db.execute(_PUT_KEPT, _kept_row(kept))

    def put_checkpoint(self, kept: Checkpoint) -> None:
        with self._transaction():
            self._db.execute(_PUT_KEPT, _kept_row(kept))

    def watermark(self, account: str, product: str, exchange_index: int = 0) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT exec_id FROM watermarks WHERE account=? AND product=? "
                "AND exchange_index=?", (account, product, exchange_index)).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ reading
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT under the Store's lock; ROLLBACK on any exception."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock):
        self.db, self.lock = db, lock

    def __enter__(self) -> None:
        self.lock.acquire()
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.lock.release()
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    self.db.execute("COMMIT")
                except BaseException:
                    if self.db.in_transaction:
                        self.db.execute("ROLLBACK")
                    raise
            elif self.db.in_transaction:
                self.db.execute("ROLLBACK")
        finally:
            self.lock.release()
