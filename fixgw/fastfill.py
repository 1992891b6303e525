"""Stored ExecutionReport text -> REST Fill without the typed model (pure core).

Why: the recorder answers ``fills`` and ``positions`` by reading reports it
stored as FIX text, and those reports were already decoded and checked once,
when they arrived (:meth:`fixgw.recorder.store.StoredReport.from_raw`). Reading
them back through the generic decoder rebuilds every field of an
ExecutionReport (order state, collateral, times) to use a dozen of them; here
one regular-expression pass picks exactly the fields a Fill is made of, and a
report that is not a Trade costs one substring search.

The lane is an optimisation, never a second opinion: whatever it cannot read
plainly (a repeated tag, a missing field, a value it has no memo for and
cannot convert) goes to the generic path, which gives the same answer or the
same error. ``tests/test_fastfill.py`` checks, for arbitrary reports, that both
paths give equal fills.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal

from fixgw import translate
from fixgw.fix import codec as fields
from fixgw.fix import codec_tables as T
from fixgw.models.fix import exec_id_key
from fixgw.models.rest import Q2, Q6, Fill
from fixgw.pricing import Units, decimal_from_wire, price_from_wire

_WANT = re.compile("\x01(17|30|31|32|37|52|54|55|60|79|100|137|150|880|1057)=([^\x01]*)")
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


def is_trade(raw: str) -> bool:
    """ExecType(150) is F: the only reports that are fills."""
    return _TRADE in raw


def fill(raw: str, units: Units, *, deprecated: bool = True) -> Fill | None:
    """The Fill of a stored event-contract report, as :func:`fixgw.translate.fill_from_report` gives it."""
    if _TRADE not in raw:
        return None if "\x01150=" in raw else _generic(raw, units, deprecated)
    pairs = _WANT.findall(raw)
    f = dict(pairs)
    if len(f) != len(pairs):  # several fees (137 repeats), or a repeated tag the decoder must judge
        if len(f) + sum(k == "137" for k, _ in pairs) - ("137" in f) != len(pairs):
            return _generic(raw, units, deprecated)
        f["137"] = None
    try:
        px, qty, order_id, symbol, side, exec_id = f["31"], f["32"], f["37"], f["55"], f["54"], f["17"]
        yes_px, no_px = _PRICES[units].get(px) or _price(px, units)
        count = _COUNTS.get(qty)
        if count is None:
            count = _remember(_COUNTS, qty, decimal_from_wire(qty).quantize(Q2, ROUND_HALF_EVEN))
        when = f.get("60") or f.get("52")  # without TransactTime, the header's SendingTime
        if when is not None:
            when = time_from_wire(when)
        index = f.get("30") or f.get("100")  # LastMkt, else ExDestination, else the ExecID's index
        index = exec_id_key(exec_id)[0] if index is None else int_from_wire(index)
        sub = f.get("79")
        sub = 0 if sub is None else int_from_wire(sub)
        fee = f.get("137", _NO_FEE)
        fee = _fees(pairs) if fee is None else _fee(fee)
    except (KeyError, ValueError, ArithmeticError):
        return _generic(raw, units, deprecated)
    taker = f.get("1057")
    if side not in _SIDES or taker not in _TAKER or "" in f.values():
        return _generic(raw, units, deprecated)
    return make_fill(f.get("880") or exec_id, index, order_id, symbol, side == "1", count, yes_px, no_px,
                     taker == "Y", when, fee, sub, deprecated)


def _generic(raw: str, units: Units, deprecated: bool) -> Fill | None:
    return translate.fill_from_report(fields.decode_raw(raw, units), deprecated=deprecated)
