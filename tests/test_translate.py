"""ExecutionReports → REST JSON, compared with the golden fixtures in tests/fixtures/rest."""

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from fixgw.models.fix import (CollateralChange, ExecType, ExecutionReport, MarketSettlementReport, MiscFee,
                              OrdStatus, SettlementParty, Side)
from fixgw.models.rest import (Fill, FillsResponse, MarginFillsResponse, MarginPositionsResponse,
                               MarketPositionUpdate, OrdersResponse, PositionsResponse, SettlementsResponse)
from fixgw.positions import Ledger
from fixgw.settlements import settlement_from_report
from fixgw.translate import Orders, fill_from_report, margin_fill_from_report, order_status

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "rest"
UTC = dt.timezone.utc
T50, T52 = "KXHIGHNY-26NOV21-T50", "KXHIGHNY-26NOV21-T52"


def golden(name: str) -> str:
    """The fixture re-serialised compactly: comparing strings checks values *and* key order."""
    return json.dumps(json.loads((FIXTURES / name).read_text()))


def same(model, name: str) -> None:
    assert json.dumps(json.loads(model.model_dump_json())) == golden(name)


def at(h: int, m: int, s: int = 0, us: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 21, h, m, s, us, tzinfo=UTC)


def er(**kw) -> ExecutionReport:
    base = dict(order_id="ord-1", exec_id="1;1", exec_type=ExecType.NEW, ord_status=OrdStatus.NEW,
                side=Side.BUY, symbol=T50, cum_qty=D(0), leaves_qty=D(0))
    base.update(kw)
    return ExecutionReport(**base)


def trade(**kw) -> ExecutionReport:
    return er(exec_type=ExecType.TRADE, **kw)


# The three trades behind fills.json (and, through the ledger, positions.json).
TRADES = [
    trade(order_id="ord-1", exec_id="1001;1", ord_status=OrdStatus.PARTIALLY_FILLED, cl_ord_id="c-1",
          cum_qty=D("10"), leaves_qty=D("10"), last_px=D("0.56"), last_qty=D("10.00"), last_mkt=0,
          transact_time=at(12, 0), alloc_account=0, trd_match_id="t-1", aggressor=True,
          fees=(MiscFee(amount=D("0.18"), currency="USD", fee_type="4", basis=0),), long_qty=D(10), short_qty=D(0)),
    trade(order_id="ord-2", exec_id="1003;1", side=Side.SELL, ord_status=OrdStatus.FILLED, cl_ord_id="c-2",
          cum_qty=D(4), leaves_qty=D(0), last_px=D("0.60"), last_qty=D(4), transact_time=at(12, 5, 0, 250000),
          trd_match_id="t-2", aggressor=False, fees=(MiscFee(amount=D("0.00")),)),
    trade(order_id="ord-4", exec_id="77;3;1", side=Side.SELL, symbol=T52, ord_status=OrdStatus.FILLED,
          cum_qty=D(3), leaves_qty=D(0), last_px=D("0.30"), last_qty=D(3), last_mkt=1, transact_time=at(12, 10),
          alloc_account=0, trd_match_id="t-3", aggressor=True,
          fees=(MiscFee(amount=D("0.03")), MiscFee(amount=D("0.02")))),
]


# ---------------------------------------------------------------- fills
def test_trades_become_the_golden_fills():
    fills = [fill_from_report(r) for r in TRADES]
    same(FillsResponse(fills=fills), "fills.json")


def test_fast_path_fill_equals_a_validated_one():
    for r in TRADES:
        fast = fill_from_report(r)
        assert Fill.model_validate_json(fast.model_dump_json()) == fast
        assert Fill.model_validate(fast.model_dump()) == fast


@pytest.mark.parametrize("exec_type", [t for t in ExecType if t != ExecType.TRADE])
def test_non_trade_reports_give_no_fill(exec_type):
    assert fill_from_report(er(exec_type=exec_type)) is None
    assert margin_fill_from_report(er(exec_type=exec_type)) is None


def test_fill_without_optional_tags():
    fill = fill_from_report(trade(last_px=D("0.01"), last_qty=D("1"), transact_time=None), deprecated=False)
    out = json.loads(fill.model_dump_json())
    assert out["fill_id"] == out["trade_id"] == "1;1"  # no 880: the ExecID
    assert (out["exchange_index"], out["is_taker"], out["fee_cost"]) == (0, False, "0.0000")
    assert not {"side", "action", "created_time", "ts"} & set(out)
    assert out["subaccount_number"] == 0  # no 79: the primary account
    assert out["no_price_dollars"] == "0.9900"


def test_trade_without_price_or_quantity_is_an_error():
    with pytest.raises(ValueError, match="LastPx"):
        fill_from_report(trade(last_qty=D(1)))


def test_fill_times_are_utc_and_ts_is_seconds():
    east = dt.timezone(dt.timedelta(hours=-5))
    fill = fill_from_report(trade(last_px=D("0.5"), last_qty=D(1), transact_time=dt.datetime(2026, 11, 21, 7, 0, 0, 999000, east)))
    out = json.loads(fill.model_dump_json())
    assert (out["created_time"], out["ts"]) == ("2026-11-21T12:00:00.999Z", 1795262400)


# ---------------------------------------------------------------- ledger from FIX
def test_fills_feed_the_ledger_into_the_golden_positions_and_ws_message():
    ledger = Ledger(user_id="user-456")
    updates = [ledger.add(fill_from_report(r)) for r in TRADES]
    same(PositionsResponse(market_positions=ledger.market_positions(0), event_positions=ledger.event_positions(0)),
         "positions.json")
    frame = json.loads((FIXTURES / "market_position.json").read_text())
    assert updates[1] == MarketPositionUpdate.model_validate(frame["msg"])
    assert json.dumps(updates[1].envelope(14, legacy=True)) == golden("market_position_legacy.json")
    assert ledger.add(fill_from_report(TRADES[0].model_copy(update={"poss_dup": True}))) is None


# ---------------------------------------------------------------- orders
ORDER_REPORTS = [
    # ord-1: 20 YES @ 0.56, taker fill of 10 -> resting
    er(order_id="ord-1", exec_id="1000;1", cl_ord_id="c-1", order_qty=D(20), price=D("0.56"), leaves_qty=D(20),
       transact_time=at(11, 59, 59), stp_type=1, order_group_id="grp-1", alloc_account=0, last_mkt=0),
    TRADES[0].model_copy(update={"price": D("0.56"), "order_qty": D(20)}),
    # ord-2: 4 NO @ yes 0.60, maker fill of all 4 -> executed; maker cost 4 x 0.40
    er(order_id="ord-2", exec_id="1002;1", side=Side.SELL, cl_ord_id="c-2", order_qty=D(4), price=D("0.60"),
       leaves_qty=D(4), transact_time=at(12, 1)),
    TRADES[1].model_copy(update={"price": D("0.60")}),
    # ord-3: 5 YES @ 0.40 GTD, replaced to 0.42 (c-3b), then canceled by request c-3x -> canceled
    er(order_id="ord-3", exec_id="1004;1;2", cl_ord_id="c-3", order_qty=D(5), price=D("0.40"), leaves_qty=D(5),
       transact_time=at(12, 2), expire_time=dt.datetime(2026, 11, 22, tzinfo=UTC), stp_type=2, alloc_account=3),
    er(order_id="ord-3", exec_id="-1;-1", exec_type=ExecType.PENDING_REPLACE, ord_status=OrdStatus.PENDING_REPLACE,
       cl_ord_id="c-3b", orig_cl_ord_id="c-3", order_qty=D(5), price=D("0.42"), leaves_qty=D(5)),
    er(order_id="ord-3", exec_id="1005;1;2", exec_type=ExecType.REPLACED, ord_status=OrdStatus.REPLACED,
       cl_ord_id="c-3b", orig_cl_ord_id="c-3", order_qty=D(5), price=D("0.42"), leaves_qty=D(5),
       transact_time=at(12, 3), expire_time=dt.datetime(2026, 11, 22, tzinfo=UTC)),
    er(order_id="ord-3", exec_id="1006;1;2", exec_type=ExecType.CANCELED, ord_status=OrdStatus.CANCELED,
       cl_ord_id="c-3x", orig_cl_ord_id="c-3b", price=D("0.42"), leaves_qty=D(0), transact_time=at(12, 4)),
]


def test_reports_fold_into_the_golden_orders():
    orders = Orders(user_id="user-456")
    for r in ORDER_REPORTS:
        orders.apply(r)
    same(OrdersResponse(orders=orders.orders()), "orders.json")
    assert orders.by_client_order_id("c-3").order_id == "ord-3"
    assert [o.order_id for o in orders.orders("resting")] == ["ord-1"]


def test_pending_replace_keeps_the_old_price_and_client_id():
    orders = Orders()
    orders.apply(ORDER_REPORTS[4])
    order = orders.apply(ORDER_REPORTS[5])
    assert (order.client_order_id, order.yes_price_dollars, order.status) == ("c-3", D("0.40"), "resting")


def test_resent_and_stale_reports_change_nothing():
    orders = Orders()
    for r in ORDER_REPORTS[:2]:
        orders.apply(r)
    before = orders.get("ord-1")
    assert orders.apply(ORDER_REPORTS[1].model_copy(update={"poss_dup": True})) == before  # same ExecID
    assert orders.apply(ORDER_REPORTS[0].model_copy(update={"exec_id": "999;9"})) == before  # older ExecID


def test_a_late_older_trade_still_counts_but_does_not_regress_the_status():
    orders = Orders()
    orders.apply(er(order_id="o", exec_id="10;1", cl_ord_id="c", order_qty=D(2), price=D("0.30"), leaves_qty=D(2)))
    orders.apply(trade(order_id="o", exec_id="10;3", ord_status=OrdStatus.FILLED, cum_qty=D(2), leaves_qty=D(0),
                       last_px=D("0.30"), last_qty=D(1), aggressor=True, fees=(MiscFee(amount=D("0.02")),)))
    order = orders.apply(trade(order_id="o", exec_id="10;2", ord_status=OrdStatus.PARTIALLY_FILLED, cum_qty=D(1),
                               leaves_qty=D(1), last_px=D("0.30"), last_qty=D(1), aggressor=True))
    assert (order.status, order.fill_count_fp, order.taker_fill_cost_dollars, order.taker_fees_dollars) \
        == ("executed", D(2), D("0.60"), D("0.02"))


def test_a_pending_report_never_reopens_a_finished_order():
    orders = Orders()
    orders.apply(er(order_id="o", exec_id="5;1", exec_type=ExecType.CANCELED, ord_status=OrdStatus.CANCELED,
                    cl_ord_id="x", orig_cl_ord_id="c", price=D("0.5")))
    order = orders.apply(er(order_id="o", exec_id="-1;-1", exec_type=ExecType.PENDING_CANCEL,
                            ord_status=OrdStatus.PENDING_CANCEL, leaves_qty=D(3)))
    assert (order.status, order.client_order_id) == ("canceled", "c")


def test_only_the_newest_finished_orders_are_kept_and_open_ones_always():
    orders = Orders(max_finished=2)
    orders.apply(er(order_id="open", exec_id="1;1", cl_ord_id="c-open", order_qty=D(1), leaves_qty=D(1)))
    for n in range(1, 5):  # four orders that rest, then are cancelled
        orders.apply(er(order_id=f"o{n}", exec_id=f"{n + 1};1", cl_ord_id=f"c{n}", order_qty=D(1), leaves_qty=D(1)))
        orders.apply(er(order_id=f"o{n}", exec_id=f"{n + 1};2", exec_type=ExecType.CANCELED,
                        ord_status=OrdStatus.CANCELED, cl_ord_id=f"x{n}", orig_cl_ord_id=f"c{n}"))
    assert [o.order_id for o in orders.orders()] == ["open", "o3", "o4"]
    assert orders.get("o1") is None and orders.by_client_order_id("c2") is None
    assert orders.by_client_order_id("x2") is None and orders.by_client_order_id("c4").order_id == "o4"
    # the open order stays however many finish, and a report for a forgotten one starts it afresh
    late = orders.apply(er(order_id="o1", exec_id="2;3", exec_type=ExecType.CANCELED, ord_status=OrdStatus.CANCELED,
                           cl_ord_id="y1", orig_cl_ord_id="c1", order_qty=D(1)))
    assert late.status == "canceled" and [o.order_id for o in orders.orders()] == ["open", "o4", "o1"]
    assert orders.get("open").status == "resting"
    with pytest.raises(ValueError, match="max_finished"):
        Orders(max_finished=-1)


@pytest.mark.parametrize(("status", "leaves", "rest"), [
    (OrdStatus.NEW, "5", "resting"), (OrdStatus.PARTIALLY_FILLED, "1", "resting"),
    (OrdStatus.PENDING_NEW, "5", "resting"), (OrdStatus.PENDING_REPLACE, "5", "resting"),
    (OrdStatus.PENDING_CANCEL, "5", "resting"), (OrdStatus.REPLACED, "5", "resting"),
    (OrdStatus.FILLED, "0", "executed"), (OrdStatus.CANCELED, "5", "canceled"),
    (OrdStatus.EXPIRED, "5", "canceled"), (OrdStatus.REJECTED, "5", "canceled"),
    (OrdStatus.NEW, "0", "canceled"), (OrdStatus.PARTIALLY_FILLED, "0", "canceled"),
])
def test_order_status_mapping(status, leaves, rest):
    assert order_status(status, D(leaves)) == rest


# ---------------------------------------------------------------- settlements
def test_settlement_reports_become_the_golden_settlements():
    won = MarketSettlementReport(
        report_id="s-1", symbol=T50, clearing_business_date="20261122", market_result="yes",
        settlement_price=D("1.00"), parties=(SettlementParty(
            party_id="user-456", role=24, long_qty=D(6), short_qty=D(0),
            collateral=(CollateralChange(amount=D("6.00"), kind="PAYOUT"),), fees=(MiscFee(amount=D("0.00")),)),))
    scalar = MarketSettlementReport(
        report_id="s-2", symbol=T52, clearing_business_date="20261122", market_result="scalar",
        settlement_price=D("0.306"), parties=(
            SettlementParty(party_id="someone-else", long_qty=D(1), short_qty=D(0)),
            SettlementParty(party_id="user-456", long_qty=D(0), short_qty=D(3),
                            collateral=(CollateralChange(amount=D("2.08"), kind="PAYOUT"),),
                            fees=(MiscFee(amount=D("0.002")),))))
    ledger = Ledger()
    for r in TRADES:
        ledger.add(fill_from_report(r))
    yes50, no50 = ledger.cost_basis(0, T50)
    yes52, no52 = ledger.cost_basis(0, T52)
    settlements = [
        settlement_from_report(won, yes_total_cost=yes50, no_total_cost=no50,
                               settled_time=dt.datetime(2026, 11, 22, 15, tzinfo=UTC)),
        settlement_from_report(scalar, party_id="user-456", exchange_index=1, yes_total_cost=yes52,
                               no_total_cost=no52, settled_time=dt.datetime(2026, 11, 22, tzinfo=UTC)),
    ]
    same(SettlementsResponse(settlements=settlements), "settlements.json")


def test_settlement_without_payout_entries_computes_revenue():
    ums = MarketSettlementReport(report_id="s", symbol=T50, clearing_business_date="20261122", market_result="no",
                                 parties=(SettlementParty(party_id="p", long_qty=D(2), short_qty=D(5)),))
    s = settlement_from_report(ums, settled_time=dt.datetime(2026, 11, 22, 16, tzinfo=UTC))
    assert (s.revenue, s.value, s.yes_count_fp, s.no_count_fp) == (500, 0, D(2), D(5))
    with pytest.raises(ValueError, match="no party"):
        settlement_from_report(ums, party_id="missing", settled_time=dt.datetime(2026, 11, 22, tzinfo=UTC))


# ---------------------------------------------------------------- margin
MARGIN = [  # (side, qty, price, fee, time)
    (Side.BUY, "2", "100.00", "0.10", at(13, 0), True),
    (Side.BUY, "1", "103.00", "0.05", at(13, 1), False),
    (Side.SELL, "1", "104.00", "0.05", at(13, 2), True),
    (Side.SELL, "5", "99.50", "0.25", at(13, 3, 0, 500000), True),
]


def test_margin_trades_become_the_golden_margin_fills_and_positions():
    ledger = Ledger()
    fills = []
    for n, (side, q, px, fee, when, taker) in enumerate(MARGIN, 1):
        report = trade(order_id=f"mo-{n}", exec_id=f"50;{n}", side=side, symbol="KXBTCPERP", last_qty=D(q),
                       last_px=D(px), transact_time=when, trd_match_id=f"mt-{n}", aggressor=taker,
                       fees=(MiscFee(amount=D(fee)),))
        fills.append(margin_fill_from_report(report, ledger))
    same(MarginFillsResponse(fills=fills), "margin_fills.json")
    same(MarginPositionsResponse(positions=ledger.margin_positions(0, {"KXBTCPERP": D("100")})),
         "margin_positions.json")


def test_margin_fill_without_ledger_has_zero_derived_numbers():
    fill = margin_fill_from_report(trade(last_px=D("5"), last_qty=D(1), transact_time=at(1, 0), alloc_account=4))
    assert (fill.entry_price, fill.realized_pnl, fill.side) == (0, 0, "bid")
    with pytest.raises(ValueError, match="TransactTime"):
        margin_fill_from_report(trade(last_px=D("5"), last_qty=D(1)))


# ---------------------------------------------------------------- issue 9, defect 9
def test_fill_exchange_index_follows_the_orders_rule():
    """30 LastMkt, else 100 ExDestination, else the ExecID's index: the fill and its order agree."""
    for report, index in ((trade(exec_id="5;7;2", last_px=D("0.5"), last_qty=D(1)), 2),
                          (trade(exec_id="5;7;2", last_px=D("0.5"), last_qty=D(1), ex_destination=3), 3),
                          (trade(exec_id="5;7;2", last_px=D("0.5"), last_qty=D(1), ex_destination=3, last_mkt=1), 1),
                          (trade(exec_id="5;7", last_px=D("0.5"), last_qty=D(1)), 0)):
        assert fill_from_report(report).exchange_index == index
        assert Orders().apply(report).exchange_index == index


def test_a_report_without_transact_time_takes_its_sending_time():
    from fixgw.fix import codec as fields
    from fixgw.pricing import Units

    soh = "\x01"
    body = soh.join(["35=8", "34=9", "49=KalshiNR", "52=20261121-12:00:05.250", "56=key", "37=o-1", "11=c-1",
                     "17=3;4", "150=F", "39=2", "54=2", "55=BTC-PERP", "38=2", "44=101.5", "14=2", "151=0",
                     "31=101.5", "32=2", "880=t-9", "1057=Y"]) + soh
    raw = f"8=FIXT.1.1{soh}9={len(body)}{soh}{body}10=000{soh}"
    report = fields.decode_raw(raw, Units.DOLLARS)
    assert report.transact_time is None and report.sending_time == at(12, 0, 5, 250000)
    assert fill_from_report(report).created_time == at(12, 0, 5, 250000)
    assert fill_from_report(report).ts == int(at(12, 0, 5).timestamp())
    margin = margin_fill_from_report(report, Ledger())
    assert margin.created_time == at(12, 0, 5, 250000)
    order = Orders().apply(report)
    assert order.created_time == order.last_update_time == at(12, 0, 5, 250000)
    ledger = Ledger()
    ledger.add(fill_from_report(report))
    assert ledger.market_positions(0)[0].last_updated_ts == at(12, 0, 5, 250000)  # never 1970
    with_60 = fields.decode_raw(raw.replace(f"{soh}1057=Y", f"{soh}60=20261121-12:00:04.000{soh}1057=Y"),
                                Units.DOLLARS)
    assert with_60.transact_time == at(12, 0, 4) and fill_from_report(with_60).created_time == at(12, 0, 4)


def test_money_keeps_up_to_six_decimal_places():
    fill = fill_from_report(trade(last_px=D("0.5"), last_qty=D(3), fees=(MiscFee(amount=D("0.0123455")),)))
    out = json.loads(fill.model_dump_json())
    assert (out["yes_price_dollars"], out["no_price_dollars"], out["fee_cost"]) == ("0.5000", "0.5000", "0.012346")
    ledger = Ledger()
    for n, px in enumerate(("19.5000", "19.5001")):
        margin_fill_from_report(trade(exec_id=f"{n + 1};1", symbol="BTC-PERP", last_px=D(px), last_qty=D(1),
                                      transact_time=at(12, n)), ledger)
    pos = json.loads(ledger.margin_positions(0)[0].model_dump_json())
    assert pos["entry_price"] == "19.50005"
