"""REST models: golden fixtures round-trip byte-for-byte, and the wire formats hold."""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from fixgw.models.rest import (EventPosition, Fill, FillsResponse, MarginFillsResponse,
                               MarginPositionsResponse, MarketPosition, MarketPositionUpdate, Order,
                               OrdersResponse, PositionsResponse, Settlement, SettlementsResponse,
                               count, dollars, rfc3339)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rest"
RESPONSES = {
    "fills.json": FillsResponse,
    "orders.json": OrdersResponse,
    "positions.json": PositionsResponse,
    "settlements.json": SettlementsResponse,
    "margin_fills.json": MarginFillsResponse,
    "margin_positions.json": MarginPositionsResponse,
}


def load(name: str):
    return json.loads((FIXTURES / name).read_text())


def field_order_ok(model: type[BaseModel], data: dict) -> None:
    """The fixture's keys appear in the model's (= the schema's) declaration order."""
    names = list(model.model_fields)
    positions = [names.index(k) for k in data]
    assert positions == sorted(positions), f"{model.__name__} keys out of schema order: {list(data)}"


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_fixture_round_trips_exactly(name):
    text = (FIXTURES / name).read_text()
    model = RESPONSES[name]
    parsed = model.model_validate_json(text)
    dumped = json.loads(parsed.model_dump_json())
    # Same values *and* same key order, all the way down.
    assert json.dumps(dumped) == json.dumps(json.loads(text))
    assert model.model_validate_json(parsed.model_dump_json()) == parsed
    assert parsed.model_dump(mode="json") == dumped


@pytest.mark.parametrize("name", sorted(RESPONSES))
def test_fixture_keys_follow_schema_order(name):
    data = load(name)
    model = RESPONSES[name]
    field_order_ok(model, data)
    for key, value in data.items():
        if isinstance(value, list) and value:
            item_model = model.model_fields[key].annotation.__args__[0]
            for item in value:
                field_order_ok(item_model, item)


def test_websocket_message_round_trips_and_legacy_shape():
    frame = load("market_position.json")
    update = MarketPositionUpdate.model_validate(frame["msg"])
    assert json.dumps(update.envelope(14)) == json.dumps(frame)
    assert json.dumps(update.envelope(14, legacy=True)) == json.dumps(load("market_position_legacy.json"))


def test_legacy_centi_cents_are_dollars_times_ten_thousand():
    u = MarketPositionUpdate(user_id="u", market_ticker="M", position_fp="-2.00", position_cost_dollars="0.0001",
                             realized_pnl_dollars="-1.2345", fees_paid_dollars="0", position_fee_cost_dollars="12",
                             volume_fp="7")
    legacy = u.legacy()
    assert (legacy["position_cost"], legacy["realized_pnl"], legacy["fees_paid"], legacy["position_fee_cost"]) \
        == (1, -12345, 0, 120000)
    assert (legacy["position"], legacy["volume"]) == (-2, 7)
    assert "subaccount" not in legacy


# ---------------------------------------------------------------- scalar formats
@pytest.mark.parametrize(("value", "text"), [
    ("0.56", "0.5600"), ("1", "1.0000"), ("0.00005", "0.00005"), ("0.0000005", "0.0000"),
    ("0.0000015", "0.000002"), ("0.0000025", "0.000002"), ("-0.0000004", "0.0000"), ("-1.23456", "-1.23456"),
    ("-1.2345675", "-1.234568"), ("0.123400", "0.1234"), ("0.1234500", "0.12345"), ("1E+3", "1000.0000"),
])
def test_dollars_are_four_to_six_places_half_even_without_negative_zero(value, text):
    """FixedPointDollars: responses carry up to 6 dp; fixgw never prints fewer than 4."""
    assert dollars(Decimal(value)) == text


@pytest.mark.parametrize(("value", "text"), [("10", "10.00"), ("0.015", "0.02"), ("-3", "-3.00"), ("-0.001", "0.00")])
def test_counts_are_two_places(value, text):
    assert count(Decimal(value)) == text


@pytest.mark.parametrize(("value", "text"), [
    (dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc), "2026-11-21T12:00:00Z"),
    (dt.datetime(2026, 11, 21, 12, 0), "2026-11-21T12:00:00Z"),  # naive = UTC
    (dt.datetime(2026, 11, 21, 7, 0, 1, 500000, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "2026-11-21T12:00:01.5Z"),
    (dt.datetime(2026, 11, 21, 12, 0, 0, 123, tzinfo=dt.timezone.utc), "2026-11-21T12:00:00.000123Z"),
])
def test_times_are_utc_rfc3339(value, text):
    assert rfc3339(value) == text


def fill_data(**changes):
    data = load("fills.json")["fills"][0]
    data.update(changes)
    return data


def test_floats_are_refused_for_money_and_counts():
    with pytest.raises(ValidationError):
        Fill.model_validate(fill_data(yes_price_dollars=0.56))
    with pytest.raises(ValidationError):
        Fill.model_validate(fill_data(count_fp=10.0))
    with pytest.raises(ValidationError):
        Fill.model_validate(fill_data(fee_cost="abc"))


def test_values_are_decimals_quantized_on_parse():
    fill = Fill.model_validate(fill_data(yes_price_dollars="0.56", count_fp="10", fee_cost="0.1234565"))
    assert fill.yes_price_dollars == Decimal("0.56") and isinstance(fill.yes_price_dollars, Decimal)
    assert str(fill.fee_cost) == "0.123456"  # 6 dp, half even
    assert fill.model_dump()["count_fp"] == Decimal("10.00")  # python mode keeps Decimal
    assert fill.created_time.tzinfo is not None


def test_unknown_and_legacy_rest_keys_are_ignored():
    fill = Fill.model_validate(fill_data(count=10, yes_price=56, client_order_id="x"))
    assert "count" not in fill.model_dump(mode="json")


def test_optional_fields_are_omitted_or_null_as_the_schema_says():
    fill = Fill.model_validate(fill_data(side=None, action=None, created_time=None, subaccount_number=None, ts=None))
    out = fill.model_dump(mode="json")
    assert not {"side", "action", "created_time", "subaccount_number", "ts"} & set(out)
    order = Order.model_validate(load("orders.json")["orders"][1])
    out = order.model_dump(mode="json")
    assert out["self_trade_prevention_type"] is None and "created_time" in out  # x-omitempty: false
    assert not {"expiration_time", "order_group_id", "cancel_order_on_pause", "subaccount_number"} & set(out)


def test_bad_enums_are_refused():
    with pytest.raises(ValidationError):
        Fill.model_validate(fill_data(book_side="yes"))
    with pytest.raises(ValidationError):
        Order.model_validate(dict(load("orders.json")["orders"][0], status="pending"))


def test_models_are_frozen():
    position = MarketPosition.model_validate(load("positions.json")["market_positions"][0])
    with pytest.raises(ValidationError):
        position.position_fp = Decimal(1)


def test_single_items_round_trip():
    for model, item in [(EventPosition, load("positions.json")["event_positions"][0]),
                        (Settlement, load("settlements.json")["settlements"][1])]:
        parsed = model.model_validate_json(json.dumps(item))
        assert json.dumps(json.loads(parsed.model_dump_json())) == json.dumps(item)
