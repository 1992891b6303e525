"""fixgw/fix/_scan.c against the Python path it stands in for (fixgw.fix.wire, fixgw.fix.codec).

The C steps are an optimisation, never a second opinion: for any text, the decoder gives
the same model and unknown tags, or the same DecodeError, with them as without them.
"""

from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw.errors import DecodeError
from fixgw.fix import codec, wire
from fixgw.pricing import Units
from test_codec import anything, as_raw, field_lists, messages  # the codec's own strategies

SOH = "\x01"
ANY_TEXT = (st.text(max_size=120)
            | st.lists(st.sampled_from(["35=8", "8=FIXT.1.1", "=", SOH, "1=", "=1", "37=a", "==", "é", "58=a=b",
                                        "136=1", "137=1", "43=Y", "10=0", "11=x"]), max_size=20).map("".join))


def reference_split(raw):
    """What _scan.split promises, written plainly."""
    if not isinstance(raw, str) or not raw.isascii():
        return None
    pieces = raw.split(SOH)
    if raw.endswith(SOH):
        pieces.pop()
    keys, values = [], []
    for piece in pieces:
        key, sep, value = piece.partition("=")
        if not sep or not value:
            return None
        keys.append(key)
        values.append(value)
    return SOH.join(keys), values


@contextmanager
def python_path():
    """The decoder without the C steps (what a source tree nobody built runs)."""
    split, fill = wire._c_split, codec._fill
    wire._c_split = codec._fill = None
    try:
        yield
    finally:
        wire._c_split, codec._fill = split, fill


def outcome(call):
    try:
        return "model", call()
    except DecodeError as exc:
        return "error", str(exc), exc.msg_type, exc.tag


def same_with_and_without_c(call):
    fast = outcome(call)
    with python_path():
        slow = outcome(call)
    assert fast == slow


def test_the_extension_is_built():
    # `make venv` builds it (pip install -e .); a missing build must fail here, not slow down quietly
    assert wire._c_split is not None and codec._fill is not None, "fixgw.fix._scan is not built: run make venv"
    # an editable install builds it beside its source: one older than the source (a merge or checkout
    # changed _scan.c since) would decode by the old rules
    from fixgw.fix import _scan
    built, source = Path(_scan.__file__), Path(_scan.__file__).with_name("_scan.c")
    assert not source.exists() or built.stat().st_mtime >= source.stat().st_mtime, \
        f"{built.name} is older than {source}: run make venv"


@settings(max_examples=1500, deadline=None)
@given(ANY_TEXT)
def test_split_is_the_plain_split(raw):
    assert wire._c_split(raw) == reference_split(raw)


@pytest.mark.parametrize("raw,expected", [
    ("8=FIXT.1.1\x0135=8\x01", ("8\x0135", ["FIXT.1.1", "8"])),
    ("8=FIXT.1.1\x0135=8", ("8\x0135", ["FIXT.1.1", "8"])),  # no closing SOH
    ("58=a=b\x01", ("58", ["a=b"])),  # the first "=" ends the tag
    ("=x\x01", ("", ["x"])),  # an empty tag is the planner's to name
    ("", None), (SOH, None), ("8=a\x01\x019=b\x01", None), ("8=\x01", None), ("8\x01", None),
    ("58=é\x01", None), (b"8=a", None), (None, None), ("8=" + "x" * 5000 + SOH, ("8", ["x" * 5000])),
])
def test_split_examples(raw, expected):
    assert wire._c_split(raw) == expected


@settings(max_examples=300, deadline=None)
@given(messages, st.booleans())
def test_valid_messages_decode_alike(unit_msg, poss_dup):
    units, msg = unit_msg
    mt, pairs = codec.encode(msg, units)
    text = as_raw(mt, pairs, poss_dup)
    same_with_and_without_c(lambda: codec.decode_raw_with_unknown(text, units, mt, True))
    same_with_and_without_c(lambda: codec.decode_raw(text, units))


@settings(max_examples=600, deadline=None)
@given(field_lists(), st.sampled_from(Units))
def test_arbitrary_fields_decode_alike(mt_pairs, units):
    mt, pairs = mt_pairs
    text = as_raw(mt, pairs)
    same_with_and_without_c(lambda: codec.decode_raw_with_unknown(text, units))
    same_with_and_without_c(lambda: codec.decode_raw_with_unknown(text, units, mt or None, True))


@settings(max_examples=400, deadline=None)
@given(messages, st.data())
def test_changed_values_decode_alike(unit_msg, data):
    # a value the memos have not seen, or one no converter takes: the C fill hands it back
    units, msg = unit_msg
    mt, pairs = codec.encode(msg, units)
    pairs = list(pairs)
    if pairs:
        i = data.draw(st.integers(0, len(pairs) - 1))
        pairs[i] = (pairs[i][0], data.draw(anything | st.text(alphabet="0123456789.-:", min_size=1, max_size=12)))
    text = as_raw(mt, pairs)
    same_with_and_without_c(lambda: codec.decode_raw_with_unknown(text, units, mt, True))


@settings(max_examples=500, deadline=None)
@given(ANY_TEXT)
def test_random_text_decodes_alike(raw):
    same_with_and_without_c(lambda: codec.decode_raw(raw, Units.CENTS))


def test_fill_hands_back_what_it_does_not_take():
    fill = codec._fill
    template = {"a": None, "b": 1}

    def boom(text):
        raise ValueError(text)

    assert fill(template, ["x", "7"], (("a", 0),), (("b", 1, {"7": 70}),), ()) == {"a": "x", "b": 70}
    assert fill(template, ["x", "8"], (), (("b", 1, {"7": 70}),), ()) is None  # memo miss
    assert fill(template, ["x", "8"], (), (("b", 1, {"8": None}),), ()) is None  # None is a miss, as in Python
    assert fill(template, ["x"], (), (), (("b", 0, boom),)) is None  # the converter raised ValueError: error cleared
    assert fill(template, ["x"], (), (), (("b", 0, str.upper),)) == {"a": None, "b": "X"}
    assert fill(template, ["x"], (("a", 5),), (), ()) is None  # index out of range
    assert fill(template, ("x",), (("a", 0),), (), ()) is None  # not the shapes the codec passes
    assert fill(template, ["x"], (("a", "0"),), (), ()) is None
    assert template == {"a": None, "b": 1}  # filled a copy
    with pytest.raises(TypeError):
        fill(template, ["x"])


@settings(max_examples=300, deadline=None)
@given(messages, st.sampled_from(["drop", "other"]), st.sampled_from(["", "9999=a=b\x01"]))
def test_a_msg_type_the_caller_read_is_not_looked_up_again(unit_msg, change, extra):
    # decode_raw_with_unknown(raw, units, msg_type): the C split takes msg_type as given; so must the
    # Python split, on its fast path (one "=" per field) and its slow one (a value holding "=") alike
    units, msg = unit_msg
    mt, pairs = codec.encode(msg, units)
    text = as_raw(mt, pairs)
    text = text.replace(f"{SOH}35={mt}{SOH}", SOH if change == "drop" else f"{SOH}35=x{SOH}") + extra
    same_with_and_without_c(lambda: codec.decode_raw_with_unknown(text, units, mt, True))
    same_with_and_without_c(lambda: codec.decode_raw_with_unknown(text, units, mt))


def test_fill_hands_back_only_what_the_python_path_turns_into_a_decode_error():
    # _run's Python loop catches ValueError and ArithmeticError from a converter (DecodeError names
    # the field); anything else propagates. The C fill must not swallow the rest (a Ctrl-C in a
    # converter on the main thread, a MemoryError) nor run the converter a second time for it.
    calls = []

    def raising(exc):
        def conv(text):
            calls.append(text)
            raise exc
        return conv

    for handed_back in (ValueError("v"), ArithmeticError("a"), ZeroDivisionError("z")):
        assert codec._fill({}, ["x"], (), (), (("b", 0, raising(handed_back)),)) is None
    for propagated in (KeyboardInterrupt(), TypeError("t"), MemoryError()):
        calls.clear()
        with pytest.raises(type(propagated)):
            codec._fill({}, ["x"], (), (), (("b", 0, raising(propagated)),))
        assert calls == ["x"]
