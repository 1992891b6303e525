"""GET /portfolio/fills pages (fixgw.api.fillpage) equal the generic view, page by page, over a real SQLite store.

The store mixes what a real one holds: trades on several tickers, exchange indices and subaccounts, in dollars
and in cents, acks that are not fills, and an FCM sub-trader's trade (not the member's own fill).
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest

from fixgw.fix import codec as fields
from fixgw.api import fillpage
from fixgw.api.params import ApiError, Params
from fixgw.api.rest import Source
from fixgw.models import fix as m
from fixgw.models.rest import FillsResponse
from fixgw.pricing import Units
from fixgw.recorder import views
from fixgw.recorder.store import StoredReport, open_store

SOH = "\x01"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 22, 1, 1, 16, 325000, tzinfo=UTC)
TICKERS = ["KXHIGHNY-26NOV21-T50", "KXHIGHNY-26NOV21-T60", "KXRAIN-26NOV21-T1"]
SUB = "2f1c1e8e-7a1b-4c55-9a43-1f9d2c7e0b11"


def fix_text(model: m.Model, units: Units, seq: int) -> str:
    mt, pairs = fields.encode(model, units)
    body = (f"35={mt}{SOH}34={seq}{SOH}49=KalshiNR{SOH}52=20261122-01:05:00.000{SOH}56=key{SOH}"
            + "".join(f"{t}={v}{SOH}" for t, v in pairs))
    head = f"8=FIXT.1.1{SOH}9={len(body)}{SOH}"
    return f"{head}{body}10={sum((head + body).encode()) % 256:03d}{SOH}"


def report(i: int) -> tuple[m.ExecutionReport, Units]:
    index = i % 3 == 2  # some on exchange index 1
    exec_id = f"{100 + i};{7 + i}" + (";1" if index else "")
    ticker = TICKERS[i % len(TICKERS)]
    kind = m.ExecType.NEW if i % 5 == 4 else m.ExecType.TRADE
    units = Units.CENTS if i % 4 == 1 else Units.DOLLARS
    px = D("0.37") + D(i % 40) / 100
    kw = {}
    if i % 11 == 6:
        kw["parties"] = (m.Party(party_id=SUB, role=m.CUSTOMER_ACCOUNT),)
    if kind is m.ExecType.TRADE:
        kw.update(last_px=px, last_qty=D(1 + i % 3), trd_match_id=f"t-{i}", aggressor=bool(i % 2),
                  fees=(m.MiscFee(amount=D("0.0100"), currency="USD", fee_type="4", basis=0),))
    er = m.ExecutionReport(
        order_id=f"o-{i // 2}", cl_ord_id=f"cl-{i}", exec_id=exec_id, exec_type=kind,
        ord_status=m.OrdStatus.PARTIALLY_FILLED if kind is m.ExecType.TRADE else m.OrdStatus.NEW,
        side=m.Side.BUY if i % 3 else m.Side.SELL, symbol=ticker, cum_qty=D(1), leaves_qty=D(5), order_qty=D(6),
        price=px, transact_time=T0 + dt.timedelta(seconds=i // 2), alloc_account=(2 if i % 7 == 3 else None), **kw)
    return er, units


@pytest.fixture
def source(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'fills.db'}")
    rows = []
    for i in range(120):
        er, units = report(i)
        rows.append(StoredReport.from_raw("acct", "event", fix_text(er, units, i + 2), T0, units))
    store.put(rows)
    yield Source(store, "acct")
    store.close()


def generic(src: Source, p: Params) -> list[dict]:
    q = views.Query(src.store, "acct", ticker=p.ticker, event_ticker=p.event_ticker, subaccount=p.subaccount,
                    min_ts=p.min_ts, max_ts=p.max_ts)
    return [json.loads(f.model_dump_json()) for f in q.fills() if p.order_id is None or f.order_id == p.order_id]


def walk(src: Source, size: int, **kw) -> tuple[list[dict], int]:
    rows, cursor, pages = [], None, 0
    while True:
        body = json.loads(fillpage.answer(src, Params(limit=size, cursor=cursor, **kw)))
        rows += body["fills"]
        pages += 1
        cursor = body["cursor"]
        if not cursor:
            return rows, pages


@pytest.mark.parametrize("filters", [{}, {"ticker": TICKERS[1]}, {"event_ticker": "KXHIGHNY-26NOV21"},
                                     {"subaccount": 2}, {"order_id": "o-3"},
                                     {"min_ts": int(T0.timestamp()) + 10, "max_ts": int(T0.timestamp()) + 20}])
def test_pages_walk_the_generic_views_fills_once_each(source, filters):
    want = generic(source, Params(**filters))
    assert want or filters.get("order_id")
    for size in (1, 7, 1000):
        got, pages = walk(source, size, **filters)
        assert got == want, (filters, size)
        assert pages == max(1, -(-len(want) // size)), (filters, size)


def test_the_subtraders_fill_is_not_the_members_and_acks_are_not_fills(source):
    got = walk(source, 1000)[0]
    ids = {f["fill_id"] for f in got}
    assert "t-6" not in ids and "t-17" not in ids  # 453/448/452=24: the sub-trader's
    assert "t-4" not in ids and len(got) == len(generic(source, Params()))


@pytest.mark.parametrize("profile", ["default", "seed"])
def test_bodies_are_byte_for_byte_the_models_json(source, profile):
    """Each page's text is what FillsResponse.model_dump_json() gives for the generic view's fills
    (both schema profiles: fills bodies are the same in each)."""
    q = views.Query(source.store, "acct")
    want = list(q.fills())
    src = Source(source.store, "acct", profile=profile)
    cursor, at = None, 0
    while True:
        body = fillpage.answer(src, Params(limit=7, cursor=cursor))
        cursor = json.loads(body)["cursor"]
        assert body == FillsResponse(fills=want[at:at + 7], cursor=cursor).model_dump_json()
        at += 7
        if not cursor:
            break
    assert at >= len(want) > 7


def test_a_foreign_cursor_is_refused(source):
    for bad in ("Zml4Z3c6Mg", "bm9wZQ", "!!"):
        with pytest.raises(ApiError) as e:
            fillpage.answer(source, Params(cursor=bad))
        assert e.value.status == 400 and "cursor" in e.value.message
