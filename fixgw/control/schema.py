"""What each control-socket request may carry, checked before anything is sent (pure core).

A request is one JSON object. Every command has a table of its fields, each
with its kind and whether it is required; :func:`check` refuses the request
before the command runs when a field is missing, has the wrong kind or is not
in the table (a misspelt ``time_in_force`` must not quietly send a Day order).
JSON ``null`` is the same as leaving an optional field out.

Kinds: prices, quantities and dollar amounts are strings or integers, never JSON
floats (``0.1`` is a binary fraction; money is never binary), flags are JSON
``true``/``false`` (the string ``"false"`` is refused, not read as true), and
``wait`` is a finite number of seconds from 0 to :data:`MAX_WAIT`.
"""

from __future__ import annotations

import math
from typing import Callable, TypeAlias

from fixgw.errors import FixgwError

MAX_WAIT = 600.0  # seconds a request may wait for its answer

# What json.loads gives for one value: the checkers take any of it and refuse what does not fit.
Json: TypeAlias = "None | bool | int | float | str | list[Json] | dict[str, Json]"
Request: TypeAlias = "dict[str, Json]"


class RequestError(FixgwError, ValueError):
    """A control request is malformed; nothing was done or sent (names the field)."""


def _text(cmd: str, name: str, v: Json) -> str:
    if not isinstance(v, str):
        raise RequestError(f"{cmd}: {name} must be a JSON string, not {_kind(v)}")
    return v


def _money(cmd: str, name: str, v: Json) -> str:
    if isinstance(v, float):
        raise RequestError(f"{cmd}: {name} {v!r} is a JSON float; send it as a string "
                           f"(\"{name}\": \"{v}\") or an integer (floats lose cents)")
    if isinstance(v, bool) or not isinstance(v, (str, int)):
        raise RequestError(f"{cmd}: {name} must be a string or an integer, not {_kind(v)}")
    return str(v)


def _integer(cmd: str, name: str, v: Json) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise RequestError(f"{cmd}: {name} must be a JSON integer, not {_kind(v)}")
    return v


def _flag(cmd: str, name: str, v: Json) -> bool:
    if not isinstance(v, bool):
        raise RequestError(f"{cmd}: {name} must be JSON true or false, not {_kind(v)}")
    return v


def _seconds(cmd: str, name: str, v: Json) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise RequestError(f"{cmd}: {name} must be a number of seconds, not {_kind(v)}")
    if not (math.isfinite(v) and 0 <= v <= MAX_WAIT):
        raise RequestError(f"{cmd}: {name} {v!r} must be seconds from 0 to {MAX_WAIT:g}")
    return float(v)


def _kind(v: Json) -> str:
    names = {bool: "true/false", int: "an integer", float: "a float", str: "a string", list: "an array",
             dict: "an object", type(None): "null"}
    return names.get(type(v), type(v).__name__)


_SESSION = {"session": (_text, True)}
_WAIT = {"wait": (_seconds, False)}
Checker: TypeAlias = Callable[[str, str, Json], str | int | bool | float]
FIELDS: dict[str, dict[str, tuple[Checker, bool]]] = {
    "status": {"metrics": (_flag, False)},
    "metrics": {},
    "logon": _SESSION | _WAIT,
    "logout": _SESSION | _WAIT,
    "reset-seqnum": _SESSION | _WAIT | {"force": (_flag, False)},
    "order": _SESSION | _WAIT | {
        "symbol": (_text, True), "side": (_text, True), "price": (_money, True), "quantity": (_money, True),
        "time_in_force": (_text, False), "expire_time": (_text, False), "post_only": (_flag, False),
        "stp": (_integer, False), "subaccount": (_integer, False), "order_group_id": (_text, False),
        "cancel_on_pause": (_flag, False), "max_cost": (_money, False), "exchange_index": (_integer, False),
        "cl_ord_id": (_text, False), "subtrader": (_text, False)},
    "cancel": _SESSION | _WAIT | {"cl_ord_id": (_text, True)},
    "mass-cancel": _SESSION | _WAIT | {"subaccount": (_integer, False)},
}


def check(request: Request) -> dict[str, str | int | bool | float]:
    """The request with every field checked and converted; :class:`RequestError` otherwise.

    Optional fields left out (or ``null``) are absent from the result."""
    cmd = request.get("cmd")
    fields = FIELDS.get(cmd) if isinstance(cmd, str) else None
    if fields is None:
        raise RequestError(f"unknown command {cmd!r}; known: {', '.join(FIELDS)}")
    unknown = sorted(set(request) - set(fields) - {"cmd"})
    if unknown:
        raise RequestError(f"{cmd}: unknown field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                           f"{cmd} takes {', '.join(fields) or 'no fields'}")
    out: dict[str, str | int | bool | float] = {"cmd": cmd}
    for name, (kind, required) in fields.items():
        value = request.get(name)
        if value is None:
            if required:
                raise RequestError(f"{cmd}: {name} is required")
            continue
        out[name] = kind(cmd, name, value)
    return out
