"""The writer's one-pass key (StoredReport.scan) gives exactly the decoded path's row, or leaves the report to it."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.fix import codec as fields
from fixgw.errors import DecodeError
from fixgw.models import fix as m
from fixgw.pricing import Units
from fixgw.recorder.store import StoredReport
from fix.test_codec import SOH, as_raw, model_strategy  # tests/fix/test_codec.py

AT = dt.datetime(2026, 11, 21, 12, tzinfo=dt.timezone.utc)
reports = st.sampled_from(list(Units)).flatmap(lambda u: st.tuples(st.just(u), model_strategy(m.ExecutionReport, u)))


def decoded(raw: str, units: Units) -> StoredReport | None:
    """What the writer stores when it decodes the report (None: it would not store it from a model)."""
    try:
        msg = fields.decode_raw(raw, units)
        if msg.exec_type is m.ExecType.REJECTED:
            return None
        return StoredReport.from_model("acct", "event", msg, raw, AT, units)
    except (DecodeError, ValueError):
        return None


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(reports, st.booleans())
def test_scan_equals_the_decoded_row_or_declines(unit_er, keyed):
    units, er = unit_er
    if keyed:  # most real reports: an ExecID the store can key on
        er = er.model_copy(update={"exec_id": "17;4"})
    raw = as_raw(*fields.encode(er, units))
    ours = StoredReport.scan("acct", "event", raw, AT, units)
    if ours is not None:  # taken from the text: the very row the decoded path stores
        assert ours == decoded(raw, units)


def trade_text(over: dict | None = None) -> str:
    body = {37: "o1", 11: "c1", 17: "5;9", 150: "F", 39: "1", 54: "2", 55: "KX-T1", 38: "10.00", 44: "40",
            14: "4.00", 151: "6.00", 31: "40", 32: "4.00", 60: "20261121-12:00:00.250", 79: "3"}
    body.update(over or {})
    return as_raw("8", [(t, v) for t, v in body.items() if v is not None])


def test_a_plain_report_is_keyed_from_its_text():
    r = StoredReport.scan("acct", "event", trade_text(), AT, Units.CENTS)
    assert (r.exec_id, r.key, r.symbol, r.subaccount) == ("5;9", (0, 5, 9), "KX-T1", 3)
    assert r.transact_time == dt.datetime(2026, 11, 21, 12, 0, 0, 250_000, tzinfo=dt.timezone.utc)
    assert r == decoded(trade_text(), Units.CENTS)


@pytest.mark.parametrize("change", [
    {37: None},                  # a required field missing: the decoder names it
    {14: ""},                    # ... or empty
    {39: "Z"},                   # an OrdStatus the dictionary does not list: lenient, named
    {150: "8"},                  # a rejected report: not stored
    {17: "-1;-1"},               # pending: no key
    {17: "x;1"},                 # no store key
    {60: "yesterday"},           # TransactTime that does not convert
    {79: "one"},                 # AllocAccount that does not convert
])
def test_what_is_not_plain_is_left_to_the_decoder(change):
    assert StoredReport.scan("acct", "event", trade_text(change), AT, Units.CENTS) is None


def test_a_repeated_field_is_left_to_the_decoder():
    raw = trade_text().replace(f"{SOH}55=KX-T1{SOH}", f"{SOH}55=KX-T1{SOH}55=KX-T2{SOH}")
    assert StoredReport.scan("acct", "event", raw, AT, Units.CENTS) is None


@given(st.lists(st.text("0123456789", min_size=1, max_size=20), min_size=1, max_size=4))
def test_exec_key_takes_digits_that_fit_64_bits_and_refuses_the_rest(parts):
    """The key's short path (clock;event of at most 18 digits each) and its long one agree with
    the rule: two or three ';'-separated runs of 1-19 digits, each at most 2^63 - 1."""
    from fixgw.errors import DecodeError
    from fixgw.recorder.store import INT64_MAX, exec_key

    exec_id = ";".join(parts)
    valid = len(parts) in (2, 3) and all(len(p) <= 19 and int(p) <= INT64_MAX for p in parts)
    if not valid:
        with pytest.raises(DecodeError):
            exec_key(exec_id)
        return
    n = [int(p) for p in parts]
    assert exec_key(exec_id) == (n[2] if len(n) == 3 else 0, n[0], n[1])
