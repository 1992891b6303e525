"""The adapter's quickfix.Message builder: groups survive, both builders agree."""

import datetime as dt
from decimal import Decimal

import pytest

from fixgw.adapter import encode as codec
from fixgw.fix import codec as fields
from fixgw.models.fix import (CollateralChange, ExecType, ExecutionReport, MarketSettlementReport, MiscFee,
                              NewOrderSingle, OrdStatus, SettlementParty, Side)
from fixgw.pricing import Units

T = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)
ER = ExecutionReport(order_id="o1", exec_id="4;7", exec_type=ExecType.TRADE, ord_status=OrdStatus.FILLED,
                     side=Side.BUY, symbol="KX-A", cum_qty=Decimal(2), leaves_qty=Decimal(0), last_px=Decimal("0.4"),
                     last_qty=Decimal(2), transact_time=T, trd_match_id="t1", aggressor=True,
                     fees=(MiscFee(amount=Decimal("0.02"), currency="USD", fee_type="4", basis=0),),
                     collateral=(CollateralChange(amount=Decimal("-0.82"), kind="BALANCE"),
                                 CollateralChange(amount=Decimal("1"), kind="PAYOUT")))
UMS = MarketSettlementReport(report_id="r", symbol="KX-A", clearing_business_date="20261121", market_result="yes",
                             parties=(SettlementParty(party_id="a", long_qty=Decimal(3), collateral=(
                                 CollateralChange(amount=Decimal(3), kind="PAYOUT"),),
                                 fees=(MiscFee(amount=Decimal(0)),)),
                                      SettlementParty(party_id="b", short_qty=Decimal(1))))
NOS = NewOrderSingle(cl_ord_id="c1", symbol="KX-A", side=Side.SELL, order_qty=Decimal(3), price=Decimal("0.55"))


@pytest.mark.parametrize("model", [ER, UMS, NOS], ids=["ER", "UMS", "D"])
@pytest.mark.parametrize("units", [Units.CENTS, Units.DOLLARS])
def test_messages_round_trip_through_quickfix(model, units):
    msg_type, pairs = fields.encode(model, units)
    for build in (codec.to_message, codec.to_message_fields):
        raw = build(msg_type, pairs, "event").toString()
        assert fields.decode_raw(raw, units) == model
