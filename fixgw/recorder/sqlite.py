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
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
import time
from typing import Iterator, Sequence

from fixgw.recorder.store import (
    PAGE_SIZE, Gap, StoredReport, check_version, from_micros, to_micros, utc, watermark_key)

# (version, statements). Append only: a released step is never edited.
MIGRATIONS: list[tuple[int, tuple[str, ...]]] = [
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
]

_COLUMNS = ("account, product, exec_id, exchange_index, clock, event, symbol, subaccount, "
            "transact_time, raw, received_at")
_INSERT = f"INSERT OR IGNORE INTO reports ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)"

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
            r.subaccount, to_micros(r.transact_time), r.raw, to_micros(r.received_at))


def _report(row: tuple) -> StoredReport:
    (account, product, exec_id, index, clock, event, symbol, sub, tt, raw, received) = row
    return StoredReport(account, product, exec_id, index, clock, event, symbol, sub,
                        from_micros(tt), raw, from_micros(received))


class SqliteStore:
    """A :class:`~fixgw.recorder.store.Store` in one SQLite file."""

    migrations = MIGRATIONS

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
        self._lock = threading.RLock()
        # isolation_level=None: sqlite3 opens no implicit transactions; we say BEGIN.
        self._db = sqlite3.connect(self.path, timeout=busy_timeout, isolation_level=None,
                                   check_same_thread=False)
        try:
            mode = self._wal(busy_timeout)
            if mode.lower() != "wal" and self.path != ":memory:":
                raise sqlite3.OperationalError(f"cannot switch {self.path} to WAL (got {mode})")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA fullfsync=ON")  # macOS: fsync() alone does not flush
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    # ------------------------------------------------------------------ migrations
    def _migrate(self) -> None:
        known = max(v for v, _ in self.migrations)
        for version, statements in self.migrations:
            with self._transaction():
                current = self._version()
                check_version(current, known, self.path)
                if current >= version:
                    continue  # applied earlier, or by another process meanwhile
                for sql in statements:
                    self._db.execute(sql)
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
            self._db.executemany(_INSERT, rows)
            return self._db.total_changes - before

    def add_gap(self, gap: Gap) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT INTO gaps (account, product, begin_exec_id, end_exec_id, reason, "
                "recorded_at) VALUES (?,?,?,?,?,?)",
                (gap.account, gap.product, gap.begin_exec_id, gap.end_exec_id, gap.reason,
                 to_micros(gap.recorded_at)))

    def set_watermark(self, account: str, product: str, exchange_index: int,
                      exec_id: str) -> None:
        clock, event = watermark_key(exchange_index, exec_id)
        args = [account, product, exchange_index, exec_id, clock, event]
        args.append(to_micros(dt.datetime.now(dt.timezone.utc)))
        with self._transaction():
            self._db.execute(_SET_WATERMARK, args)

    def watermark(self, account: str, product: str, exchange_index: int = 0) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT exec_id FROM watermarks WHERE account=? AND product=? "
                "AND exchange_index=?", (account, product, exchange_index)).fetchone()
        return None if row is None else row[0]

    # ------------------------------------------------------------------ reading
    def last_exec_id(self, account: str, product: str, exchange_index: int = 0) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT exec_id FROM reports WHERE account=? AND product=? AND exchange_index=? "
                "ORDER BY clock DESC, event DESC LIMIT 1",
                (account, product, exchange_index)).fetchone()
        return None if row is None else row[0]

    def reports(self, account: str, product: str, *, ticker: str | None = None,
                since: dt.datetime | None = None, until: dt.datetime | None = None,
                subaccount: int | None = None) -> Iterator[StoredReport]:
        where, args = ["account=?", "product=?"], [account, product]
        if ticker is not None:
            where.append("symbol=?")
            args.append(ticker)
        if since is not None:
            where.append("transact_time>=?")
            args.append(to_micros(utc(since)))
        if until is not None:
            where.append("transact_time<?")
            args.append(to_micros(utc(until)))
        if subaccount is not None:
            where.append("subaccount=?")
            args.append(subaccount)
        return self._pages(" AND ".join(where), args)

    def _pages(self, where: str, args: list) -> Iterator[StoredReport]:
        first = (f"SELECT {_COLUMNS} FROM reports WHERE {where} "
                 f"ORDER BY exchange_index, clock, event LIMIT {PAGE_SIZE}")
        after = (f"SELECT {_COLUMNS} FROM reports WHERE {where} "
                 "AND (exchange_index, clock, event) > (?, ?, ?) "
                 f"ORDER BY exchange_index, clock, event LIMIT {PAGE_SIZE}")
        sql, page_args = first, args
        while True:
            with self._lock:
                rows = self._db.execute(sql, page_args).fetchall()
            for row in rows:
                yield _report(row)
            if len(rows) < PAGE_SIZE:
                return
            sql, page_args = after, [*args, *rows[-1][3:6]]

    def count(self, account: str | None = None, product: str | None = None) -> int:
        where, args = _optional(account=account, product=product)
        with self._lock:
            return self._db.execute(f"SELECT count(*) FROM reports{where}", args).fetchone()[0]

    def exec_ids(self, account: str, product: str) -> set[str]:
        with self._lock:
            cur = self._db.execute("SELECT exec_id FROM reports WHERE account=? AND product=?",
                                   (account, product))
            return {row[0] for row in cur}

    def gaps(self, account: str | None = None, product: str | None = None) -> list[Gap]:
        where, args = _optional(account=account, product=product)
        with self._lock:
            rows = self._db.execute(
                "SELECT account, product, begin_exec_id, end_exec_id, reason, recorded_at "
                f"FROM gaps{where} ORDER BY id", args).fetchall()
        return [Gap(a, p, b, e, r, from_micros(t)) for a, p, b, e, r, t in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"


def _optional(**cols: object) -> tuple[str, list]:
    given = {k: v for k, v in cols.items() if v is not None}
    if not given:
        return "", []
    return " WHERE " + " AND ".join(f"{k}=?" for k in given), list(given.values())


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
