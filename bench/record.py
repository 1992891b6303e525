"""Recorder figures: durable store throughput, KalshiDC backfill time, memory growth.

* ``record_sqlite_reports_per_s`` / ``record_postgres_reports_per_s``: StoredReports
  put() in batches of 500, each batch durable on return; baseline: the same rows
  inserted by hand (sqlite3 executemany INSERT OR IGNORE / psycopg COPY) into the
  same kind of table (the reports table with its two indexes, created by the
  store's own first migration) with the same durability settings, in the same run.
* ``backfill_100k_s``: the simulator holds 100,000 reports in its drop copy; a
  recorder starting from the first one asks KalshiDC and writes them all to
  SQLite. Baseline: a bare QuickFIX initiator sending the same U1 and counting
  the reports until U2, storing nothing.
* ``record_rss_growth_mb``: the recorder fed 1,000,000 reports through QuickFIX's callback
  (``fromApp`` with a dictionary-parsed ``quickfix.Message``, on a thread of its own; no
  network); resident memory at 1,000,000 minus at 100,000, each after everything received
  is durable (baseline: the RSS at 100,000).
"""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

from bench.translation import sample_reports
from fixgw.pricing import Units
from fixgw.recorder.store import StoredReport, open_store

N_STORE = 50_000
BATCH = 500


def _reports(n: int, account: str = "bench") -> list[StoredReport]:
    now = dt.datetime.now(dt.timezone.utc)
    return [StoredReport.from_raw(account, "event", raw, now, Units.CENTS) for raw in sample_reports(n)]


def _rate(put, rows) -> float:
    t = time.perf_counter()
    for i in range(0, len(rows), BATCH):
        put(rows[i:i + BATCH])
    return len(rows) / (time.perf_counter() - t)


def _reports_table(backend) -> list[str]:
    """The store's reports table as its migrations leave it (the table, its two indexes, then each
    later column and index on reports), without the data steps: the bare baseline writes into the
    same kind of table."""
    out = list(backend.MIGRATIONS[0][1][:3])
    for _, steps in backend.MIGRATIONS[1:]:
        out += [sql for sql in steps if isinstance(sql, str) and "reports" in sql and "kept" not in sql
                and "settlement" not in sql]
    return out


def sqlite_figure(rows: list[StoredReport], tmp: Path):
    store = open_store(f"sqlite:///{tmp / 'fixgw.db'}")
    ours = _rate(store.put, rows)
    store.close()
    from fixgw.recorder import sqlite as backend

    db = sqlite3.connect(tmp / "bare.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    for sql in _reports_table(backend):
        db.execute(sql)
    insert = f"INSERT OR IGNORE INTO reports ({backend.COLUMNS}) VALUES ({', '.join('?' * len(backend._row(rows[0])))})"

    def bare(batch):
        db.execute("BEGIN")
        db.executemany(insert, [backend._row(r) for r in batch])
        db.execute("COMMIT")

    base = _rate(bare, rows)
    db.close()
    return ("record_sqlite_reports_per_s", ours, "reports/s", base, ours / base)


def postgres_figure(rows: list[StoredReport]):
    import psycopg

    from fixgw.testing.pgserver import private_server

    with private_server() as url:
        store = open_store(url)
        ours = _rate(store.put, rows)
        store.close()
        from fixgw.recorder import postgres as backend

        with psycopg.connect(url, autocommit=True) as db:
            db.execute("CREATE SCHEMA bare")
            db.execute("SET search_path TO bare")
            for sql in _reports_table(backend):
                db.execute(sql)

            def bare(batch):
                with db.transaction(), db.cursor() as cur:
                    with cur.copy(f"COPY reports ({backend.COLUMNS}) FROM STDIN") as copy:
                        for r in batch:
                            copy.write_row(backend._row(r))

            base = _rate(bare, rows)
    return ("record_postgres_reports_per_s", ours, "reports/s", base, ours / base)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run():
    tmp = Path(tempfile.mkdtemp(prefix="fixgw-bench-rec-"))
    try:
        rows = _reports(N_STORE)
        yield sqlite_figure(rows, tmp)
        yield postgres_figure(rows)
        from bench import backfill
        yield backfill.figure(tmp)
        yield backfill.rss_figure(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
