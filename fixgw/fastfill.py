"""Stored ExecutionReport text -> REST Fill without the typed model (pure core).

Why: the recorder answers ``fills`` and ``positions`` by reading reports it
stored as FIX text, keyed and checked when they arrived (the writer keys a plain
report from its text, :meth:`fixgw.recorder.store.StoredReport.scan`, and decodes
whatever is not plain; what has no readable ExecID is recorded as a gap). Reading
them back through the generic decoder rebuilds every field of an
ExecutionReport (order state, collateral, times) to use a dozen of them; here
one regular-expression pass picks exactly the fields a Fill is made of, and a
report that is not a Trade costs one substring search.

The lane is an optimisation, never a second opinion: whatever it cannot read
plainly (a repeated tag, a missing field, a value it has no memo for and
cannot convert) goes to the generic path, which gives the same answer or the
same error. ``tests/test_fastfill.py`` checks, for arbitrary reports, that both
paths give equal fills.

A page of fills is served as JSON text, so :func:`fill_json` goes one step
further: it writes a Fill's JSON text itself, exactly what the model's
``model_dump_json()`` gives, from memos of each value's text (prices, counts,
fees and minutes repeat), with no model and no Decimal arithmetic for a value
seen before. A string it would have to escape goes the generic way too.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_EVEN, Decimal

from fixgw import translate
from fixgw.fix import codec
from fixgw.fix import codec_tables as T
from fixgw.models.fix import exec_id_key
from fixgw.models.rest import Q2, Q6, Fill, count as count_text, dollars, rfc3339
from fixgw.pricing import Units, decimal_from_wire, price_from_wire

# tags 17 30 31 32 37 52 54 55 60 79 100 137 150 880 1057, written as a trie so that the regex engine
# branches on each digit once instead of trying fifteen alternatives at every SOH
_WANT = re.compile("\x01(1(?:7|00|37|50|057)|3[0127]|5[245]|60|79|880)=([^\x01]*)")
_TRADE = "\x01150=F\x01"
_MEMO_MAX = T.MEMO_MAX
_ONE = Decimal(1)
_NO_FEE = "0"
_SIDES = frozenset({"1", "2"})
_TAKER = frozenset({None, "Y", "N"})
time_from_wire, int_from_wire, make_fill = T.time_from_wire, T.int_from_wire, translate.make_fill

# text -> value memos (prices, counts and fees repeat; Decimal work is the cost)
_PRICES: dict[Units, dict[str, tuple[Decimal, Decimal]]] = {u: {} for u in Units}
_COUNTS: dict[str, Decimal] = {}
_FEES: dict[str, Decimal] = {}
# text -> JSON text memos of fill_json
_PRICES_JSON: dict[Units, dict[str, str]] = {u: {} for u in Units}
_COUNTS_JSON: dict[str, str] = {}
_FEES_JSON: dict[str, str] = {}
_MINUTES_JSON: dict[str, tuple[str, int]] = {}  # "YYYYMMDD-HH:MM" -> ("YYYY-MM-DDTHH:MM:", its Unix second)
_SECONDS = {f":{i:02d}": i for i in range(60)}
_MILLIS_JSON = {f"{i:03d}": f".{i:03d}".rstrip("0").rstrip(".") for i in range(1000)}  # "250" -> ".25", "000" -> ""
_ESCAPED = re.compile('["\\\\\x00-\x1f\ud800-\udfff]')  # what a JSON string cannot carry as it is


def _remember(memo: dict, key: str, value):
    if len(memo) >= _MEMO_MAX:
        memo.clear()
    memo[key] = value
    return value


def _price(text: str, units: Units) -> tuple[Decimal, Decimal]:
    yes = price_from_wire(text, units).quantize(Q6, ROUND_HALF_EVEN)
    return _remember(_PRICES[units], text, (yes, _ONE - yes))


def _fee(text: str) -> Decimal:
    fee = _FEES.get(text)
    return fee if fee is not None else _remember(_FEES, text, decimal_from_wire(text).quantize(Q6, ROUND_HALF_EVEN))


def _fees(pairs: list[tuple[str, str]]) -> Decimal:
    return sum((decimal_from_wire(v) for k, v in pairs if k == "137"), Decimal(0)).quantize(Q6, ROUND_HALF_EVEN)


def _picked(raw: str) -> tuple[dict, list] | None:
    """The Fill's tags of a Trade report (fees summed later when 137 repeats), or None when the
    generic path must judge it: another repeated tag, an empty value, a side or aggressor flag
    this lane does not know."""
    pairs = _WANT.findall(raw)
    f = dict(pairs)
    if len(f) != len(pairs):  # several fees (137 repeats), or a repeated tag the decoder must judge
        if len(f) + sum(k == "137" for k, _ in pairs) - ("137" in f) != len(pairs):
            return None
        f["137"] = None
    if f.get("54") not in _SIDES or f.get("1057") not in _TAKER or "" in f.values():
        return None
    return f, pairs


def _index(f: dict, exec_id: str) -> int:
    """LastMkt, else ExDestination, else the ExecID's exchange index."""
    index = f.get("30") or f.get("100")
    return exec_id_key(exec_id)[0] if index is None else int_from_wire(index)


def _sub(f: dict) -> int:
    sub = f.get("79")
    return 0 if sub is None else int_from_wire(sub)


def fill(raw: str, units: Units, *, deprecated: bool = True) -> Fill | None:
    """The Fill of a stored event-contract report, as :func:`fixgw.translate.fill_from_report` gives it."""
    if _TRADE not in raw:
        return None if "\x01150=" in raw else _generic(raw, units, deprecated)
    picked = _picked(raw)
    if picked is None:
        return _generic(raw, units, deprecated)
    f, pairs = picked
    try:
        px, qty, order_id, symbol, exec_id = f["31"], f["32"], f["37"], f["55"], f["17"]
        yes_px, no_px = _PRICES[units].get(px) or _price(px, units)
        count = _COUNTS.get(qty)
        if count is None:
            count = _remember(_COUNTS, qty, decimal_from_wire(qty).quantize(Q2, ROUND_HALF_EVEN))
        when = f.get("60") or f.get("52")  # without TransactTime, the header's SendingTime
        if when is not None:
            when = time_from_wire(when)
        index, sub = _index(f, exec_id), _sub(f)
        fee = f.get("137", _NO_FEE)
        fee = _fees(pairs) if fee is None else _fee(fee)
    except (KeyError, ValueError, ArithmeticError):
        return _generic(raw, units, deprecated)
    return make_fill(f.get("880") or exec_id, index, order_id, symbol, f["54"] == "1", count, yes_px, no_px,
                     f.get("1057") == "Y", when, fee, sub, deprecated)


def _price_json(text: str, units: Units) -> str:
    yes, no = _PRICES[units].get(text) or _price(text, units)
    return _remember(_PRICES_JSON[units], text, f'"yes_price_dollars":"{dollars(yes)}","no_price_dollars":"{dollars(no)}"')


def _count_json(text: str) -> str:
    return _remember(_COUNTS_JSON, text, count_text(decimal_from_wire(text).quantize(Q2, ROUND_HALF_EVEN)))


def _fee_json(text: str) -> str:
    return _remember(_FEES_JSON, text, dollars(_fee(text)))


def _minute_json(minute: str) -> tuple[str, int]:
    base = time_from_wire(minute + ":00")  # checks the text as the decoder does
    second = int(base.timestamp())
    if second < 0:  # before 1970 ``ts`` truncates towards zero: the generic path says it
        raise ValueError("before 1970")
    return _remember(_MINUTES_JSON, minute, (rfc3339(base)[:-3], second))


def _time_json(s: str) -> tuple[int, str]:
    """(Unix second, ``"created_time":"..."``) of a FIX UTCTimestamp, as the model dumps it."""
    prefix, second = _MINUTES_JSON.get(s[:14]) or _minute_json(s[:14])
    sec = _SECONDS.get(s[14:17])  # ":SS"
    if sec is None:
        raise ValueError("not a plain UTCTimestamp")
    if len(s) == 21 and s[17] == ".":  # milliseconds, the common case
        frac = _MILLIS_JSON.get(s[18:])
    elif len(s) == 17:
        frac = ""
    else:
        frac = s[18:]
        if s[17] != "." or len(frac) not in (6, 9) or not (frac.isascii() and frac.isdigit()):
            raise ValueError("not a plain UTCTimestamp")
        frac = frac[:6].rstrip("0")  # microseconds, as the model keeps them
        frac = f".{frac}" if frac else ""
    if frac is None:
        raise ValueError("not a plain UTCTimestamp")
    return second + sec, f'"created_time":"{prefix}{s[15:17]}{frac}Z",'


def fill_json(raw: str, units: Units, *, deprecated: bool = True) -> tuple[str, int | None, str] | None:
    """:func:`fill` as ``(order_id, second, text)``: the fill's order, the whole Unix second of its
    ``created_time`` (None without one) and exactly the JSON text ``fill(...).model_dump_json()``
    gives; None for a report that is not a fill. Raises what :func:`fill` raises."""
    if _TRADE not in raw:
        return None if "\x01150=" in raw else as_json(_generic(raw, units, deprecated))
    picked = _picked(raw)
    if picked is None:
        return as_json(_generic(raw, units, deprecated))
    f, pairs = picked
    try:
        px, qty, order_id, symbol, exec_id = f["31"], f["32"], f["37"], f["55"], f["17"]
        prices = _PRICES_JSON[units].get(px) or _price_json(px, units)
        count = _COUNTS_JSON.get(qty) or _count_json(qty)
        when = f.get("60") or f.get("52")  # without TransactTime, the header's SendingTime
        second, created = (None, "") if when is None else _time_json(when)
        index, sub = _index(f, exec_id), _sub(f)
        fee = f.get("137", _NO_FEE)
        fee = dollars(_fees(pairs)) if fee is None else (_FEES_JSON.get(fee) or _fee_json(fee))
    except (KeyError, ValueError, ArithmeticError):
        return as_json(_generic(raw, units, deprecated))
    trade = f.get("880") or exec_id
    if _ESCAPED.search(f"{trade}{order_id}{symbol}"):
        return as_json(_generic(raw, units, deprecated))
    side, book = ("yes", "bid") if f["54"] == "1" else ("no", "ask")
    return order_id, second, (
        f'{{"fill_id":"{trade}","exchange_index":{index},"trade_id":"{trade}","order_id":"{order_id}",'
        f'"ticker":"{symbol}","market_ticker":"{symbol}",{_DEPRECATED[side] if deprecated else ""}'
        f'"outcome_side":"{side}","book_side":"{book}","count_fp":"{count}",{prices},'
        f'"is_taker":{"true" if f.get("1057") == "Y" else "false"},{created}"fee_cost":"{fee}",'
        f'"subaccount_number":{sub}' + ("}" if second is None else f',"ts":{second}}}'))


_DEPRECATED = {side: f'"side":"{side}","action":"buy",' for side in ("yes", "no")}


def as_json(made: Fill | None) -> tuple[str, int | None, str] | None:
    """A Fill model as :func:`fill_json` gives it."""
    if made is None:
        return None
    t = made.created_time
    return made.order_id, None if t is None else math.floor(t.timestamp()), made.model_dump_json()


def _generic(raw: str, units: Units, deprecated: bool) -> Fill | None:
    return translate.fill_from_report(codec.decode_raw(raw, units), deprecated=deprecated)
