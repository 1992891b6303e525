"""The raw-text Fill lane gives exactly the generic path's Fill (or its error) for any report."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw import fastfill, translate
from fixgw.fix import codec as fields
from fixgw.models import fix as m
from fixgw.pricing import Units
from fix.test_codec import SOH, as_raw, model_strategy  # tests/fix/test_codec.py

reports = st.sampled_from(list(Units)).flatmap(lambda u: st.tuples(st.just(u), model_strategy(m.ExecutionReport, u)))


def generic(raw: str, units: Units, deprecated: bool):
    return translate.fill_from_report(fields.decode_raw(raw, units), deprecated=deprecated)


def outcome(fn, *args):
    try:
        return "ok", fn(*args)
    except (ValueError, ArithmeticError) as exc:  # DecodeError is a ValueError
        return "error", str(exc)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(reports, st.booleans(), st.booleans())
def test_lane_equals_generic_path(unit_er, trade, deprecated):
    units, er = unit_er
    if trade:
        er = er.model_copy(update={"exec_type": m.ExecType.TRADE})
    raw = as_raw(*fields.encode(er, units))
    ours, theirs = outcome(lambda: fastfill.fill(raw, units, deprecated=deprecated)), \
        outcome(lambda: generic(raw, units, deprecated))
    assert ours == theirs
    if theirs[0] == "ok" and theirs[1] is not None:
        assert ours[1].model_dump_json() == theirs[1].model_dump_json()


def trade_text(over: dict | None = None) -> str:
    body = {37: "o1", 11: "c1", 17: "5;9", 150: "F", 39: "1", 54: "2", 55: "KX-T1", 38: "10.00",
            44: "40", 6: "40", 14: "4.00", 151: "6.00", 31: "40", 32: "4.00", 60: "20261121-12:00:00.250"}
    body.update(over or {})
    return as_raw("8", [(t, v) for t, v in body.items() if v is not None])


@pytest.mark.parametrize("change", [
    {31: None},                      # no LastPx: the generic error, not a guess
    {32: "four"},                    # unreadable count
    {60: "yesterday"},               # unreadable time
    {54: "7"},                       # a side that is not an outcome
])
def test_what_the_lane_cannot_read_gets_the_generic_answer(change):
    raw = trade_text(change)
    assert outcome(fastfill.fill, raw, Units.CENTS) == outcome(generic, raw, Units.CENTS, True)
    assert outcome(fastfill.fill, raw, Units.CENTS)[0] == "error"


def test_repeated_tag_goes_the_generic_way():
    raw = trade_text().replace(f"{SOH}32=4.00{SOH}", f"{SOH}32=4.00{SOH}32=5.00{SOH}")
    assert outcome(fastfill.fill, raw, Units.CENTS) == outcome(generic, raw, Units.CENTS, True)


def test_non_trade_costs_nothing_and_is_none():
    assert fastfill.fill(trade_text({150: "0", 39: "0", 31: None, 32: None}), Units.CENTS) is None
    assert not fastfill.is_trade(trade_text({150: "0"})) and fastfill.is_trade(trade_text())
