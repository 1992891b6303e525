"""Read figures: ``fixgw positions`` and a page of fills over a large store cost what they return.

A SQLite store of ``FIXGW_BENCH_READS`` reports (default 1,000,000) is built
from report text made by a template (one QuickFIX-free string format per
report, BodyLength and CheckSum computed) and written with ``store.put`` in
large batches: one trade per order, IOC, over 500 markets, with one order in
1,000 left resting. Its kept checkpoint is rebuilt (``fixgw rebuild``) up to
:data:`fixgw.recorder.kept.EVERY` reports before the end and the watermark
then moved to the end, so each read folds the longest tail the recorder leaves.

* ``reads_positions_ms``: p50 over 20 calls of what ``fixgw positions`` runs
  (:meth:`Query.positions_json`: checkpoint + tail + settlements, the first
  page of 100 markets). Baseline: the bare SQL query of the same kept row.
* ``reads_fills_page_ms``: p50 over 20 pages of 1,000 fills starting in the
  middle of the store, as ``GET /portfolio/fills?limit=1000`` builds them
  (:func:`fixgw.api.fillpage.answer`: the JSON body, cursor and all).
  Baseline: ``SELECT raw ... LIMIT 1000`` over the same rows.
  ``reads_fills_page_models_ms``: the same page as the view's Fill models
  (:meth:`Query.fills_page`, what ``fixgw fills --limit`` prints).
* ``reads_rebuild_s``: the full fold of every report (what a read cost
  before, and what ``fixgw rebuild`` costs once). Baseline: reading every
  report's text with bare SQL.
* ``reads_keeping_us_per_report``: what keeping the books adds to the
  recorder's writer per report: 100,000 reports written as the writer does
  (batches of 500, each durable, then the watermark), with the kept books
  (a checkpoint now and then, folding the reports stored since the last one) minus without.
  Baseline: the writer's time per report without them.

The machine these run on is often shared, so each timed figure also comes as
``*_cpu_*``: the same p50 in CPU time of the reading thread (process CPU for
the writer figure), which does not grow with other processes' load.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from fixgw.api import fillpage
from fixgw.api.fillpage import key_cursor
from fixgw.api.params import Params
from fixgw.api.rest import Source
from fixgw.pricing import Units
from fixgw.recorder import kept
from fixgw.recorder.store import StoredReport, open_store
from fixgw.recorder.views import Query

SOH = "\x01"
ACCOUNT = "bench"
BATCH = 20_000
T0 = dt.datetime(2026, 11, 21, 12, tzinfo=dt.timezone.utc)
_TRADE = ("35=8{S}34={seq}{S}49=KalshiNR{S}52=20261121-12:00:00.000{S}56=key{S}37={oid}{S}11=c{oid}{S}"
          "17={clock};1{S}150=F{S}39=2{S}55={sym}{S}54={side}{S}38=1{S}44=0.5{S}32=1{S}31=0.5{S}151=0{S}"
          "14=1{S}6=0.5{S}30=0{S}60={when}{S}880=t{oid}{S}1057=Y{S}136=1{S}137=0.02{S}138=USD{S}139=4{S}"
          "1703=1{S}1704=-0.52{S}1705=BALANCE{S}")
_NEW = ("35=8{S}34={seq}{S}49=KalshiNR{S}52=20261121-12:00:00.000{S}56=key{S}37={oid}{S}11=c{oid}{S}"
        "17={clock};1{S}150=0{S}39=0{S}55={sym}{S}54={side}{S}38=5{S}44=0.4{S}151=5{S}14=0{S}"
        "60={when}{S}")


def _raw(i: int) -> tuple[str, str, dt.datetime]:
    sym = f"KXBENCH-26NOV21-M{i % 500}"
    when = T0 + dt.timedelta(milliseconds=i)
    body = (_NEW if i % 1000 == 999 else _TRADE).format(
        S=SOH, seq=i + 2, oid=f"o{i:08d}", clock=1000 + i, sym=sym, side=1 + (i // 500) % 2,
        when=when.strftime("%Y%m%d-%H:%M:%S.%f")[:-3])
    head = f"8=FIXT.1.1{SOH}9={len(body)}{SOH}"
    return f"{head}{body}10={sum((head + body).encode()) % 256:03d}{SOH}", sym, when


def build(path: Path, n: int) -> None:
    store = open_store(f"sqlite:///{path}")
    for start in range(0, n, BATCH):
        rows = []
        for i in range(start, min(n, start + BATCH)):
            raw, sym, when = _raw(i)
            rows.append(StoredReport(ACCOUNT, "event", f"{1000 + i};1", 0, 1000 + i, 1, sym, 0, when, raw, when, Units.DOLLARS))
        store.put(rows)
    store.close()


def keeping(tmp: Path, n: int) -> tuple[float, float, float, float]:
    """Seconds per report with the kept books and without, wall then CPU, for the writer's work on
    ``n`` reports."""
    made = [_raw(i) for i in range(n)]
    rows = [StoredReport(ACCOUNT, "event", f"{1000 + i};1", 0, 1000 + i, 1, sym, 0, when, raw, when, Units.DOLLARS)
            for i, (raw, sym, when) in enumerate(made)]
    out, cpu = [], []
    for keep in (True, False):
        store = open_store(f"sqlite:///{tmp / ('keep.db' if keep else 'plain.db')}")
        keeper = kept.Keeper(store, ACCOUNT)
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, n, 500):
            batch = rows[i:i + 500]
            store.put(batch)
            if keep:
                keeper.set_watermark("event", 0, batch[-1].exec_id)
            else:
                store.set_watermark(ACCOUNT, "event", 0, batch[-1].exec_id)
        out.append((time.perf_counter() - t) / n)
        cpu.append((time.process_time() - c) / n)
        store.close()
    return out[0], out[1], cpu[0], cpu[1]


def _p50(f, times: int = 20) -> float:
    out = []
    for _ in range(times):
        t = time.perf_counter()
        f()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def _cpu_p50(f, times: int = 20) -> float:
    """The same in this thread's CPU time: what the figure is on a machine nobody else is using."""
    out = []
    for _ in range(times):
        t = time.thread_time()
        f()
        out.append(time.thread_time() - t)
    return statistics.median(out)


def run():
    n = int(os.environ.get("FIXGW_BENCH_READS", "1000000"))
    tmp = Path(tempfile.mkdtemp(prefix="fixgw-reads-"))
    path = tmp / "reads.db"
    build(path, n)
    store = open_store(f"sqlite:///{path}")
    tail = min(kept.EVERY, n - 1)
    store.set_watermark(ACCOUNT, "event", 0, f"{1000 + n - 1 - tail};1")
    t = time.perf_counter()
    kept.rebuild(store, ACCOUNT, "event")
    rebuild_s = time.perf_counter() - t
    store.set_watermark(ACCOUNT, "event", 0, f"{1000 + n - 1};1")
    bare = sqlite3.connect(path)
    t = time.perf_counter()
    rows = sum(1 for _ in bare.execute("SELECT raw FROM reports WHERE account=? AND product=? "
                                       "ORDER BY exchange_index, clock, event", (ACCOUNT, "event")))
    read_all_s = time.perf_counter() - t
    assert rows == n
    yield "reads_rebuild_s", rebuild_s, "s", read_all_s, rebuild_s / read_all_s

    q = Query(store, ACCOUNT, "event")
    body = q.positions_json()
    assert len(body["market_positions"]) == min(100, 500)
    ours = _p50(lambda: q.positions_json())
    base = _p50(lambda: bare.execute("SELECT state FROM kept WHERE account=? AND product=?",
                                     (ACCOUNT, "event")).fetchall())
    yield "reads_positions_ms", ours * 1e3, "ms", base * 1e3, ours / base
    ours = _cpu_p50(lambda: q.positions_json())
    base = _cpu_p50(lambda: bare.execute("SELECT state FROM kept WHERE account=? AND product=?",
                                         (ACCOUNT, "event")).fetchall())
    yield "reads_positions_cpu_ms", ours * 1e3, "ms", base * 1e3, ours / base

    def bare_page():
        return bare.execute(
            "SELECT raw FROM reports WHERE account=? AND product=? AND (exchange_index, clock, event) > (0, ?, 1) "
            "ORDER BY exchange_index, clock, event LIMIT 1000", (ACCOUNT, "event", 1000 + n // 2)).fetchall()

    src, params = Source(store, ACCOUNT), Params(limit=1000, cursor=key_cursor((0, 1000 + n // 2, 1)))
    assert len(json.loads(fillpage.answer(src, params))["fills"]) == 1000
    ours, base = _p50(lambda: fillpage.answer(src, params)), _p50(bare_page)
    yield "reads_fills_page_ms", ours * 1e3, "ms", base * 1e3, ours / base
    ours, base = _cpu_p50(lambda: fillpage.answer(src, params)), _cpu_p50(bare_page)
    yield "reads_fills_page_cpu_ms", ours * 1e3, "ms", base * 1e3, ours / base
    page = Query(store, ACCOUNT, "event", limit=1000, cursor=f"{1000 + n // 2};1")
    fills, _ = page.fills_page()
    assert len(fills) == 1000
    ours, base = _p50(lambda: page.fills_page()), _p50(bare_page)
    yield "reads_fills_page_models_ms", ours * 1e3, "ms", base * 1e3, ours / base
    bare.close()
    store.close()
    with_kept, without, with_cpu, without_cpu = keeping(tmp, min(n, 100_000))
    yield ("reads_keeping_us_per_report", (with_kept - without) * 1e6, "us", without * 1e6,
           with_kept / without)
    yield ("reads_keeping_cpu_us_per_report", (with_cpu - without_cpu) * 1e6, "us", without_cpu * 1e6,
           with_cpu / without_cpu)
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    from bench.__main__ import emit

    for fig in run():
        emit(*fig)
