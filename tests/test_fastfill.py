"""The raw-text Fill lane gives exactly the generic path's Fill (or its error) for any report, and its
JSON lane exactly the text that Fill's ``model_dump_json()`` is."""

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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
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


def generic_json(raw: str, units: Units, deprecated: bool):
    return fastfill.as_json(generic(raw, units, deprecated))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reports, st.booleans(), st.booleans(), st.sampled_from(["", "123", "123456", "123456789", "000", "100"]))
def test_json_lane_equals_the_models_json(unit_er, trade, deprecated, fraction):
    units, er = unit_er
    if trade:
        er = er.model_copy(update={"exec_type": m.ExecType.TRADE})
    raw = as_raw(*fields.encode(er, units))
    if fraction and er.transact_time is not None:  # TransactTime with 0, 3, 6 or 9 digits of a second
        start = raw.index(f"{SOH}60=") + 4
        raw = raw[:start + 17] + f".{fraction}" * bool(fraction) + raw[raw.index(SOH, start):]
    ours, theirs = outcome(lambda: fastfill.fill_json(raw, units, deprecated=deprecated)), \
        outcome(lambda: generic_json(raw, units, deprecated))
    assert ours == theirs


def test_json_lane_writes_plain_fills_itself_and_leaves_the_rest_to_the_model(monkeypatch):
    plain = trade_text({60: "20261121-12:00:00.250", 880: "t-1", 136: "1", 137: "0.0175", 138: "USD", 139: "4"})
    want = generic_json(plain, Units.CENTS, True)
    assert want[2].startswith('{"fill_id":"t-1",') and '"created_time":"2026-11-21T12:00:00.25Z"' in want[2]
    odd = [trade_text({55: 'KX"Q-1'}), trade_text({880: "t\\1"}),  # text JSON must escape
           trade_text({60: "19691231-23:59:59.500"}),  # ts truncates towards zero before 1970
           trade_text().replace(f"{SOH}32=4.00{SOH}", f"{SOH}32=4.00{SOH}32=5.00{SOH}")]  # a repeated tag
    wants = [outcome(generic_json, raw, Units.CENTS, True) for raw in odd]

    def no_model(*args):
        raise AssertionError("the plain fill went through the model")
    monkeypatch.setattr(fastfill, "_generic", no_model)
    assert fastfill.fill_json(plain, Units.CENTS) == want
    monkeypatch.undo()
    for raw, theirs in zip(odd, wants):
        assert outcome(fastfill.fill_json, raw, Units.CENTS) == theirs


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
