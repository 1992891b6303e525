import datetime as dt
import inspect
import types
import typing
from decimal import Decimal as D
from enum import Enum

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixgw.fix import dictionary, dictionary_tables, codec as fields, codec_tables as fields_tables, lenient
from fixgw.errors import DecodeError, OrderError
from fixgw.fix.codec import decode, decode_raw, decode_raw_with_unknown, decode_with_unknown, encode
from fixgw.fix.wire import split
from fixgw.models import fix as m
from fixgw.pricing import Units

C, USD = Units.CENTS, Units.DOLLARS
SOH = "\x01"
UTC = dt.timezone.utc
GROUP_MODELS = {m.MiscFee, m.CollateralChange, m.SettlementParty, m.Party, m.Anomaly, m.Received}  # not messages
MESSAGE_MODELS = [c for _, c in inspect.getmembers(m, inspect.isclass)
                  if issubclass(c, m.Model) and c is not m.Model and c not in GROUP_MODELS]
HEADER = "8=FIXT.1.1|9=999|35={mt}|34=12|49=KalshiNR|52=20260820-14:30:00.123|56=me|"


def raw(text: str, mt: str | None = None) -> str:
    """Doc-style ``|`` text -> SOH text, with a header unless it has one."""
    if mt is not None:
        text = HEADER.format(mt=mt) + text + "|10=123|"
    return text.replace("|", SOH)


# ================================================================== strategies
# Built from the models' annotations (not from fields_tables), so a field the codec
# forgot to map fails the round trip instead of being skipped.
PRICES = {"price", "avg_px", "last_px"}
WHOLE_CENT_PRICES = {"price", "last_px"}
MONEY = {"amount", "max_execution_cost", "single_market_collateral_return",
         "ranged_market_collateral_return"}

text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=12)
timestamps = st.datetimes(dt.datetime(1970, 1, 2), dt.datetime(2200, 1, 1), timezones=st.just(UTC)).map(
    lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))


def scaled(lo: int, hi: int, places: int) -> st.SearchStrategy[D]:
    return st.integers(lo, hi).map(lambda n: D(n).scaleb(-places))


def decimal_strategy(name: str, units: Units) -> st.SearchStrategy[D]:
    if name in PRICES:
        if units is C and name in WHOLE_CENT_PRICES:
            return scaled(1, 99, 2)
        return scaled(1, 9999, 4) if units is C else scaled(1, 10**10, 4)
    if name == "settlement_price":
        return scaled(0, 10000, 4)
    if name in MONEY:
        return scaled(-10**10, 10**10, 4)
    return scaled(0, 10**9, 2)  # quantities


HEADER_52 = dt.datetime(2026, 8, 20, 14, 30, tzinfo=UTC)  # the SendingTime as_raw writes


def from_raw(msg: m.Model) -> m.Model:
    """What decoding ``msg`` from raw text gives: header 52 stands in for a missing 60."""
    if isinstance(msg, m.ExecutionReport) and msg.transact_time is None:
        return msg.model_copy(update={"sending_time": HEADER_52})
    return msg


def value_strategy(name: str, tp: object, units: Units) -> st.SearchStrategy:
    if name == "sending_time":  # from the header, never encoded in a body
        return st.none()
    if typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    args = typing.get_args(tp)
    if name == "anomalies":  # what the lenient decoder notes; never encoded
        return st.just(())
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        enums = [a for a in inner if isinstance(a, type) and issubclass(a, Enum)]
        if enums:  # an enum field of a received message may hold raw text; round trips use members
            inner = enums
        base = value_strategy(name, inner[0], units)
        return st.none() | base if type(None) in args else base
    if typing.get_origin(tp) is tuple:
        return st.lists(model_strategy(args[0], units), max_size=3).map(tuple)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from(tp)
    if tp is bool:
        return st.just(False) if name == "poss_dup" else st.booleans()
    return {str: text, int: st.integers(-2**40, 2**40), D: decimal_strategy(name, units),
            dt.datetime: timestamps}[tp]  # type: ignore[index]


def model_strategy(model: type[m.Model], units: Units) -> st.SearchStrategy:
    return st.builds(model, **{name: value_strategy(name, f.annotation, units)
                               for name, f in model.model_fields.items()})


messages = st.sampled_from(MESSAGE_MODELS).flatmap(
    lambda model: st.tuples(st.sampled_from(Units), st.just(model))).flatmap(
    lambda um: st.tuples(st.just(um[0]), model_strategy(um[1], um[0])))


def as_raw(mt: str, pairs: list[tuple[int, str]], poss_dup: bool = False) -> str:
    head = f"8=FIXT.1.1|9=100|35={mt}|34=7|" + ("43=Y|" if poss_dup else "") + "49=K|52=20260820-14:30:00.000|56=me|"
    body = "".join(f"{t}={v}{SOH}" for t, v in pairs)
    return head.replace("|", SOH) + body + f"10=000{SOH}"


# ================================================================== round trips
def test_every_message_model_has_a_msg_type():
    assert len(MESSAGE_MODELS) == 15
    assert sorted(fields.MODELS.values(), key=str) == sorted(MESSAGE_MODELS, key=str)


@pytest.mark.parametrize("model", MESSAGE_MODELS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("units", list(Units))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_every_model(model, units, data):
    msg = data.draw(model_strategy(model, units))
    mt, pairs = encode(msg, units)
    assert decode(mt, pairs, units) == msg
    assert decode_raw(as_raw(mt, pairs), units) == from_raw(msg)
    assert all(isinstance(t, int) and isinstance(v, str) and v for t, v in pairs)


@settings(max_examples=200, deadline=None)
@given(messages, st.booleans())
def test_round_trip_through_raw_text_and_split(unit_msg, poss_dup):
    units, msg = unit_msg
    mt, pairs = encode(msg, units)
    text = as_raw(mt, pairs, poss_dup)
    assert split(text) == (mt, poss_dup, pairs)
    model, unknown = decode_raw_with_unknown(text, units)
    assert unknown == ()
    if isinstance(msg, m.ExecutionReport):
        assert model.poss_dup is poss_dup
        msg = msg.model_copy(update={"poss_dup": poss_dup})
    assert model == from_raw(msg)


@settings(max_examples=100, deadline=None)
@given(messages)
def test_fast_construction_matches_model_construct(unit_msg):
    units, msg = unit_msg
    got = decode(*encode(msg, units), units)
    ref = type(got).model_construct(**{k: getattr(got, k) for k in got.model_fields_set})
    assert got.__dict__ == ref.__dict__ and list(got.__dict__) == list(ref.__dict__)
    assert got.model_fields_set == ref.model_fields_set
    assert got.__pydantic_extra__ is None and got.__pydantic_private__ is None
    assert type(got).model_validate(got.model_dump()) == got  # it is a valid model too
    assert got.model_copy(update={}) == got and hash(got.model_dump_json())


@settings(max_examples=100, deadline=None)
@given(messages, st.data())
def test_trusted_construction_equals_validation(unit_msg, data):
    """fields.trusted (new_order's fast path) builds exactly what pydantic validation builds."""
    _, msg = unit_msg
    given_ = data.draw(st.sets(st.sampled_from(sorted(msg.model_fields_set) or ["-"])))
    required = {n for n, f in type(msg).model_fields.items() if f.is_required()}
    values = {n: getattr(msg, n) for n in (given_ | required) - {"-"}}
    got, ref = fields.trusted(type(msg), values), type(msg)(**values)
    assert got == ref and repr(got) == repr(ref) and got.model_dump_json() == ref.model_dump_json()
    assert got.model_fields_set == ref.model_fields_set


# ================================================================== decoding never raises anything else
ALL_TAGS = sorted(dictionary_tables.FIELDS)


def layout_tags(mt: str) -> list[int]:
    body = dictionary_tables.EVENT_MESSAGES.get(mt) or dictionary_tables.TRANSPORT_MESSAGES[mt]
    return [e.tag for e in dictionary._walk(dictionary.parse_layout(body[1]))]


msg_types = st.sampled_from(sorted(fields.MSG_TYPES) + ["0", "A", "Z", "", "8 ", "UMX"])
anything = st.text(min_size=1, max_size=8) | st.sampled_from(["", "Y", "N", "1", "0", "2", "-1;-1", "10.00", "75",
                                                  "F", "A", "8", "BALANCE", "USD", "4", "3", "-7.40",
                                                  "20260820-14:30:00.120", "NaN", "1e3", "99999999999"])


@st.composite
def field_lists(draw):
    mt = draw(msg_types)
    tags = st.sampled_from(layout_tags(mt) if mt in fields.MSG_TYPES else ALL_TAGS)
    tag = tags | st.sampled_from(ALL_TAGS) | st.integers(-5, 30000)
    return mt, draw(st.lists(st.tuples(tag, anything), max_size=30))


@settings(max_examples=800, deadline=None)
@given(field_lists(), st.sampled_from(Units), st.booleans())
def test_decoding_arbitrary_fields_gives_a_model_or_decode_error(mt_pairs, units, poss_dup):
    mt, pairs = mt_pairs
    for call in (lambda: decode_with_unknown(mt, pairs, units, poss_dup),
                 lambda: decode_raw_with_unknown(as_raw(mt, pairs), units),
                 lambda: split(as_raw(mt, pairs))):
        try:
            result = call()
        except DecodeError as exc:
            assert exc.msg_type is not None
        else:
            assert result is not None


@settings(max_examples=400, deadline=None)
@given(messages, st.data())
def test_mutated_valid_messages_give_a_model_or_decode_error(unit_msg, data):
    units, msg = unit_msg
    mt, pairs = encode(msg, units)
    pairs = list(pairs)
    for _ in range(data.draw(st.integers(1, 3))):
        op = data.draw(st.sampled_from(["drop", "dup", "value", "swap", "insert"]))
        if not pairs and op != "insert":
            continue
        i = data.draw(st.integers(0, max(0, len(pairs) - 1)))
        if op == "drop":
            del pairs[i]
        elif op == "dup":
            pairs.insert(i, pairs[i])
        elif op == "value":
            pairs[i] = (pairs[i][0], data.draw(anything))
        elif op == "swap":
            j = data.draw(st.integers(0, len(pairs) - 1))
            pairs[i], pairs[j] = pairs[j], pairs[i]
        else:
            pairs.insert(i, (data.draw(st.sampled_from(ALL_TAGS)), data.draw(anything)))
    for call in (lambda: decode(mt, pairs, units), lambda: decode_raw(as_raw(mt, pairs), units)):
        try:
            call()
        except DecodeError:
            pass


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200) | st.lists(st.sampled_from(["35=8", "35=UMS", "=", "\x01", "1=", "=1", "37=a",
                                                         "136=1", "137=1", "43=Y", "10=0"])).map("".join))
def test_decoding_random_text_gives_a_model_or_decode_error(text_):
    for call in (lambda: decode_raw(text_, C), lambda: split(text_)):
        try:
            call()
        except DecodeError:
            pass


@pytest.mark.parametrize("bad", [None, 8, b"35=8", ["35=8"]])
def test_decode_raw_of_non_text_is_a_decode_error(bad):
    with pytest.raises(DecodeError):
        decode_raw(bad, C)  # type: ignore[arg-type]


@pytest.mark.parametrize("pairs", [[(37, 5)], [(37,)], [("a", "b", "c")], 5, [[[]]], [(37, None)]])
def test_decode_of_malformed_pairs_is_a_decode_error(pairs):
    with pytest.raises(DecodeError):
        decode("8", pairs, C)  # type: ignore[arg-type]


# ================================================================== realistic samples
TRADE = ("37=ord-1|11=cl-1|17=4;7|150=F|39=2|54=1|55=HIGHNY-23DEC31-B50|38=10.00|44=75|6=74.50|"
         "14=10.00|151=0.00|30=0|31=74|32=10.00|60=20260820-14:30:00.120|79=3|715=20260820|"
         "704=10.00|705=0.00|880=trade-9|1057=Y|136=1|137=0.07|138=USD|139=4|891=0|"
         "1703=1|1704=-7.47|1705=BALANCE")


def test_trade_report():
    er = decode_raw(raw(TRADE, "8"), C)
    assert er == m.ExecutionReport(
        order_id="ord-1", cl_ord_id="cl-1", exec_id="4;7", exec_type=m.ExecType.TRADE,
        ord_status=m.OrdStatus.FILLED, side=m.Side.BUY, symbol="HIGHNY-23DEC31-B50",
        order_qty=D(10), price=D("0.75"), avg_px=D("0.745"), cum_qty=D(10), leaves_qty=D(0),
        last_mkt=0, last_px=D("0.74"), last_qty=D(10),
        transact_time=dt.datetime(2026, 8, 20, 14, 30, 0, 120000, UTC), alloc_account=3,
        clearing_business_date="20260820", long_qty=D(10), short_qty=D(0), trd_match_id="trade-9",
        aggressor=True, fees=(m.MiscFee(amount=D("0.07"), currency="USD", fee_type="4", basis=0),),
        collateral=(m.CollateralChange(amount=D("-7.47"), kind="BALANCE"),))
    assert er.fee_total == D("0.07") and not er.is_pending and not er.poss_dup
    assert str(er.cum_qty) == "10.00"  # the wire's precision survives
    assert er.transact_time.tzinfo is UTC


def test_trade_report_in_dollars_with_split_collateral_and_parties():
    text = TRADE.replace("44=75", "44=0.7500").replace("6=74.50", "6=0.7450").replace("31=74", "31=0.7400")
    text += "|453=1|448=sub-trader|452=24|21030=1.25|21031=0.50"
    er, unknown = decode_raw_with_unknown(raw(text, "8"), USD)
    assert (er.price, er.avg_px, er.last_px) == (D("0.75"), D("0.745"), D("0.74"))
    assert (er.single_market_collateral_return, er.ranged_market_collateral_return) == (D("1.25"), D("0.5"))
    assert unknown == ()  # parties are part of the layout, just not of the model


def test_resent_trade_report_carries_poss_dup():
    text = raw(TRADE, "8").replace(SOH + "34=12" + SOH, SOH + "34=12" + SOH + "43=Y" + SOH + "122=20260820-14:29:00.000" + SOH)
    assert decode_raw(text, C).poss_dup is True
    assert split(text)[:2] == ("8", True)


def test_pending_report():
    er = decode_raw(raw("37=ord-1|11=cl-1|17=-1;-1|150=A|39=A|54=2|55=X|38=5.00|44=60|14=0.00|151=5.00|"
                        "60=20260820-14:30:00.000", "8"), C)
    assert er.is_pending and er.exec_type is m.ExecType.PENDING_NEW and er.side is m.Side.SELL
    assert er.price == D("0.60")


def test_order_reject():
    er = decode_raw(raw("37=NONE|11=456|17=0;0|150=8|39=8|54=1|55=X|14=0.00|151=0.00|"
                        "58=EXCHANGE_PAUSED|103=2", "8"), C)
    assert (er.exec_type, er.ord_status, er.ord_rej_reason, er.text) == (
        m.ExecType.REJECTED, m.OrdStatus.REJECTED, 2, "EXCHANGE_PAUSED")


def test_abbreviated_doc_reject_names_the_first_missing_field():
    with pytest.raises(DecodeError, match="required field order_id is missing") as exc:
        decode_raw(raw("11=456|150=8|39=8|58=EXCHANGE_PAUSED|103=2", "8"), C)
    assert (exc.value.msg_type, exc.value.tag) == ("8", 37)


def test_cancel_reject():
    rej = decode_raw(raw("37=ord-1|11=cl-2|41=cl-1|39=0|434=2|102=2|58=INVALID_AMEND_QTY_FOR_ORDER", "9"), C)
    assert rej == m.OrderCancelReject(order_id="ord-1", cl_ord_id="cl-2", orig_cl_ord_id="cl-1",
                                      ord_status=m.OrdStatus.NEW, response_to=2, reason=2,
                                      text="INVALID_AMEND_QTY_FOR_ORDER")


def test_event_resend_complete_and_reject():
    assert decode_raw(raw("45=3|21003=12", "U2"), C) == m.EventResendComplete(ref_seq_num=3, count=12)
    assert decode_raw(raw("45=3|21004=3|58=BeginExecID outside window", "U3"), C) == m.EventResendReject(
        ref_seq_num=3, reason=3, text="BeginExecID outside window")
    assert decode_raw(raw("21001=12345;67890|21002=12350;67895", "U1"), C) == m.EventResendRequest(
        begin_exec_id="12345;67890", end_exec_id="12350;67895")


def party(who: str, yes: str, payout: str, fee: str) -> str:
    return (f"20109={who}|20110=24|704={yes}|705=0|1703=1|1704={payout}|1705=PAYOUT|"
            f"136=1|137={fee}|138=USD|139=4|891=0")


@pytest.mark.parametrize("units", list(Units))  # 730 is cents on every session
def test_market_settlement_report_with_nested_groups(units):
    ums = decode_raw(raw("20105=settle-123|55=HIGHNY-23DEC31|715=20231231|20106=1|20107=scalar|730=30.60|"
                         "893=Y|20108=2|" + party("user-456", "100", "30.60", "0.00") + "|"
                         + party("user-789", "3", "0.91", "0.01"), "UMS"), units)
    assert (ums.report_id, ums.market_result, ums.settlement_price, ums.last_fragment) == (
        "settle-123", "scalar", D("0.306"), True)
    assert [p.party_id for p in ums.parties] == ["user-456", "user-789"]
    second = ums.parties[1]
    assert (second.role, second.long_qty, second.short_qty) == (24, D(3), D(0))
    assert second.collateral == (m.CollateralChange(amount=D("0.91"), kind="PAYOUT"),)
    assert second.fees == (m.MiscFee(amount=D("0.01"), currency="USD", fee_type="4", basis=0),)


def test_doc_settlement_example_with_last_fragment_after_the_group():
    ums = decode_raw(raw("20105=settle-123|55=HIGHNY-23DEC31|715=20231231|20107=yes|730=100.00|20108=1|"
                         + party("user-456", "100", "100.00", "0.00") + "|893=Y", "UMS"), C)
    assert ums.settlement_price == D(1) and ums.last_fragment is True and len(ums.parties) == 1


def test_margin_execution_report_in_dollars():
    er, unknown = decode_raw_with_unknown(raw(
        "37=ord-1|11=cl-1|17=9;4|150=F|39=2|54=2|55=BTC-PERP|38=10.00|44=19.5000|6=19.5125|14=10.00|"
        "151=0.00|31=19.5125|32=10.00|30=0|18=E|453=2|448=acct|452=24|448=op-7|452=12|715=20260820|"
        "704=0.00|705=10.00|880=t-1|1057=N|136=1|137=0.0100|138=USD|139=4|891=0|1703=1|"
        "1704=-195.1250|1705=BALANCE", "8"), USD)
    assert (er.price, er.avg_px, er.last_px, er.exec_inst, er.aggressor) == (
        D("19.5"), D("19.5125"), D("19.5125"), "E", False)
    assert er.collateral[0].amount == D("-195.125") and er.fee_total == D("0.01")
    assert unknown == ()


def test_order_group_messages():
    assert decode_raw(raw("20131=1|20132=5000", "UOG"), C) == m.OrderGroupRequest(
        action=m.OrderGroupAction.CREATE, contracts_limit=5000)
    assert decode_raw(raw("20130=770e8400|20132=5000|79=2", "UOH"), C) == m.OrderGroupResponse(
        order_group_id="770e8400", contracts_limit=5000, alloc_account=2)


def test_rejects_and_mass_cancel_report():
    assert decode_raw(raw("45=9|372=D|379=cl-1|380=8|58=rate limit", "j"), C) == m.BusinessMessageReject(
        ref_seq_num=9, ref_msg_type="D", ref_id="cl-1", reason=8, text="rate limit")
    assert decode_raw(raw("45=9|371=44|372=D|373=5", "3"), C) == m.SessionReject(
        ref_seq_num=9, ref_tag_id=44, ref_msg_type="D", reason=5)
    assert decode_raw(raw("11=mc-1|37=op-1|530=6|531=6|533=4", "r"), C) == m.OrderMassCancelReport(
        order_id="op-1", response=6, cl_ord_id="mc-1", request_type=6, total_affected=4)


# ================================================================== requests
def test_new_order_single_encoding():
    order = m.NewOrderSingle(cl_ord_id="c-1", symbol="HIGHNY-23DEC31", side=m.Side.BUY, order_qty=D(10),
                             price=D("0.75"), time_in_force=m.TimeInForce.GTC, post_only=True,
                             order_group_id="g-1", stp_type=m.SelfTradePrevention.MAKER,
                             max_execution_cost=D("7.5"), cancel_order_on_pause=True)
    mt, pairs = encode(order, C)
    assert mt == "D"
    assert pairs == [(11, "c-1"), (18, "6"), (38, "10.00"), (40, "2"), (44, "75"), (54, "1"),
                     (55, "HIGHNY-23DEC31"), (59, "1"), (526, "g-1"), (2964, "2"), (21006, "Y"),
                     (21009, "7.50")]
    assert dict(encode(order, USD)[1])[44] == "0.7500"
    assert decode(mt, pairs, C) == order


def test_defaults_are_left_out():
    pairs = dict(encode(m.NewOrderSingle(cl_ord_id="c", symbol="X", side="2", order_qty=D(1),
                                         price=D("0.5")), C)[1])
    assert 18 not in pairs and 21006 not in pairs and 79 not in pairs
    assert dict(encode(m.OrderMassCancelRequest(cl_ord_id="mc"), C)[1]) == {11: "mc", 530: "6"}


def test_expire_time_is_utc_milliseconds():
    t = dt.datetime(2026, 8, 20, 10, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-4)))
    order = m.NewOrderSingle(cl_ord_id="c", symbol="X", side="1", order_qty=D(1), price=D("0.5"),
                             time_in_force="6", expire_time=t)
    pairs = dict(encode(order, C)[1])
    assert pairs[126] == "20260820-14:00:00.123"
    assert decode("D", list(pairs.items()), C).expire_time == t.replace(microsecond=123000)


@pytest.mark.parametrize("model,match", [
    (m.NewOrderSingle(cl_ord_id="c", symbol="X", side="1", order_qty=D(1), price=D("0.755")),
     r"NewOrderSingle.price \(tag 44\): price 0.755 is not a whole number of cents"),
    (m.NewOrderSingle(cl_ord_id="c", symbol="X", side="1", order_qty=D("1.001"), price=D("0.75")),
     "quantity 1.001 has more than 2 decimal places"),
    (m.NewOrderSingle(cl_ord_id="", symbol="X", side="1", order_qty=D(1), price=D("0.75")),
     "cl_ord_id.*non-empty"),
    (m.NewOrderSingle(cl_ord_id="a\x01b", symbol="X", side="1", order_qty=D(1), price=D("0.75")),
     "without SOH"),
    (m.NewOrderSingle(cl_ord_id="c", symbol="X", side="1", order_qty=D(1), price=D("0.75"),
                      expire_time=dt.datetime(2026, 1, 1)), "timezone-aware"),
    (m.OrderCancelReplaceRequest.model_construct(cl_ord_id="c", orig_cl_ord_id="o", symbol="X",
                                                 side=m.Side.BUY, order_qty=D(1), price=D("NaN")),
     "not a finite number"),
])
def test_encoding_refuses_what_the_wire_cannot_carry(model, match):
    with pytest.raises(OrderError, match=match):
        encode(model, C)


def test_sub_cent_prices_encode_in_dollars():
    order = m.NewOrderSingle(cl_ord_id="c", symbol="X", side="1", order_qty=D(1), price=D("0.755"))
    assert dict(encode(order, USD)[1])[44] == "0.7550"
    with pytest.raises(OrderError, match="more than 4 decimal places"):
        encode(order.model_copy(update={"price": D("0.75551")}), USD)


def test_encode_refuses_non_messages_and_bad_units():
    with pytest.raises(TypeError):
        encode(m.MiscFee(amount=D(1)), C)
    with pytest.raises(ValueError):
        encode(m.OrderMassCancelRequest(cl_ord_id="mc"), "yen")  # type: ignore[arg-type]


def test_requests_decode_for_the_simulator():
    mt, body = "D", [(11, "c"), (38, "3"), (40, "2"), (44, "42"), (54, "2"), (55, "X"), (60, "20260820-14:30:00"),
                     (453, "1"), (448, "trader"), (452, "24"), (79, "5")]
    order, unknown = decode_with_unknown(mt, body, C)
    assert (order.price, order.order_qty, order.side, order.alloc_account, unknown) == (
        D("0.42"), D(3), m.Side.SELL, 5, ())
    with pytest.raises(DecodeError, match="OrdType '1' is not 2"):
        decode(mt, [(40, "1") if t == 40 else (t, v) for t, v in body], C)
    with pytest.raises(DecodeError, match="post_only cannot be 'E'"):
        decode(mt, body + [(18, "E")], C)


# ================================================================== decode errors
BASE = [(37, "o"), (17, "1;1"), (150, "0"), (39, "0"), (54, "1"), (55, "X"), (14, "0"), (151, "1")]


@pytest.mark.parametrize("change,tag,match", [
    ({39: "Z"}, 39, "ord_status cannot be 'Z'"),
    ({54: "3"}, 54, "side cannot be '3'"),
    ({14: "ten"}, 14, "cum_qty cannot be 'ten'"),
    ({14: "NaN"}, 14, "cum_qty"),
    ({30: " 1"}, 30, "last_mkt cannot be ' 1'"),
    ({30: "+1"}, 30, "last_mkt"),
    ({1057: "y"}, 1057, "aggressor cannot be 'y'"),
    ({1057: "true"}, 1057, "aggressor"),
    ({60: "2026-08-20T14:30:00"}, 60, "transact_time"),
    ({60: "20260820-14:30:00.12"}, 60, "3, 6 or 9 digits"),
    ({60: "20261320-14:30:00"}, 60, "transact_time"),
    ({60: "20260820-24:00:00"}, 60, "transact_time"),
    ({58: ""}, 58, "without a value"),
    ({136: "x"}, 136, "NumInGroup 'x' is not a count"),
    ({136: "-1"}, 136, "not a count"),
    ({136: "2", 137: "1"}, 136, "NumInGroup is 2 but only 1 entries"),
    ({136: "1", 138: "USD"}, 136, "NumInGroup is 1 but only 0 entries start with tag 137"),
    ({137: "1"}, 137, "only valid inside its repeating group"),
])
def test_decode_errors_name_the_tag(change, tag, match):
    pairs = [(t, change.get(t, v)) for t, v in BASE] + [kv for kv in change.items() if kv[0] not in dict(BASE)]
    for call in (lambda: decode("8", pairs, C), lambda: decode_raw(as_raw("8", pairs), C)):
        with pytest.raises(DecodeError, match=match) as exc:
            call()
        assert (exc.value.msg_type, exc.value.tag) == ("8", tag)


def test_structural_errors():
    with pytest.raises(DecodeError, match="tag appears more than once") as exc:
        decode("8", BASE + [(55, "Y")], C)
    assert exc.value.tag == 55
    with pytest.raises(DecodeError, match="more entries than NumInGroup=1"):
        decode("8", BASE + [(1703, "1"), (1704, "1"), (1704, "2")], C)
    with pytest.raises(DecodeError, match="repeating group appears more than once"):
        decode("8", BASE + [(1703, "1"), (1704, "1"), (58, "t"), (1703, "1"), (1704, "2")], C)
    with pytest.raises(DecodeError, match="tag appears twice|more than once"):
        decode("8", BASE + [(1703, "1"), (1704, "1"), (1705, "A"), (1705, "B")], C)
    with pytest.raises(DecodeError, match="unsupported MsgType") as exc:
        decode("H", BASE, C)
    assert (exc.value.msg_type, exc.value.tag) == ("H", 35)
    with pytest.raises(DecodeError, match="no MsgType"):
        decode_raw("8=FIXT.1.1\x0137=x\x01", C)
    with pytest.raises(DecodeError, match="no MsgType"):  # the slow split's own MsgType lookup
        decode_raw("8=FIXT=1.1\x0137=x\x01", C)
    with pytest.raises(DecodeError, match="not tag=value"):
        decode_raw(raw("8=FIXT.1.1|35=8|37|10=1|"), C)
    with pytest.raises(DecodeError, match="malformed field tag 'x'"):
        decode_raw(raw("35=8|x=1|"), C)


def test_same_shape_with_another_group_count_is_still_checked():
    good = BASE + [(136, "1"), (137, "0.01")]
    assert decode("8", good, C).fee_total == D("0.01")
    with pytest.raises(DecodeError, match="NumInGroup is 2"):
        decode("8", BASE + [(136, "2"), (137, "0.01")], C)
    assert decode("8", BASE + [(136, "01"), (137, "0.01")], C).fee_total == D("0.01")


def test_a_value_with_equals_signs_is_not_misread():
    text = raw("35=8|37=o|17=1;1|150=0|39=0|54=1|55=X|14=0|151=1|58=a=b=c|")
    assert decode_raw(text, C).text == "a=b=c"
    sneaky = raw("35=8|37=o|17=1;1|150=0|39=0|54=1|55=X|14=0|58=x=151|1|")  # "1" has no "="
    with pytest.raises(DecodeError, match="not tag=value"):
        decode_raw(sneaky, C)


def test_unknown_tags_are_reported_not_stored():
    er, unknown = decode_with_unknown("8", BASE + [(9999, "x"), (5000, "y"), (378, "1")], C)
    assert unknown == (9999, 5000) and er == decode("8", BASE, C)
    er2, unknown2 = decode_raw_with_unknown(as_raw("8", BASE + [(9999, "x")]), C)
    assert unknown2 == (9999,) and er2 == from_raw(er)


def test_header_and_trailer_are_not_body():
    text = as_raw("8", BASE)
    assert split(text) == ("8", False, BASE)
    assert split(text.rstrip(SOH)) == ("8", False, BASE)  # the final SOH is optional
    assert split(raw("35=8|37=o|52=20260820-14:30:00|17=1|10=0")) == ("8", False, [(37, "o"), (17, "1")])


@pytest.mark.parametrize("stamp,expected", [
    ("20260820-14:30:00", dt.datetime(2026, 8, 20, 14, 30, tzinfo=UTC)),
    ("20260820-14:30:00.120", dt.datetime(2026, 8, 20, 14, 30, 0, 120000, tzinfo=UTC)),
    ("20260820-14:30:00.123456", dt.datetime(2026, 8, 20, 14, 30, 0, 123456, tzinfo=UTC)),
    ("20260820-14:30:00.123456789", dt.datetime(2026, 8, 20, 14, 30, 0, 123456, tzinfo=UTC)),
])
def test_timestamps(stamp, expected):
    assert fields_tables.time_from_wire(stamp) == expected


# ================================================================== the codec agrees with the dictionary
def _structure(entries) -> dict:
    return {e.tag: (_structure(e.members) if e.members is not None else None) for e in entries}


def _table_structure(entries) -> dict:
    return {(e.count if isinstance(e, fields_tables.Group) else e.tag):
            (_table_structure(e.entries) if isinstance(e, fields_tables.Group) else None) for e in entries}


@pytest.mark.parametrize("msg", fields_tables.MESSAGES, ids=lambda msg: msg.msg_type)
def test_tables_cover_the_dictionary_layout(msg):
    table = dictionary_tables.EVENT_MESSAGES.get(msg.msg_type) or dictionary_tables.TRANSPORT_MESSAGES[msg.msg_type]
    assert _table_structure(msg.entries) == _structure(dictionary.parse_layout(table[1]))


def test_every_model_field_has_a_tag():
    def names(entries):
        return {e.name for e in entries}
    for msg in fields_tables.MESSAGES:
        assert names(msg.entries) - {None} == set(msg.model.model_fields) - {"poss_dup", "sending_time", "anomalies"}, msg.msg_type


# ================================================================== lenient decoding (issue 10)
LENIENT_TRADE = ("37=o1|11=c1|17=5;1|150=F|39=Z|54=1|55=X|38=5.00|44=60|6=60|14=5.00|151=0.00|31=60|32=5.00|"
                 "1057=1|136=2|137=0.07|138=USD|2000=x|137=0.01|32=7.00")


def test_lenient_decoding_keeps_novel_values_as_text_and_lists_every_anomaly():
    er, unknown = lenient.decode(raw(LENIENT_TRADE, "8"), C)
    assert er.ord_status == "Z" and not isinstance(er.ord_status, m.OrdStatus)  # raw text, not a guess
    assert er.aggressor is None and er.last_qty == 5 and len(er.fees) == 2 and unknown == (2000,)
    assert {(a.tag, a.value) for a in er.anomalies} == {(39, "Z"), (1057, "1"), (2000, "x"), (32, "7.00")}
    assert "the first value '5.00' is used" in str([a for a in er.anomalies if a.tag == 32][0])
    with pytest.raises(DecodeError):  # the strict decoder still refuses it
        decode_raw(raw(LENIENT_TRADE, "8"), C)


def test_lenient_decoding_of_a_clean_report_equals_strict_and_refuses_what_has_no_model():
    text = raw("37=o1|17=5;1|150=F|39=2|54=1|55=X|14=5.00|151=0.00|31=60|32=5.00", "8")
    assert lenient.decode(text, C)[0] == decode_raw(text, C)
    assert lenient.decode(text, C)[0].anomalies == ()
    with pytest.raises(DecodeError, match="exec_id is missing"):
        lenient.decode(raw("37=o1|150=F|39=2|54=1|55=X|14=5.00|151=0.00", "8"), C)


def test_decoding_with_the_msg_type_already_read_gives_the_same_model():
    from fixgw.fix import wire
    raw = ("8=FIXT.1.1\x019=1\x0135=8\x0134=2\x0149=KalshiNR\x0152=20261121-12:00:00.000\x0156=k\x01"
           "11=c\x0114=0\x0117=1;1\x0137=o\x0139=0\x0154=1\x0155=KXT\x01150=0\x01151=1\x0110=000\x01")
    assert wire.parse(raw, "8") == wire.parse(raw)
    assert fields.decode_raw_with_unknown(raw, Units.CENTS, "8") == fields.decode_raw_with_unknown(raw, Units.CENTS)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([11, 37, 55, 58, 17, 9999]),
                          st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)),
                min_size=1, max_size=8))
def test_quickfix_serialised_text_splits_the_same_with_the_count_check_alone(fields_):
    """``serialized``: QuickFIX's toString() writes every field as tag=value, so only the "=" count is checked."""
    import quickfix as fix
    from fixgw.fix import wire
    msg = fix.Message()
    msg.getHeader().setField(35, "8")
    for tag, value in fields_:
        msg.setField(fix.StringField(tag, value))
    text = msg.toString()
    assert wire.parse(text, "8", serialized=True) == wire.parse(text, "8")
