"""FcmFill and Balance against field lists taken from Kalshi's published schema (tests/fixtures/rest/fcm_fields.json)."""

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

from fixgw.models.fcm import Balance, FcmFill

FIELDS = json.loads((Path(__file__).resolve().parent.parent / "fixtures" / "rest" / "fcm_fields.json").read_text())


def check(body: dict, name: str, ordered: bool = True) -> None:
    spec = FIELDS[name]
    assert set(spec["required"]) <= set(body), f"{name}: missing {set(spec['required']) - set(body)}"
    assert set(body) <= set(spec["properties"]), f"{name}: not in Kalshi's schema: {set(body) - set(spec['properties'])}"
    order = [spec["properties"].index(k) for k in body]
    assert not ordered or order == sorted(order), f"{name}: keys out of schema order"


def test_fcm_fill_bodies_have_kalshis_fields():
    one_side = FcmFill(fill_id="t", exchange_index=0, ticker="KX-1", taker_outcome_side="no", count_fp="2",
                       yes_price_dollars="0.54", created_time=dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc),
                       taker_order_id="o", taker_subtrader_id="s", taker_fee_cost="0.02")
    body = json.loads(one_side.model_dump_json())
    check(body, "FcmFill")
    assert "maker_order_id" not in body and body["count_fp"] == "2.00" and body["yes_price_dollars"] == "0.5400"
    both = one_side.model_copy(update={"maker_order_id": "m", "maker_subtrader_id": "s2",
                                       "maker_fee_cost": Decimal(0)})
    check(json.loads(both.model_dump_json()), "FcmFill")
    assert FcmFill.model_validate_json(both.model_dump_json()) == both


def test_balance_bodies_have_kalshis_fields():
    body = json.loads(Balance(balance=191, balance_dollars=Decimal("1.9175"), updated_ts=1795309276).model_dump_json())
    check(body, "Balance", ordered=False)  # balance_dollars' place in the newer schema is not on record
    assert body == {"balance": 191, "balance_dollars": "1.9175", "updated_ts": 1795309276}
