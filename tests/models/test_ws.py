"""WebSocket fill / user_order messages (event and margin shapes) against Kalshi's published field lists."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D

import pytest

from fixgw.dispatch import Dispatcher
from fixgw.dispatch import Inbound
from fixgw.models.fix import ExecType, ExecutionReport, MiscFee, OrdStatus, Side
from fixgw.models.rest import MarketPositionUpdate
from fixgw.models.ws import FillUpdate, MarginFillUpdate, MarginUserOrder, UserOrder, ts_ms

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 21, 12, 0, 0, 250000, tzinfo=UTC)

# Wire names of each message, as Kalshi's WebSocket docs give them (kalshi-sdk 22.4.0,
# kalshi/ws/models/{fill,user_orders}.py and kalshi/perps/ws/models/{fill,user_orders}.py;
# aliases resolved to the wire name). (required, optional)
PUBLISHED = {
    FillUpdate: ({"trade_id", "order_id", "market_ticker", "is_taker", "side", "yes_price_dollars", "count_fp",
                  "fee_cost", "action", "ts", "post_position_fp", "purchased_side", "outcome_side", "book_side",
                  "ts_ms", "exchange_index"}, {"client_order_id", "subaccount"}),
    UserOrder: ({"order_id", "user_id", "ticker", "status", "side", "is_yes", "yes_price_dollars", "fill_count_fp",
                 "remaining_count_fp", "initial_count_fp", "taker_fill_cost_dollars", "maker_fill_cost_dollars",
                 "taker_fees_dollars", "maker_fees_dollars", "client_order_id", "created_time", "outcome_side",
                 "book_side", "created_ts_ms", "exchange_index"},
                {"order_group_id", "last_update_time", "expiration_time", "subaccount_number",
                 "self_trade_prevention_type", "last_updated_ts_ms", "expiration_ts_ms"}),
    MarginFillUpdate: ({"trade_id", "order_id", "market_ticker", "is_taker", "side", "ts_ms", "price", "count",
                        "fee_cost", "post_position", "order_source"}, {"client_order_id", "subaccount"}),
    MarginUserOrder: ({"order_id", "user_id", "client_order_id", "ticker", "side", "price", "fill_count",
                       "remaining_count", "created_ts_ms", "order_source"},
                      {"self_trade_prevention_type", "order_group_id", "expiration_ts_ms", "last_updated_ts_ms",
                       "subaccount_number"}),
}


@pytest.mark.parametrize("model", list(PUBLISHED), ids=lambda m: m.__name__)
def test_fields_are_the_published_ones(model):
    required, optional = PUBLISHED[model]
    assert set(model.model_fields) == required | optional
    assert model.OMIT <= optional  # a required field is never left out


def trade(product: str, **kw) -> ExecutionReport:
    base = dict(order_id="o-1", cl_ord_id="c-1", exec_id="7;3;1", exec_type=ExecType.TRADE,
                ord_status=OrdStatus.PARTIALLY_FILLED, side=Side.SELL, cum_qty=D(2), leaves_qty=D(3), order_qty=D(5),
                last_qty=D(2), trd_match_id="t-1", aggressor=True, transact_time=T0, long_qty=D(0),
                short_qty=D(2), fees=(MiscFee(amount=D("0.02")),), alloc_account=4)
    if product == "event":
        base |= dict(symbol="KXHIGHNY-26NOV21-T50", price=D("0.40"), last_px=D("0.40"))
    else:
        base |= dict(symbol="BTC-PERP", price=D("101.25"), last_px=D("101.25"))
    return ExecutionReport(**(base | kw))


def frames(product: str, report: ExecutionReport) -> list[dict]:
    d = Dispatcher({"s": product}, user_id="user-9")
    got = []
    d.on_event(got.append)
    d.put(Inbound("s", report))
    d.flush()
    return [m.envelope(14) for m in got[0].websocket()]


def test_an_event_contract_trade_is_a_fill_a_user_order_and_a_market_position():
    fill, order, position = frames("event", trade("event"))
    assert (fill["type"], order["type"], position["type"]) == ("fill", "user_order", "market_position")
    assert fill["msg"] == {
        "trade_id": "t-1", "order_id": "o-1", "market_ticker": "KXHIGHNY-26NOV21-T50", "exchange_index": 1,
        "is_taker": True, "side": "no", "yes_price_dollars": "0.4000", "count_fp": "2.00", "fee_cost": "0.0200",
        "action": "buy", "outcome_side": "no", "book_side": "ask", "ts": 1795262400, "ts_ms": 1795262400250,
        "post_position_fp": "-2.00", "purchased_side": "no", "client_order_id": "c-1", "subaccount": 4}
    assert order["msg"]["user_id"] == "user-9" and order["msg"]["is_yes"] is False
    assert (order["msg"]["created_time"], order["msg"]["created_ts_ms"]) == ("2026-11-21T12:00:00.25Z", 1795262400250)
    assert order["msg"]["maker_fill_cost_dollars"] == "0.0000" and order["msg"]["taker_fill_cost_dollars"] == "1.2000"
    assert MarketPositionUpdate.model_validate(position["msg"]).position_fp == D(-2)


def test_a_margin_trade_is_a_margin_fill_and_a_margin_user_order():
    fill, order = frames("margin", trade("margin"))
    assert fill == {"type": "fill", "sid": 14, "msg": {
        "trade_id": "t-1", "order_id": "o-1", "market_ticker": "BTC-PERP", "is_taker": True, "side": "ask",
        "ts_ms": 1795262400250, "price": "101.2500", "count": "2.00", "fee_cost": "0.0200", "post_position": "-2.00",
        "order_source": "user", "client_order_id": "c-1", "subaccount": 4}}
    assert order == {"type": "user_order", "sid": 14, "msg": {
        "order_id": "o-1", "user_id": "user-9", "client_order_id": "c-1", "ticker": "BTC-PERP", "side": "ask",
        "price": "101.2500", "fill_count": "2.00", "remaining_count": "3.00", "created_ts_ms": 1795262400250,
        "order_source": "user", "last_updated_ts_ms": 1795262400250, "subaccount_number": 4}}
    # without 704/705 the position comes from fixgw's own ledger
    (fill, _) = frames("margin", trade("margin", long_qty=None, short_qty=None))
    assert fill["msg"]["post_position"] == "-2.00"


def test_ts_ms_is_exact_milliseconds():
    assert ts_ms(dt.datetime(2026, 11, 21, 12, 0, 0, 999999, tzinfo=UTC)) == 1795262400999
    assert ts_ms(dt.datetime(2026, 11, 21, 12, 0)) == 1795262400000  # naive = UTC
    assert ts_ms(None) is None
    json.dumps(frames("event", trade("event")))  # every frame is plain JSON
