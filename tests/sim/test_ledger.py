"""The simulator's ledger against hand-computed numbers (Kalshi's REST shapes)."""

import datetime as dt
import itertools
from decimal import Decimal as D

import pytest

from fixgw.models.fix import Side
from fixgw.sim.ledger import Ledger, count, dollars, event_ticker, rfc3339

T0 = dt.datetime(2026, 11, 21, 12, 0, 0, 123000, tzinfo=dt.timezone.utc)
BUY, SELL = Side.BUY, Side.SELL
_ids = itertools.count(1)


def rec(led, side, qty, price, fee="0", *, account="u", sub=0, symbol="KXE-26-A", taker=True, when=T0):
    n = next(_ids)
    return led.record(account, sub, symbol, order_id=f"o{n}", trade_id=f"t{n}", side=side, qty=D(qty),
                      price=D(price), fee=D(fee), is_taker=taker, when=when)


def mpos(led, account="u", sub=0):
    return {p["ticker"]: p for p in led.positions(account, sub)["market_positions"]}


def test_margin_fees_are_cumulative_and_unrealized_is_unknown():
    """Issue 9 defect 5, the oracle's side: the same rule as fixgw.positions."""
    def run(*steps):
        led = Ledger("margin")
        for side, qty, fee in steps:
            rec(led, side, qty, "100", symbol="X", fee=fee)
        return led.positions("u")["positions"][0]

    one = run((BUY, 5, "0.05"), (SELL, 8, "0.08"))
    two = run((BUY, 5, "0.05"), (SELL, 5, "0.05"), (SELL, 3, "0.03"))
    assert one == two and (one["fees"], one["position"], one["unrealized_pnl"]) == ("0.1300", "-3.00", None)
    assert run((BUY, 5, "0.05"), (SELL, 5, "0.05"))["fees"] == "0.1000"


def test_formatting_helpers():
    assert dollars(D("0.0000005")) == "0.0000"  # half-even at 6 dp
    assert dollars(D("0.0000015")) == "0.000002"
    assert dollars(D("0.00005")) == "0.00005"  # FixedPointDollars: up to 6 dp
    assert dollars(D("0.56")) == "0.5600"  # and at least 4
    assert dollars(D("-0.0000001")) == "0.0000"  # never -0.0000
    assert count(D("3")) == "3.00"
    assert rfc3339(T0) == "2026-11-21T12:00:00.123Z"


@pytest.mark.parametrize("ms, text", [(650, "2026-11-21T12:00:00.65Z"), (0, "2026-11-21T12:00:00Z"),
                                      (100, "2026-11-21T12:00:00.1Z")])
def test_times_print_as_the_gateway_prints_them(ms, text):
    """The oracle's times are Go's RFC3339Nano, as Kalshi's API and fixgw's models print them:
    "12:00:00.650Z" and "12:00:00.65Z" are one instant, but a field-by-field check sees two."""
    from fixgw.models.rest import rfc3339 as gateway_rfc3339

    when = T0.replace(microsecond=ms * 1000)
    assert rfc3339(when) == gateway_rfc3339(when) == text
    assert event_ticker("KXHIGHNY-26NOV21-B45") == "KXHIGHNY-26NOV21"


def test_event_open_reduce_and_flip():
    led = Ledger("event")
    a = rec(led, BUY, 10, "0.60", "0.17")  # 10 YES at 0.60
    assert (a.position, a.netted) == (D(10), 0)
    b = rec(led, SELL, 4, "0.55", taker=False)  # buy 4 NO at 0.45: redeems 4 pairs
    assert (b.position, b.netted) == (D(6), 4)
    c = rec(led, SELL, 10, "0.50", "0.18")  # 6 pairs redeemed, then 4 NO at 0.50
    assert (c.position, c.netted) == (D(-4), 6)
    p = mpos(led)["KXE-26-A"]
    assert p == {
        "ticker": "KXE-26-A", "exchange_index": 0,
        "total_traded_dollars": "12.8000",  # 6.00 + 1.80 + 5.00
        "position_fp": "-4.00",
        "market_exposure_dollars": "2.0000",  # 4 NO at 0.50
        "realized_pnl_dollars": "-0.8000",  # (4 - 2.40 - 1.80) + (6 - 3.60 - 3.00)
        "fees_paid_dollars": "0.3500",
        "last_updated_ts": "2026-11-21T12:00:00.123Z",
    }
    assert led.net_position("u", 0, "KXE-26-A") == D(-4)


def test_event_cost_removed_is_quantized_half_even():
    led = Ledger("event")
    rec(led, BUY, 1, "0.10")
    rec(led, BUY, 2, "0.11")  # P 3, C 0.32
    rec(led, SELL, 1, "0.20")  # removed 0.32/3 = 0.106667; R = 1 - 0.106667 - 0.80
    assert mpos(led)["KXE-26-A"]["market_exposure_dollars"] == "0.213333"  # up to 6 dp, as FixedPointDollars
    rec(led, SELL, 1, "0.20")  # removed 0.213333/2 = 0.1066665 -> 0.106666 (half even)
    p = mpos(led)["KXE-26-A"]
    assert p["market_exposure_dollars"] == "0.106667"
    assert p["realized_pnl_dollars"] == "0.186667"  # 0.093333 + 0.093334
    assert p["position_fp"] == "1.00"


def test_event_no_side_opening_costs_the_no_price():
    led = Ledger("event")
    rec(led, SELL, 5, "0.30")  # 5 NO at 0.70
    p = mpos(led)["KXE-26-A"]
    assert (p["position_fp"], p["market_exposure_dollars"], p["total_traded_dollars"]) == ("-5.00", "3.5000", "3.5000")


def test_event_positions_group_by_event_and_subaccount():
    led = Ledger("event")
    rec(led, BUY, 2, "0.40", "0.02", symbol="KXE-26-A")
    rec(led, SELL, 3, "0.25", "0.04", symbol="KXE-26-B")  # 3 NO at 0.75
    rec(led, BUY, 1, "0.50", symbol="KXF-26-A")
    rec(led, BUY, 7, "0.50", sub=3, symbol="KXE-26-A")
    out = led.positions("u")
    assert [p["ticker"] for p in out["market_positions"]] == ["KXE-26-A", "KXE-26-B", "KXF-26-A"]
    assert out["event_positions"][0] == {
        "event_ticker": "KXE-26", "total_cost_dollars": "3.0500", "total_cost_shares_fp": "5.00",
        "event_exposure_dollars": "3.0500", "realized_pnl_dollars": "0.0000", "fees_paid_dollars": "0.0600"}
    assert out["event_positions"][1]["event_ticker"] == "KXF-26"
    assert mpos(led, sub=3)["KXE-26-A"]["position_fp"] == "7.00"
    assert led.positions("nobody") == {"market_positions": [], "event_positions": []}


def test_event_fill_json():
    led = Ledger("event", exchange_index=2)
    led.record("u", 5, "KXE-26-A", order_id="o1", trade_id="tr1", side=SELL, qty=D(3), price=D("0.4200"),
               fee=D("0.05"), is_taker=False, when=T0)
    assert led.fills("u") == [{
        "fill_id": "tr1", "trade_id": "tr1", "order_id": "o1", "ticker": "KXE-26-A", "market_ticker": "KXE-26-A",
        "exchange_index": 2, "side": "no", "action": "buy", "outcome_side": "no", "book_side": "ask",
        "count_fp": "3.00",
        "yes_price_dollars": "0.4200", "no_price_dollars": "0.5800", "is_taker": False,
        "created_time": "2026-11-21T12:00:00.123Z", "fee_cost": "0.0500", "subaccount_number": 5,
        "ts": 1795262400}]
    assert led.fills("u", subaccount=0) == []
    assert len(led.fills("u", subaccount=5)) == 1


def test_event_settlement_pays_and_closes():
    led = Ledger("event")
    rec(led, BUY, 4, "0.30", account="y")
    rec(led, SELL, 4, "0.30", account="n", taker=False)
    rec(led, BUY, 1, "0.30", account="flat")
    rec(led, SELL, 1, "0.30", account="flat")
    paid = led.settle("KXE-26-A", "yes")
    assert set(paid) == {"y", "n", "flat"}  # flat is told too: nothing held, nothing paid
    assert (paid["flat"][0].position, paid["flat"][0].payout, paid["flat"][0].fee) == (0, 0, 0)
    assert (paid["y"][0].payout, paid["y"][0].position) == (D("4.00"), D(4))
    assert paid["n"][0].payout == 0
    assert led.positions("y")["market_positions"] == []  # settled markets leave the unsettled list
    assert led.net_position("y", 0, "KXE-26-A") == 0


def test_a_position_flat_at_the_settlement_is_told_and_leaves_the_unsettled_view():
    """An account (or FCM sub-trader) that traded a market and is flat when it settles gets an
    entry too (0 contracts, 0 paid), so a FIX client can move the flat market out of the
    unsettled view as the ledger does (Kalshi's documents are silent; README says so)."""
    led = Ledger("event")
    rec(led, BUY, 4, "0.30", account="y")
    rec(led, BUY, 1, "0.30", account="flat")
    rec(led, SELL, 1, "0.30", account="flat")
    paid = led.settle("KXE-26-A", "yes")
    assert set(paid) == {"y", "flat"}
    assert [(p.position, p.payout) for p in paid["flat"]] == [(0, 0)]
    assert led.positions("y")["market_positions"] == [] and led.positions("flat")["market_positions"] == []


def test_scalar_settlement_rounds_payout_down_and_charges_the_rest():
    led = Ledger("event")
    rec(led, BUY, 3, "0.30")
    (p,) = led.settle("KXE-26-A", "scalar", D("0.3333"))["u"]
    assert (p.payout, p.fee) == (D("0.99"), D("0.0099"))


def test_margin_average_entry_realize_flip_and_cumulative_fees():
    led = Ledger("margin")
    sym = "BTC-PERP"
    rec(led, BUY, 10, "100.00", "0.2000", symbol=sym)
    rec(led, BUY, 5, "103.00", symbol=sym, taker=False)  # E = 1515 / 15 = 101
    pos = led.positions("u")["positions"][0]
    assert (pos["position"], pos["entry_price"], pos["fees"]) == ("15.00", "101.0000", "0.2000")
    a = rec(led, SELL, 20, "102.00", "0.4080", symbol=sym)  # close 15 (+15), then short 5 at 102
    assert (a.position, a.realized) == (D(-5), D(15))
    pos = led.positions("u")["positions"][0]
    assert pos == {"subaccount": 0, "market_ticker": sym, "position": "-5.00", "entry_price": "102.0000",
                   "unrealized_pnl": None, "fees": "0.6080", "is_portfolio": False, "margin_used": None,
                   "roe": None}
    b = rec(led, BUY, 5, "100.50", symbol=sym, taker=False)  # short closes: +7.50; flat resets E, not fees
    assert (b.position, b.realized) == (0, D("7.50"))
    pos = led.positions("u")["positions"][0]
    assert (pos["position"], pos["entry_price"], pos["fees"]) == ("0.00", "0.0000", "0.6080")
    fills = led.fills("u")
    assert fills[2] == {"fill_id": fills[2]["fill_id"], "order_id": fills[2]["order_id"], "is_taker": True,
                        "side": "ask", "count": "20.00", "created_time": "2026-11-21T12:00:00.123Z",
                        "ticker": sym, "price": "102.0000", "entry_price": "102.0000", "fees": "0.4080",
                        "realized_pnl": "15.0000"}
    assert fills[3]["realized_pnl"] == "7.5000" and fills[3]["entry_price"] == "0.0000"


def test_margin_entry_price_quantized_to_six_places():
    led = Ledger("margin")
    rec(led, BUY, 1, "100", symbol="X")
    rec(led, BUY, 2, "100.0001", symbol="X")  # 300.0002 / 3 = 100.00006666.. -> 100.000067
    rec(led, SELL, 1, "101", symbol="X")  # realized 1 * (101 - 100.000067)
    assert led.fills("u")[-1]["realized_pnl"] == "0.999933"
    assert led.fills("u")[1]["entry_price"] == "100.000067"
    assert led._pos[("u", 0, "X")].E == D("100.000067")


def test_margin_settle_is_not_a_thing_and_unknown_account_is_flat():
    led = Ledger("margin")
    assert led.positions("u") == {"positions": []}
    assert led.net_position("u", 0, "X") == 0


@pytest.mark.parametrize("result,value", [("yes", 1), ("no", 0)])
def test_settlement_realizes_against_cost(result, value):
    led = Ledger("event")
    rec(led, BUY, 2, "0.25")
    led.settle("KXE-26-A", result)
    assert led._pos[("u", 0, "KXE-26-A")].R == 2 * value - D("0.50")


def test_event_orders_are_rest_orders_with_their_fill_costs_and_fees():
    """GET /portfolio/orders (and /fcm/orders per sub-trader) as the exchange keeps them: the oracle."""
    from fixgw.models.fix import ExecType, OrdStatus
    from fixgw.sim.book import Flags, Order

    led = Ledger("event")
    o = Order(order_id="o1", account="u", session=None, flags=Flags(), cl_ord_id="c1", symbol="KXE-26-A",
              side=SELL, price=D("0.40"), requested_qty=D(5), leaves=D(5), seq=1)
    led.order_event(o, ExecType.NEW, None, T0, pending=False)
    o.fill(D(2), D("0.40"))
    led.record("u", 0, "KXE-26-A", order_id="o1", trade_id="t1", side=SELL, qty=D(2), price=D("0.40"),
               fee=D("0.03"), is_taker=True, when=T0)
    led.order_event(o, ExecType.TRADE, None, T0, pending=False)
    o.leaves, o.status = D(0), OrdStatus.CANCELED
    led.order_event(o, ExecType.CANCELED, None, T0.replace(second=1), pending=False)
    [row] = led.event_orders("u")
    assert (row["outcome_side"], row["book_side"], row["yes_price_dollars"], row["no_price_dollars"]) == \
        ("no", "ask", "0.4000", "0.6000")
    assert (row["status"], row["fill_count_fp"], row["remaining_count_fp"], row["initial_count_fp"]) == \
        ("canceled", "2.00", "0.00", "5.00")
    assert (row["taker_fill_cost_dollars"], row["taker_fees_dollars"], row["maker_fill_cost_dollars"]) == \
        ("1.2000", "0.0300", "0.0000")  # 2 NO at 0.60
    assert (row["created_time"], row["last_update_time"]) == ("2026-11-21T12:00:00.123Z", "2026-11-21T12:00:01.123Z")
    assert led.event_orders("someone else") == []
