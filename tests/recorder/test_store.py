"""The recorder's store, against both backends: SQLite in a file and a real PostgreSQL."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import tracemalloc
import types
from dataclasses import astuple
from decimal import Decimal as D

import psycopg
import pytest

from fixgw.fix import codec as fields
from fixgw.errors import DecodeError
from fixgw.models import fix as m
from fixgw.pricing import Units
from fixgw.recorder.postgres import PostgresStore
from fixgw.recorder.sqlite import SqliteStore
from fixgw.recorder.store import Gap, Store, StoredReport, StoreError, open_store

SOH = "\x01"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 8, 20, 14, 30, tzinfo=UTC)
RECEIVED = dt.datetime(2026, 8, 20, 14, 31, 5, 250000, tzinfo=UTC)
_seq = iter(range(1, 10**9))


def fix_text(model: m.Model, units: Units = Units.CENTS) -> str:
    """A drop-copy message as QuickFIX's toString() gives it: header, body, trailer."""
    mt, pairs = fields.encode(model, units)
    body = (f"35={mt}{SOH}34={next(_seq)}{SOH}49=KalshiDC{SOH}52=20260820-14:31:05.250{SOH}"
            f"56=key{SOH}" + "".join(f"{t}={v}{SOH}" for t, v in pairs))
    head = f"8=FIXT.1.1{SOH}9={len(body)}{SOH}"
    return f"{head}{body}10={sum((head + body).encode()) % 256:03d}{SOH}"


def execution_report(exec_id: str, symbol: str = "HIGHNY-23DEC31-B50", sub: int | None = None,
                     at: dt.datetime | None = T0, **kw) -> m.ExecutionReport:
    fill = dict(exec_type=m.ExecType.TRADE, ord_status=m.OrdStatus.FILLED, cum_qty=D("10.00"),
                leaves_qty=D("0.00"), last_px=D("0.74"), last_qty=D("10.00"), trd_match_id="t-1")
    fill.update(kw)
    return m.ExecutionReport(order_id="ord-1", cl_ord_id="cl-1", exec_id=exec_id, side=m.Side.BUY,
                             symbol=symbol, price=D("0.75"), transact_time=at, alloc_account=sub,
                             **fill)


def report(exec_id: str, *, account: str = "acct", product: str = "event", **kw) -> StoredReport:
    return StoredReport.from_raw(account, product, fix_text(execution_report(exec_id, **kw)),
                                 RECEIVED, Units.CENTS)


@pytest.fixture(params=["sqlite", "postgres"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/recorder.db"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def store(url):
    s = open_store(url)
    yield s
    s.close()


def target(store) -> str:
    return store.path if isinstance(store, SqliteStore) else store.url


# ================================================================== StoredReport
def test_from_raw_keeps_the_text_and_the_keys():
    raw = fix_text(execution_report("4;7;2", sub=3))
    r = StoredReport.from_raw("acct", "event", raw, RECEIVED.replace(tzinfo=None), Units.CENTS)
    assert (r.exec_id, r.exchange_index, r.clock, r.event) == ("4;7;2", 2, 4, 7)
    assert (r.symbol, r.subaccount, r.transact_time, r.raw) == ("HIGHNY-23DEC31-B50", 3, T0, raw)
    assert r.received_at == RECEIVED and r.received_at.tzinfo is UTC  # naive is UTC
    assert r.decode().last_px == D("0.74")
    assert report("4;7").subaccount == 0 and report("4;7").exchange_index == 0
    assert report("4;7", at=None).transact_time is None
    msg = execution_report("4;7;2", sub=3)
    assert StoredReport.from_model("acct", "event", msg, raw, RECEIVED, Units.CENTS) == r
    assert StoredReport.from_model("acct", "event", msg, raw, units=Units.CENTS).received_at.tzinfo is UTC


def test_from_raw_refuses_pending_reports_and_non_reports():
    pending = execution_report("-1;-1", exec_type=m.ExecType.PENDING_NEW,
                               ord_status=m.OrdStatus.PENDING_NEW)
    with pytest.raises(ValueError, match="pending") as info:
        StoredReport.from_raw("acct", "event", fix_text(pending), RECEIVED, Units.CENTS)
    assert not isinstance(info.value, DecodeError)
    resend = m.EventResendComplete(ref_seq_num=3, count=0)
    with pytest.raises(DecodeError, match="not an ExecutionReport"):
        StoredReport.from_raw("acct", "event", fix_text(resend), RECEIVED, Units.CENTS)
    for bad in ("4;7;1;2", "4", "a;b", "4;+7", "4; 7", "4;1_0", "99999999999999999999;1", "-4;7"):
        with pytest.raises(DecodeError, match="ExecID"):
            report(bad)
    for garbage in ("not fix", "", fix_text(execution_report("4;7")).replace("150=F", "150=Z")):
        with pytest.raises(DecodeError):
            StoredReport.from_raw("acct", "event", garbage, RECEIVED, Units.CENTS)
    with pytest.raises(ValueError, match="product"):
        report("4;7", product="futures")


# ================================================================== put / dedupe
def test_put_stores_each_report_once(store):
    assert isinstance(store, Store)
    a, b, c, d, e = (report(f"1;{i}") for i in range(5))
    assert store.put([a, b, c]) == 3
    assert store.put([a, b, c]) == 0  # the same batch again
    assert store.put([b, c, d, e]) == 2  # overlapping
    assert store.put([e, e, report("2;1"), report("2;1")]) == 1  # duplicates within a batch
    assert store.put([]) == 0
    assert store.count() == store.count("acct", "event") == 6
    assert store.exec_ids("acct", "event") == {"1;0", "1;1", "1;2", "1;3", "1;4", "2;1"}
    # Identity is numeric: index 0 written with its suffix is the same event.
    assert store.put([report("1;0;0")]) == 0
    # ... but the same ExecID of another account or product is another report.
    assert store.put([report("1;0", account="other"), report("1;0", product="margin")]) == 2
    assert (store.count(), store.count("other"), store.count(product="margin")) == (8, 1, 1)
    assert store.exec_ids("nobody", "event") == set()


def test_a_failed_batch_stores_nothing_and_the_store_stays_usable(store):
    good = report("5;1")
    too_big = StoredReport("acct", "event", "5;2", 0, 2**64, 2, "X", 0, None, good.raw, RECEIVED, Units.CENTS)
    with pytest.raises(Exception):
        store.put([good, too_big])
    with pytest.raises(TypeError):
        store.put([good, "8=FIXT.1.1"])
    assert store.count() == 0
    assert store.put([good]) == 1 and store.count() == 1


def test_put_from_several_threads(store):
    batches = [[report(f"{t};{i}") for i in range(50)] for t in range(4)]
    new = []
    threads = [threading.Thread(target=lambda b=b: new.append(store.put(b + batches[0])))
               for b in batches]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sum(new) == store.count() == 200


# ================================================================== reading
def test_last_exec_id_orders_numerically_per_exchange_index(store):
    assert store.last_exec_id("acct", "event") is None
    store.put([report("9;100"), report("10;2"), report("9;999"), report("10;1")])
    assert store.last_exec_id("acct", "event") == "10;2"  # as strings "9;999" would win
    store.put([report("3;5;1"), report("20;1;1"), report("100;0;1"), report("99;9999;1")])
    assert store.last_exec_id("acct", "event", 1) == "100;0;1"
    assert store.last_exec_id("acct", "event") == "10;2"
    assert store.last_exec_id("acct", "event", 2) is None
    assert store.last_exec_id("acct", "margin") is None


def test_reports_come_in_key_order_with_filters(store):
    t = [T0 + dt.timedelta(minutes=i) for i in range(6)]
    ids = [("10;2", "A", 0, t[0]), ("9;100", "B", 3, t[1]), ("2;1;1", "A", 3, t[2]),
           ("9;99", "A", 0, t[3]), ("1;1;1", "B", 0, t[4]), ("11;0", "A", 3, None),
           ("100;1", "B", 3, t[5])]
    put = [report(e, symbol=s, sub=sub, at=at) for e, s, sub, at in ids]
    store.put(put[::2])
    store.put(put[1::2])
    store.put([report("1;1", account="other"), report("1;2", product="margin")])

    def ids_of(**kw):
        return [r.exec_id for r in store.reports("acct", "event", **kw)]

    assert ids_of() == ["9;99", "9;100", "10;2", "11;0", "100;1", "1;1;1", "2;1;1"]
    assert sorted(store.reports("acct", "event"), key=lambda r: r.key) == sorted(put, key=lambda r: r.key)
    assert ids_of(ticker="A") == ["9;99", "10;2", "11;0", "2;1;1"]
    assert ids_of(ticker="nope") == []
    assert ids_of(subaccount=3) == ["9;100", "11;0", "100;1", "2;1;1"]
    assert ids_of(subaccount=0) == ["9;99", "10;2", "1;1;1"]
    assert ids_of(since=t[1]) == ["9;99", "9;100", "100;1", "1;1;1", "2;1;1"]  # inclusive
    assert ids_of(until=t[1]) == ["10;2"]  # exclusive; no TransactTime is never in a range
    assert ids_of(since=t[1], until=t[4]) == ["9;99", "9;100", "2;1;1"]
    assert ids_of(since=t[1].replace(tzinfo=None), until=t[4].astimezone(
        dt.timezone(dt.timedelta(hours=-4)))) == ["9;99", "9;100", "2;1;1"]  # naive = UTC
    assert ids_of(ticker="B", subaccount=3, since=t[2]) == ["100;1"]
    got = {r.exec_id: r for r in store.reports("acct", "event")}
    for r in put:
        assert got[r.exec_id] == r and got[r.exec_id].received_at.tzinfo is UTC
    assert [r.exec_id for r in store.reports("other", "event")] == ["1;1"]


def test_texts_are_the_reports_key_and_text_in_pages_of_any_size(store):
    trade = fix_text(execution_report("EXEC", sub=3))
    ack = trade.replace(f"{SOH}150=F{SOH}", f"{SOH}150=0{SOH}")
    assert ack != trade
    put = [StoredReport.from_raw("acct", "event", (ack if i % 3 == 1 else trade).replace("17=EXEC", f"17={i};{i}"),
                                 RECEIVED, Units.CENTS) for i in range(1, 12)]
    store.put(put + [report("1;1", account="other")])

    def texts(**kw):
        return [(i, c, e, x, s, raw, u) for i, c, e, x, s, raw, u in store.texts("acct", "event", **kw)]

    def reports(**kw):
        return [(*r.key, r.exec_id, r.symbol, r.raw, r.units) for r in store.reports("acct", "event", **kw)]

    for kw in ({}, {"subaccount": 3}, {"subaccount": 0}, {"ticker": "HIGHNY-23DEC31-B50"}, {"after": (0, 5, 5)},
               {"trades": True}, {"trades": True, "after": (0, 4, 4)}):
        want = reports(**kw)
        assert all(texts(**kw, size=size) == want for size in (1, 2, 5, 1000)), kw
    assert len(texts(trades=True)) == 7 and texts(after=(0, 11, 11)) == []


@pytest.fixture(scope="module")
def many_reports():
    """20,000 reports from real FIX text, built once for both backends."""
    base = fix_text(execution_report("EXEC", sub=3))
    assert base.count(f"{SOH}17=EXEC{SOH}") == 1
    return [StoredReport.from_raw("acct", "event", base.replace("17=EXEC", f"17={i // 7};{i}"),
                                  RECEIVED, Units.CENTS) for i in range(20_000)]


def test_reports_stream_in_pages(store, many_reports):
    for i in range(0, len(many_reports), 500):
        assert store.put(many_reports[i:i + 500]) == 500
    it = store.reports("acct", "event")
    assert isinstance(it, types.GeneratorType)
    first = next(it)
    assert first.exec_id == "0;0"
    # Nothing is held between pages: a write lands while a reader is half-way and
    # the reader, still going, sees it at the end.
    assert store.put([report("99999;1", sub=3)]) == 1
    tracemalloc.start()
    try:
        n, last = 1, first
        for r in it:
            assert r.key > last.key
            n, last = n + 1, r
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 20_001 and last.exec_id == "99999;1"
    tracemalloc.start()
    try:
        everything = list(store.reports("acct", "event"))
        loaded = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(everything) == 20_001 and peak * 5 < loaded, (peak, loaded)
    assert sum(1 for _ in store.reports("acct", "event", ticker="HIGHNY-23DEC31-B50")) == 20_001


# ================================================================== gaps
def test_gaps_round_trip(store):
    assert store.gaps() == []
    g1 = Gap("acct", "event", "5;1", "9;3", "older than the 3-hour replay window", T0)
    g2 = Gap("acct", "event", "12;0;1", None, "EventResendReject 2 server error",
             (T0 + dt.timedelta(seconds=1)).replace(tzinfo=None))
    assert Gap.now("a", "event", "1;1", None, "x").recorded_at.tzinfo is UTC
    g3 = Gap("other", "margin", "1;1", "1;2", "disconnected", T0)
    for g in (g1, g2, g3):
        store.add_gap(g)
    got = store.gaps()
    assert got[0] == g1 and got[2] == g3
    assert got[1].end_exec_id is None and got[1].recorded_at == T0 + dt.timedelta(seconds=1)
    assert all(g.recorded_at.tzinfo is UTC for g in got)
    assert store.gaps("acct") == got[:2] and store.gaps(product="margin") == [g3]
    assert store.gaps("acct", "margin") == []


# ================================================================== watermarks
def test_watermarks_only_move_forward(store):
    assert store.watermark("acct", "event") is None
    store.set_watermark("acct", "event", 0, "9;100")
    store.set_watermark("acct", "event", 0, "10;2")
    store.set_watermark("acct", "event", 0, "9;999")  # lower by number: ignored
    store.set_watermark("acct", "event", 1, "3;4;1")
    store.set_watermark("acct", "margin", 0, "1;1")
    assert store.watermark("acct", "event") == "10;2"
    assert store.watermark("acct", "event", 1) == "3;4;1"
    assert store.watermark("acct", "margin") == "1;1" and store.watermark("other", "event") is None
    with pytest.raises(ValueError, match="exchange index 1, not 0"):
        store.set_watermark("acct", "event", 0, "11;1;1")
    with pytest.raises(DecodeError):
        store.set_watermark("acct", "event", 0, "-1;-1")
    assert store.watermark("acct", "event") == "10;2"


# ================================================================== migrations
def test_migrations_are_idempotent_and_versioned(store):
    cls = type(store)
    latest = len(cls.migrations)
    store.put([report("1;1")])
    assert store.schema_version() == latest == (5 if cls is SqliteStore else 6)  # PostgreSQL: + reports.seq
    again = cls(target(store))
    assert again.schema_version() == latest and again.count() == 1
    again.close()

    class Newer(cls):
        migrations = [*cls.migrations,
                      (latest + 1, ("CREATE INDEX reports_received ON reports (received_at)",))]

    for _ in range(2):  # the new step runs once; the second open is a no-op
        newer = Newer(target(store))
        assert newer.schema_version() == latest + 1 and newer.count() == 1
        newer.close()
    assert store.schema_version() == latest + 1  # an open Store sees it too
    with pytest.raises(StoreError, match=f"schema version {latest + 1}.*only knows up to {latest}"):
        cls(target(store))


def _put_old(old, reports) -> None:
    """Rows as schema versions 1-4 kept them: no units column."""
    cols = "account, product, exec_id, exchange_index, clock, event, symbol, subaccount, transact_time, raw, received_at"
    for r in reports:
        when = [r.transact_time, r.received_at]
        if isinstance(old, SqliteStore):
            from fixgw.recorder.store import to_micros
            with old._transaction():
                old._db.execute(f"INSERT INTO reports ({cols}) VALUES ({', '.join('?' * 11)})",
                                (*astuple(r)[:8], to_micros(when[0]), r.raw, to_micros(when[1])))
        else:
            with old._lock:
                db = old._conn()
                with db.transaction():
                    db.execute(f"INSERT INTO reports ({cols}) VALUES ({', '.join(['%s'] * 11)})",
                               (*astuple(r)[:8], when[0], r.raw, when[1]))


def test_an_older_schema_is_upgraded_in_place(url, tmp_path):
    cls = SqliteStore if url.startswith("sqlite") else PostgresStore

    class V1(cls):
        migrations = cls.migrations[:1]

    old = V1(url.removeprefix("sqlite:///") if cls is SqliteStore else url)
    _put_old(old, [report("1;1")])
    assert old.schema_version() == 1
    old.close()
    with open_store(url) as s:
        assert s.schema_version() == len(cls.migrations) and s.count() == 1 and s.checkpoint("acct", "event") is None
        s.set_watermark("acct", "event", 0, "1;1")
        assert s.watermark("acct", "event") == "1;1"


def test_the_units_migration_records_the_units_old_rows_were_read_in(url):
    # before the units migration (SQLite 5, PostgreSQL 6) readers inferred the units from the prices: each old row gets what they inferred,
    # so it reads as it did; every row written since carries the units of the session that received it
    cls = SqliteStore if url.startswith("sqlite") else PostgresStore

    class V4(cls):
        migrations = cls.migrations[:4]

    old = V4(url.removeprefix("sqlite:///") if cls is SqliteStore else url)
    cents = report("1;1")  # prices 74 (cents)
    dollars = StoredReport.from_raw("acct", "event", fix_text(execution_report("2;2"), Units.DOLLARS), RECEIVED,
                                    Units.DOLLARS)
    margin = report("3;3", product="margin")
    _put_old(old, [cents, dollars, margin])
    old.close()
    with open_store(url) as s:
        assert s.schema_version() == len(cls.migrations)
        assert [r.units for r in s.reports("acct", "event")] == [Units.CENTS, Units.DOLLARS]
        assert [r.units for r in s.reports("acct", "margin")] == [Units.DOLLARS]
        assert [r.decode().last_px for r in s.reports("acct", "event")] == [D("0.74"), D("0.74")]


def test_concurrent_first_opens_migrate_once(url):
    errors, stores = [], []

    def opener():
        try:
            stores.append(open_store(url))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert {s.schema_version() for s in stores} == {len(type(stores[0]).migrations)}
    for s in stores:
        s.close()


def test_open_store_urls(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for url, made in ((str(tmp_path / "a.db"), tmp_path / "a.db"), ("b.db", tmp_path / "b.db"),
                      (f"sqlite:///{tmp_path}/c.db", tmp_path / "c.db"),  # sqlite:////abs
                      ("sqlite:///d.db", tmp_path / "d.db")):  # sqlite:///relative
        s = open_store(url)
        assert isinstance(s, SqliteStore) and made.exists()
        s.close()
    for bad in ("mysql://x/y", "", "sqlite://", "sqlite:///", "sqlite://e.db"):
        with pytest.raises(StoreError):
            open_store(bad)
    assert issubclass(PostgresStore, object) and isinstance(PostgresStore.migrations, list)


# ================================================================== durability
CHILD = """
import json, os, sys
from fixgw.pricing import Units
from fixgw.recorder.store import StoredReport, open_store
store = open_store(sys.argv[1])
batch = [StoredReport.from_raw("acct", "event", raw, "{received}", Units.CENTS)
         for raw in json.load(sys.stdin)]
n = store.put(batch)
print(n, flush=True)
os.kill(os.getpid(), 9)
"""


def test_a_put_that_returned_survives_sigkill(url, store):
    store.put([report("1;1")])
    raws = [fix_text(execution_report(f"2;{i}")) for i in range(500)]
    child = CHILD.replace('"{received}"', "__import__('datetime').datetime(2026, 8, 20, 14, 31)")
    done = subprocess.run([sys.executable, "-c", child, url], input=json.dumps(raws),
                          capture_output=True, text=True, timeout=60, cwd=os.getcwd())
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.split() == ["500"]
    after = open_store(url)
    try:
        assert after.count() == 501
        assert [r.raw for r in after.reports("acct", "event")][1:] == raws
    finally:
        after.close()


def test_commits_are_flushed_to_disk(store):
    """SIGKILL alone cannot tell a flushed commit from one in the page cache: pin the settings."""
    if isinstance(store, SqliteStore):
        db = store._db
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    else:
        db = store._conn()
        assert db.execute("SHOW fsync").fetchone()[0] == "on"
        assert db.execute("SHOW synchronous_commit").fetchone()[0] != "off"


# ================================================================== settlement reports
def test_settlement_reports_are_stored_once_in_order(store):
    from fixgw.models.fix import MarketSettlementReport
    from fixgw.recorder.store import StoredSettlement

    def ums(rid, symbol):
        msg = MarketSettlementReport(report_id=rid, symbol=symbol, clearing_business_date="20261122",
                                     market_result="yes")
        return StoredSettlement.from_model("acct", "event", msg, f"8=FIXT.1.1\x0135=UMS\x0120105={rid}\x01",
                                           dt.datetime(2026, 11, 22, 15, tzinfo=dt.timezone.utc))

    assert store.put_settlements([ums("s2", "B"), ums("s1", "A")]) == 2
    assert store.put_settlements([ums("s1", "A"), ums("s3", "C")]) == 1  # a resent page is no new report
    got = store.settlements("acct", "event")
    assert [(x.report_id, x.symbol) for x in got] == [("s2", "B"), ("s1", "A"), ("s3", "C")]
    assert got[0].received_at == dt.datetime(2026, 11, 22, 15, tzinfo=dt.timezone.utc)
    assert got[0].raw.endswith("20105=s2\x01") and store.settlements("other", "event") == []


def test_which_write_failures_are_worth_repeating(url, store, tmp_path):
    """transient(): a held lock or a lost connection yes (repeating it works), a full database no."""
    if isinstance(store, SqliteStore):
        impatient = SqliteStore(store.path, busy_timeout=0.05)
        holder = sqlite3.connect(store.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process in the middle of its write
        with pytest.raises(sqlite3.OperationalError) as busy:
            impatient.put([report("1;1")])
        assert store.transient(busy.value)
        holder.execute("ROLLBACK")
        assert impatient.put([report("1;1")]) == 1
        impatient.close()
        holder.close()
        full = SqliteStore(tmp_path / "full.db")
        pages = full._db.execute("PRAGMA page_count").fetchone()[0]
        full._db.execute(f"PRAGMA max_page_count={pages}")  # SQLITE_FULL: database or disk is full
        with pytest.raises(sqlite3.OperationalError, match="full") as no_room:
            full.put([report(f"2;{i}") for i in range(200)])
        assert not full.transient(no_room.value)
        full.close()
    else:
        pid = store._conn().info.backend_pid
        with psycopg.connect(url, autocommit=True) as admin:  # the server ends our session
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.OperationalError) as lost:
            store.put([report("1;1")])
        assert store.transient(lost.value)
        assert store.put([report("1;1")]) == 1  # repeating it reconnects
        with pytest.raises(psycopg.Error) as bad:  # a statement the server refuses: repeating cannot help
            store._query("SELECT 1/0", ())
        assert not store.transient(bad.value)
    assert store.count() == 1


# ================================================================== following the store
def test_tail_gives_each_new_report_once_in_the_order_it_was_stored(store):
    """What the API server follows (fixgw.api.stream): a backfilled report stored after newer ones
    comes after them, one the store already had never comes again, other accounts never come."""
    assert store.last_seq("acct") == 0 and store.tail("acct", 0) == []
    store.put([report("5;1"), report("5;2"), report("1;9", account="other")])
    first = store.tail("acct", 0)
    assert [r.exec_id for _, r in first] == ["5;1", "5;2"]
    mark = first[-1][0]
    store.put([report("3;1"), report("5;2"), report("6;1")])  # a backfilled hole, a repeat, a live one
    later = store.tail("acct", mark)
    assert [r.exec_id for _, r in later] == ["3;1", "6;1"]
    assert [s for s, _ in first + later] == sorted(s for s, _ in first + later)
    assert store.last_seq("acct") == later[-1][0]
    assert 0 < store.last_seq("other") < later[0][0]  # each account's own newest position
    assert [r.exec_id for _, r in store.tail("acct", 0, limit=3)] == ["5;1", "5;2", "3;1"]
    assert store.tail("acct", store.last_seq("acct")) == []


def test_a_row_an_older_fixgw_writes_after_the_units_migration_reads_as_that_fixgw_read_it(tmp_path):
    """A read-only command of this version migrates the store while an older recorder may still
    write into it, leaving units NULL: those rows read in the units the older readers inferred."""
    import sqlite3

    url = f"sqlite:///{tmp_path}/r.db"
    with open_store(url) as s:
        s.put([report("1;1")])  # prices in cents
    db = sqlite3.connect(tmp_path / "r.db")
    db.execute("UPDATE reports SET units = NULL")
    db.commit()
    db.close()
    with open_store(url) as s:
        assert [r.units for r in s.reports("acct", "event")] == [Units.CENTS]
        assert [units for *_, units in s.texts("acct", "event")] == [Units.CENTS]


def test_sqlite_batches_fit_the_parameter_limit_of_an_older_sqlite(tmp_path, monkeypatch):
    """A batch is one INSERT of as many rows as the SQLite's parameter limit allows (999 before
    3.32): 300 reports in one put() against that limit are all stored, and again only once."""
    real = sqlite3.connect

    def older(*args, **kwargs):
        db = real(*args, **kwargs)
        db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
        return db

    monkeypatch.setattr(sqlite3, "connect", older)
    store = SqliteStore(tmp_path / "old.db")
    reports = [report(f"{1000 + i};{i}") for i in range(300)]
    assert store.put(reports) == 300 and store.put(reports) == 0
    assert store.count("acct", "event") == 300 and store.exec_ids("acct", "event") == {r.exec_id for r in reports}
    store.close()
