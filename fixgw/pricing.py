"""Prices, quantities and money on the wire and in REST (pure core, Decimal only).

Models always hold dollars; only the wire differs.  An event-contract session
without UseDollars(21005) speaks integer cents, every other session (UseDollars,
margin) speaks dollars with 4 decimals.  Money amounts (fees, collateral,
max cost) are dollars on every session, and SettlementPrice(730) is cents on
every session, so those have their own converters.

Floats never enter: ``0.1 + 0.2`` style drift in a price is an order at the
wrong price.  Parsing is strict (FIX ``float`` syntax only) because ``Decimal``
itself accepts ``"NaN"``, ``"1e3"``, ``" 7"`` and ``"1_0"``, none of which a
FIX peer may send.
"""
from __future__ import annotations

import functools
import re
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from enum import StrEnum

from fixgw.errors import OrderError


class Units(StrEnum):
    """How a session writes prices (tags 6, 31, 44)."""

    CENTS = "cents"      # event contracts without UseDollars: "75" = $0.75
    DOLLARS = "dollars"  # UseDollars=Y or margin: "0.7500"


EVENT, MARGIN = "event", "margin"

_FLOAT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")
# Wide enough that scaling or quantizing any parsed wire value stays exact.
_EXACT = Context(prec=200, rounding=ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999)
_Q4 = Decimal("0.0001")


# --------------------------------------------------------------------------- helpers
def decimal_from_wire(s: str) -> Decimal:
    """A FIX float: optional minus, digits, optional point. Anything else is ValueError."""
    if not (s.isascii() and _FLOAT.match(s)):
        raise ValueError(f"{s!r} is not a decimal number")
    return Decimal(s)


_MEMO_MAX = 4096


def _memo(fn):
    """Remember a pure function's answers for nonzero finite Decimal inputs.

    Orders repeat the same few prices and sizes, and Decimal arithmetic is the
    slow part of checking and encoding them. Only a ``Decimal`` (never a float
    or int that compares equal) is looked up, zero is left out (``-0`` formats
    differently), and only answers are kept: a bad value raises every time.
    """
    memo: dict = {}

    @functools.wraps(fn)
    def wrapper(d, *args, **kwargs):
        if d.__class__ is not Decimal or not d.is_finite() or not d:
            return fn(d, *args, **kwargs)
        key = (d, *args, *kwargs.values())
        hit = memo.get(key)
        if hit is None:
            hit = fn(d, *args, **kwargs)
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            memo[key] = hit
        # A check that hands its input back returns this input, not an equal one seen
        # earlier with other trailing zeros (0.5 vs 0.50): the answer is the same value.
        return d if hit.__class__ is Decimal else hit

    return wrapper


def places(d: Decimal) -> int:
    """Significant decimal places of ``d`` (``0.7500`` -> 2), computed without rounding."""
    if d.is_zero():
        return 0
    _, digits, exp = d.as_tuple()
    if exp >= 0:  # type: ignore[operator]  # finite: exp is an int
        return 0
    trailing = 0
    while trailing < len(digits) - 1 and digits[-1 - trailing] == 0:
        trailing += 1
    return max(0, -exp - trailing)  # type: ignore[operator]


def _finite(d: Decimal, what: str) -> Decimal:
    if isinstance(d, float) or not isinstance(d, (Decimal, int)):
        raise OrderError(f"{what} {d!r} must be a Decimal (floats lose cents)")
    d = Decimal(d)
    if not d.is_finite():
        raise OrderError(f"{what} {d} is not a finite number")
    return d


def _plain(d: Decimal) -> str:
    """Shortest exact fixed-point text: ``75.50`` -> ``75.5``, ``7.5E+1`` -> ``75``."""
    s = format(d, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


# --------------------------------------------------------------------------- prices
@_memo
def price_to_wire(d: Decimal, units: Units, *, whole_cents: bool = False) -> str:
    """Dollars -> the session's price text.

    ``whole_cents`` is for limit and trade prices: a cents session cannot carry
    a sub-cent order price, while an average price may legitimately be ``74.5``.
    """
    d = _finite(d, "price")
    if units == Units.DOLLARS:
        if places(d) > 4:
            raise OrderError(f"price {d} has more than 4 decimal places")
        return format(d, ".4f")
    if units != Units.CENTS:
        raise ValueError(f"unknown price units {units!r}")
    cents = d.scaleb(2, _EXACT)
    if whole_cents and places(cents):
        raise OrderError(f"price {d} is not a whole number of cents (the session uses cents; "
                         "enable use_dollars for sub-penny prices)")
    if places(cents) > 2:
        raise OrderError(f"price {d} has more than 4 decimal places")
    return _plain(cents)


def price_from_wire(s: str, units: Units) -> Decimal:
    d = decimal_from_wire(s)
    if units == Units.DOLLARS:
        return d
    if units == Units.CENTS:
        return d.scaleb(-2, _EXACT)
    raise ValueError(f"unknown price units {units!r}")


def settlement_to_wire(d: Decimal) -> str:
    """SettlementPrice(730) is cents with 2 decimals on every session (``30.60``)."""
    cents = _finite(d, "settlement price").scaleb(2, _EXACT)
    if places(cents) > 2:
        raise OrderError(f"settlement price {d} has more than 4 decimal places")
    return format(cents, ".2f")


def settlement_from_wire(s: str) -> Decimal:
    return decimal_from_wire(s).scaleb(-2, _EXACT)


def money_to_wire(d: Decimal) -> str:
    """Fee/collateral/cost dollars: 2 decimals when exact (as Kalshi sends), else 4."""
    d = _finite(d, "amount")
    p = places(d)
    if p > 4:
        raise OrderError(f"amount {d} has more than 4 decimal places")
    return format(d, ".2f" if p <= 2 else ".4f")


money_from_wire = decimal_from_wire


# --------------------------------------------------------------------------- quantities
@_memo
def qty_to_wire(d: Decimal) -> str:
    d = _finite(d, "quantity")
    if places(d) > 2:
        raise OrderError(f"quantity {d} has more than 2 decimal places")
    return format(d, ".2f")


qty_from_wire = decimal_from_wire


# --------------------------------------------------------------------------- order checks
@_memo
def validate_order_price(price: Decimal, product: str, units: Units) -> Decimal:
    """Reject a limit price Kalshi would reject anyway, before anything is sent."""
    price = _finite(price, "price")
    if product == MARGIN:
        if places(price) > 4:
            raise OrderError(f"price {price} has more than 4 decimal places")
        if price <= 0:
            raise OrderError(f"price {price} must be greater than 0 for margin contracts")
        return price
    if product != EVENT:
        raise ValueError(f"unknown product {product!r} (expected 'event' or 'margin')")
    if units == Units.CENTS:
        if places(price) > 2:
            raise OrderError(f"price {price} is not a whole number of cents (the session uses "
                             "cents; enable use_dollars for sub-penny prices)")
        lo, hi = "0.01", "0.99"
    else:
        if places(price) > 4:
            raise OrderError(f"price {price} has more than 4 decimal places")
        lo, hi = "0.0001", "0.9999"
    if not 0 < price < 1:
        raise OrderError(f"price {price} is outside {lo}-{hi} for event contracts")
    return price


@_memo
def validate_quantity(q: Decimal) -> Decimal:
    q = _finite(q, "quantity")
    if places(q):
        raise OrderError(f"quantity {q} must be a whole number of contracts")
    if q <= 0:
        raise OrderError(f"quantity {q} must be greater than 0")
    return q


# --------------------------------------------------------------------------- REST text
def _rest(d: Decimal, quantum: Decimal) -> str:
    if isinstance(d, float) or not isinstance(d, (Decimal, int)):
        raise TypeError(f"{d!r} must be a Decimal, not {type(d).__name__}")
    d = Decimal(d)
    if not d.is_finite():
        raise ValueError(f"{d} is not a finite number")
    try:
        q = _EXACT.quantize(d, quantum)
    except InvalidOperation as exc:  # pragma: no cover - beyond 200 digits
        raise ValueError(f"{d} is too large") from exc
    return format(q.copy_abs() if q.is_zero() else q, "f")


def dollars(d: Decimal) -> str:
    """REST ``*_dollars`` text: 4 decimals, banker's rounding (``0.5`` -> ``"0.5000"``)."""
    return _rest(d, _Q4)
