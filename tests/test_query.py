"""GET /portfolio/positions and /fcm/positions query parameters over a ledger (fixgw.query)."""

from decimal import Decimal as D

import pytest

from fixgw.positions import Ledger
from fixgw.query import positions_body
from test_positions import fill

T = ["KXA-26-T1", "KXA-26-T2", "KXB-26-T1", "KXC-26-T1"]


@pytest.fixture
def ledger() -> Ledger:
    led = Ledger()
    led.add(fill("yes", "5", "0.40", ticker=T[0]))
    led.add(fill("no", "3", "0.40", ticker=T[1]))
    led.add(fill("yes", "2", "0.50", ticker=T[2]))
    led.add(fill("no", "2", "0.50", ticker=T[2]))  # flat again: traded, no position
    led.add(fill("yes", "1", "0.90", ticker=T[3]))
    led.settle(0, T[3], D(1))
    return led


def tickers(body) -> list[str]:
    return [p.ticker for p in body["market_positions"]]


def test_settlement_status_splits_open_and_settled_markets(ledger):
    assert tickers(positions_body(ledger)) == T[:3]
    assert tickers(positions_body(ledger, settlement_status="settled")) == [T[3]]
    assert tickers(positions_body(ledger, settlement_status="all")) == T
    [settled] = positions_body(ledger, settlement_status="settled")["market_positions"]
    assert settled.position_fp == 0 and settled.realized_pnl_dollars == D("0.1")  # paid 0.90, got 1


def test_filters_and_event_rows_follow_the_market_rows(ledger):
    assert tickers(positions_body(ledger, ticker=T[1])) == [T[1]]
    body = positions_body(ledger, event_ticker="KXA-26,KXB-26")
    assert tickers(body) == T[:3] and [e.event_ticker for e in body["event_positions"]] == ["KXA-26", "KXB-26"]
    assert tickers(positions_body(ledger, count_filter="position")) == T[:2]  # T3 is flat
    assert tickers(positions_body(ledger, count_filter="total_traded")) == T[:3]
    [a] = positions_body(ledger, event_ticker="KXA-26")["event_positions"]
    assert a.total_cost_shares_fp == 8 and a.total_cost_dollars == D("2.00") + D("1.80")


def test_pages_carry_a_cursor_until_the_last():
    led = Ledger()
    for t in T[:3]:
        led.add(fill("yes", "1", "0.50", ticker=t))
    first = positions_body(led, limit=2)
    assert tickers(first) == T[:2] and first["cursor"] == T[1]
    second = positions_body(led, limit=2, cursor=first["cursor"])
    assert tickers(second) == [T[2]] and "cursor" not in second


@pytest.mark.parametrize("kw, match", [
    ({"settlement_status": "open"}, "settlement_status"), ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
    ({"count_filter": "volume"}, "count_filter"), ({"event_ticker": ",".join(f"E{i}" for i in range(11))}, "at most 10")])
def test_bad_parameters_are_refused_by_name(ledger, kw, match):
    with pytest.raises(ValueError, match=match):
        positions_body(ledger, **kw)
