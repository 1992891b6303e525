"""The recorder's views over a real SQLite store: the same numbers whatever the query asks for."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest

from fixgw.fix import codec as fields
from fixgw.models import fix as m, rest
from fixgw.pricing import Units
from fixgw.recorder import views
from fixgw.recorder.store import StoredReport, open_store

SOH = "\x01"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 22, 1, 1, 16, 325000, tzinfo=UTC)
T1 = T0 + dt.timedelta(minutes=1)
MG = "BTC-PERP"
EV = "KXHIGHNY-26NOV21-T50"
_seq = iter(range(1, 10**9))


def fix_text(model: m.Model, units: Units, sending: str = "20261122-01:05:00.000") -> str:
    """A report as QuickFIX's toString() gives it: header (with 52), body, trailer."""
    mt, pairs = fields.encode(model, units)
    body = (f"35={mt}{SOH}34={next(_seq)}{SOH}49=KalshiNR{SOH}52={sending}{SOH}56=key{SOH}"
            + "".join(f"{t}={v}{SOH}" for t, v in pairs))
    head = f"8=FIXT.1.1{SOH}9={len(body)}{SOH}"
    return f"{head}{body}10={sum((head + body).encode()) % 256:03d}{SOH}"


def trade(exec_id: str, order_id: str, side: m.Side, qty: str, px: str, at: dt.datetime | None, *,
          symbol: str = MG, fee: str = "0.0100", leaves: str = "0", cum: str | None = None,
          **kw) -> m.ExecutionReport:
    cum = cum or qty
    return m.ExecutionReport(
        order_id=order_id, cl_ord_id=f"cl-{order_id}", exec_id=exec_id, exec_type=m.ExecType.TRADE,
        ord_status=m.OrdStatus.FILLED if D(leaves) == 0 else m.OrdStatus.PARTIALLY_FILLED, side=side,
        symbol=symbol, cum_qty=D(cum), leaves_qty=D(leaves), order_qty=D(cum) + D(leaves), price=D(px),
        last_px=D(px), last_qty=D(qty), trd_match_id=f"t-{exec_id}", aggressor=True, transact_time=at,
        fees=(m.MiscFee(amount=D(fee), currency="USD", fee_type="4", basis=0),), **kw)


@pytest.fixture
def store(tmp_path):
    s = open_store(f"sqlite:///{tmp_path / 'views.db'}")
    yield s
    s.close()


def put(store, product: str, *reports: m.ExecutionReport, units: Units = Units.DOLLARS) -> None:
    store.put([StoredReport.from_raw("acct", product, fix_text(r, units), T1, units) for r in reports])


def as_json(models) -> list[dict]:
    return [json.loads(x.model_dump_json()) for x in models]


# ------------------------------------------------------------------ defect 1
def test_margin_fills_are_computed_from_the_whole_history_then_filtered(store):
    put(store, "margin", trade("1;1", "o-1", m.Side.BUY, "5", "100.0000", T0),
        trade("2;2", "o-2", m.Side.SELL, "5", "101.6000", T1))
    whole = as_json(views.Query(store, "acct", "margin").fills())
    assert [(f["entry_price"], f["realized_pnl"]) for f in whole] == [("100.0000", "0.0000"), ("0.0000", "8.0000")]
    since = as_json(views.Query(store, "acct", "margin", min_ts=int(T1.timestamp())).fills())
    assert since == whole[1:]
    until = as_json(views.Query(store, "acct", "margin", max_ts=int(T0.timestamp())).fills())
    assert until == whole[:1]


# ------------------------------------------------------------------ defect 7
def test_ts_bounds_are_inclusive_whole_seconds(store):
    put(store, "event", trade("1;1", "o-1", m.Side.BUY, "4", "0.6000", T0, symbol=EV, fee="0.07"),
        trade("1;2", "o-2", m.Side.SELL, "3", "0.6500", T0, symbol=EV, fee="0.05"))
    ts = int(T0.timestamp())

    def count(**kw) -> int:
        return len(list(views.Query(store, "acct", "event", **kw).fills()))

    assert count(max_ts=ts) == 2  # both fills carry ts == max_ts
    assert count(min_ts=ts) == 2
    assert count(min_ts=ts, max_ts=ts) == 2
    assert count(max_ts=ts - 1) == 0 and count(min_ts=ts + 1) == 0


# ------------------------------------------------------------------ defect 6
def _export(store_url: str, tmp_path, what: str, fmt: str, product: str = "event") -> str:
    from click.testing import CliRunner
    from fixgw.cli import cli

    out = tmp_path / f"{what}.{fmt}"
    res = CliRunner().invoke(cli, ["export", "--store", store_url, "--account", "acct", "--product", product,
                                    "--what", what, "--format", fmt, "-o", str(out)])
    assert res.exit_code == 0, res.output
    return out.read_text()


def test_export_writes_one_kind_of_row_per_file(store, tmp_path):
    import csv
    import io

    put(store, "event", trade("1;1", "o-1", m.Side.BUY, "4", "0.6000", T0, symbol=EV, fee="0.07"),
        trade("1;2", "o-2", m.Side.SELL, "3", "0.6500", T0, symbol=EV, fee="0.05"))
    url = f"sqlite:///{store.path}"
    market = list(csv.DictReader(io.StringIO(_export(url, tmp_path, "positions", "csv"))))
    assert [(r["ticker"], r["position_fp"], r["realized_pnl_dollars"], r["fees_paid_dollars"]) for r in market] \
        == [(EV, "1.00", "0.1500", "0.1200")]
    event = list(csv.DictReader(io.StringIO(_export(url, tmp_path, "event_positions", "csv"))))
    assert [(r["event_ticker"], r["total_cost_shares_fp"], r["realized_pnl_dollars"], r["fees_paid_dollars"])
            for r in event] == [("KXHIGHNY-26NOV21", "1.00", "0.1500", "0.1200")]
    lines = [json.loads(x) for x in _export(url, tmp_path, "positions", "jsonl").splitlines()]
    assert [set(x) for x in lines] == [set(rest.MarketPosition.model_fields)]
    lines = [json.loads(x) for x in _export(url, tmp_path, "event_positions", "jsonl").splitlines()]
    assert [set(x) for x in lines] == [set(rest.EventPosition.model_fields)]
    from click.testing import CliRunner
    from fixgw.cli import cli

    res = CliRunner().invoke(cli, ["export", "--store", url, "--product", "margin", "--what", "event_positions",
                                   "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "event contracts only" in res.output


# ------------------------------------------------------------------ defect 8
def test_orders_carry_the_configured_user_id(store, tmp_path):
    from click.testing import CliRunner
    from fixgw.cli import cli

    user = "3f2a5d4e-8c1b-4a8e-9d6f-0b7c1e2a3b4c"
    put(store, "event", trade("1;1", "o-1", m.Side.BUY, "4", "0.6000", T0, symbol=EV, fee="0.07"))
    assert [o.user_id for o in views.Query(store, "acct", "event", user_id=user).orders()] == [user]
    out = tmp_path / "orders.jsonl"
    res = CliRunner().invoke(cli, ["export", "--store", f"sqlite:///{store.path}", "--account", "acct",
                                   "--user-id", user, "--what", "orders", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["user_id"] == user


# ------------------------------------------------------------------ defect 3
def test_margin_orders_have_the_margin_order_shape(store, tmp_path):
    new = m.ExecutionReport(order_id="o-2", cl_ord_id="cl-o-2", exec_id="1;1", exec_type=m.ExecType.NEW,
                            ord_status=m.OrdStatus.NEW, side=m.Side.SELL, symbol=MG, cum_qty=D(0), leaves_qty=D(5),
                            order_qty=D(5), price=D("101.2500"), transact_time=T0)
    put(store, "margin", new, trade("2;2", "o-2", m.Side.SELL, "2", "101.2500", T1, leaves="3"))
    (order,) = views.Query(store, "acct", "margin", user_id="u-1").orders()
    assert json.loads(order.model_dump_json()) == {
        "order_id": "o-2", "user_id": "u-1", "client_order_id": "cl-o-2", "ticker": MG, "side": "ask",
        "last_update_reason": "Trade", "price": "101.2500", "fill_count": "2.00", "remaining_count": "3.00",
        "created_time": "2026-11-22T01:01:16.325Z", "last_update_time": "2026-11-22T01:02:16.325Z"}
    row = json.loads(_export(f"sqlite:///{store.path}", tmp_path, "orders", "jsonl", product="margin"))
    assert row == json.loads(order.model_dump_json()) | {"user_id": ""}
    import csv
    import io
    header = next(csv.reader(io.StringIO(_export(f"sqlite:///{store.path}", tmp_path, "orders", "csv", "margin"))))
    assert header == list(rest.MarginOrder.model_fields)


def test_fixgw_orders_lists_margin_orders_by_status(store):
    from click.testing import CliRunner
    from fixgw.cli import cli

    new = m.ExecutionReport(order_id="o-3", cl_ord_id="c-3", exec_id="1;1", exec_type=m.ExecType.NEW,
                            ord_status=m.OrdStatus.NEW, side=m.Side.BUY, symbol=MG, cum_qty=D(0), leaves_qty=D(1),
                            order_qty=D(1), price=D("99.0000"), transact_time=T0)
    put(store, "margin", new, trade("2;2", "o-4", m.Side.SELL, "1", "101.0000", T1))
    url = f"sqlite:///{store.path}"

    def ids(*args: str) -> list[str]:
        res = CliRunner().invoke(cli, ["orders", "--store", url, "--account", "acct", "--product", "margin", *args])
        assert res.exit_code == 0, res.output
        return [json.loads(line)["order_id"] for line in res.output.splitlines()]

    assert ids() == ["o-3", "o-4"]
    assert ids("--status", "resting") == ["o-3"] and ids("--status", "executed") == ["o-4"]
    assert ids("--min-ts", str(int(T1.timestamp()))) == ["o-4"]


# ------------------------------------------------------------------ issue 12: units stored, never guessed
def test_a_report_is_read_in_the_units_it_was_received_in_whatever_its_prices(store, tmp_path):
    # a dollars report priced at $1 (a price no contract trades at, but a report may carry): from the size
    # of its prices alone it would pass for cents ($0.01)
    put(store, "event", trade("1;1", "o-1", m.Side.BUY, "2", "0.40", T0, symbol=EV, fee="0"), units=Units.CENTS)
    put(store, "event", trade("2;2", "o-2", m.Side.BUY, "2", "1", T0, symbol=EV, fee="0"), units=Units.DOLLARS)
    assert [r.units for r in store.reports("acct", "event")] == [Units.CENTS, Units.DOLLARS]
    assert [f.yes_price_dollars for f in views.Query(store, "acct", "event").fills()] == [D("0.40"), D("1")]
    again = open_store(f"sqlite:///{tmp_path / 'views.db'}")  # and so it reads back from the file
    assert [r.units for r in again.reports("acct", "event")] == [Units.CENTS, Units.DOLLARS]
    again.close()
