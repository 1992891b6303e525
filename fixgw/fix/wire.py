"""Raw FIX text -> tag and value lists (pure core).

QuickFIX hands callbacks a ``Message``; fixgw reads ``message.toString()``
instead, because one string crossing the binding is cheaper than a SWIG call
per field. :func:`parse` splits the text without validating structure (that
is :mod:`fixgw.fix.codec`' job); :func:`split` also drops header and trailer;
:func:`scan` gives the decoder what it caches plans under. Malformed text (a field
without ``=``, no MsgType) raises DecodeError.
"""

from __future__ import annotations

import re
from typing import Any

from fixgw.fix import codec_tables as T
from fixgw.fix.tags import MSG_TYPE, POSS_DUP_FLAG
from fixgw.errors import DecodeError
from fixgw.pricing import Units

try:  # built by `pip install` (pyproject.toml's ext-modules; `make venv` checks it is there)
    from fixgw.fix._scan import split as _c_split
except ImportError:  # a source tree nobody built: the Python path below gives the same answers
    _c_split = None

SOH = T.SOH
_NO_EQ = re.compile("\x01[^=\x01]*\x01")  # a field without "=": the one way kv split misaligns
_MT, _MT_KEY, _POSS_DUP_KEY = f"{MSG_TYPE}=", str(MSG_TYPE), str(POSS_DUP_FLAG)
_HEADER_KEYS = frozenset(str(t) for t in T.HEADER_TAGS | T.TRAILER_TAGS)
_TAG_OF = {str(t): t for lv in T.LEVELS[Units.CENTS].values() for t in lv.names if isinstance(t, int)}


def _fields_slowly(raw: str, mt: str) -> tuple[list[str], list[str]]:
    keys, values = [], []
    pieces = raw.split(SOH)
    if raw.endswith(SOH):
        pieces.pop()
    for piece in pieces:
        key, sep, value = piece.partition("=")
        if not sep:
            raise DecodeError(mt, f"field {piece!r} is not tag=value")
        keys.append(key)
        values.append(value)
    return keys, values


def _edges_have_eq(raw: str, closed: bool) -> bool:
    """_NO_EQ only sees fields with an SOH on both sides; check the first and last."""
    first = raw.find(SOH)
    if first < 0:
        return "=" in raw
    return "=" in raw[:first] and (closed or "=" in raw[raw.rfind(SOH) + 1:])


def _msg_type(raw: str) -> str:
    at = 0 if raw.startswith(_MT) else raw.find(SOH + _MT) + 1  # where "35=" starts, or 0 when absent
    if at == 0 and not raw.startswith(_MT):
        raise DecodeError("?", "no MsgType(35) field", MSG_TYPE)
    at += len(_MT)
    end = raw.find(SOH, at)
    mt = raw[at:] if end < 0 else raw[at:end]
    if not mt:
        raise DecodeError("?", "MsgType(35) is empty", MSG_TYPE)
    return mt


def parse(raw: str, msg_type: str | None = None, serialized: bool = False) -> tuple[str, list[str], list[str]]:
    """-> (MsgType, tag texts, values) of every field, header and trailer included.

    ``msg_type``: already read from the text (``fromApp`` reads it), so not looked up again.
    ``serialized``: the text is QuickFIX's ``Message.toString()``, which writes every field as
    ``tag=value``, so no field lacks its "=" and counting them is check enough."""
    try:
        closed = raw.endswith(SOH)
    except (AttributeError, TypeError):
        raise DecodeError("?", f"expected FIX text, got {type(raw).__name__}") from None
    # Fast path: exactly one "=" in every field, so one split gives tag, value, tag, ...
    # (the count alone would let a field without "=" pair up with a value holding two).
    if (raw.count("=") == raw.count(SOH) + (not closed)
            and (serialized or not _NO_EQ.search(raw) and _edges_have_eq(raw, closed))):
        kv = raw.replace(SOH, "=").split("=")
        if closed:
            kv.pop()
        keys, values = kv[0::2], kv[1::2]
        if msg_type:
            return msg_type, keys, values
        try:
            mt = values[keys.index(_MT_KEY)]
        except ValueError:
            raise DecodeError("?", "no MsgType(35) field", MSG_TYPE) from None
    else:  # a given msg_type is not looked up again here either (nor by wire.scan's C split)
        mt = msg_type or _msg_type(raw)
        keys, values = _fields_slowly(raw, mt)
    if not mt:
        raise DecodeError("?", "MsgType(35) is empty", MSG_TYPE)
    return mt, keys, values


def scan(raw: str, msg_type: str | None = None,
         serialized: bool = False) -> tuple[str, str, list[str] | None, list[str]]:
    """-> (MsgType, shape, tag texts or None, values): :func:`parse` for the decoder, which caches
    a plan under the shape (the tags joined by SOH) and needs the tag texts only to make one.

    The C scanner (``fixgw/fix/_scan.c``) splits in one pass without making the tag texts; text
    it does not take (not ASCII, a field without "=" or without a value) goes through
    :func:`parse`, which raises what it raises. Same arguments as :func:`parse`."""
    got = _c_split(raw) if _c_split is not None else None
    if got is None:
        mt, keys, values = parse(raw, msg_type, serialized)
        return mt, SOH.join(keys), keys, values
    return msg_type or _msg_type(raw), got[0], None, got[1]


def split(raw: str) -> tuple[str, bool, list[tuple[int, str]]]:
    """Raw FIX text -> (MsgType, PossDupFlag, body pairs), for callers that want fields as data.

    To get a model, :func:`fixgw.fix.codec.decode_raw` is faster: it needs neither ``int()`` per tag nor pairs.
    """
    mt, keys, values = parse(raw)
    start, end = 0, len(keys)
    while start < end and keys[start] in _HEADER_KEYS:  # QuickFIX writes the header first
        start += 1
    while end > start and keys[end - 1] in _HEADER_KEYS:
        end -= 1
    header = keys[:start]
    poss_dup = _POSS_DUP_KEY in header and values[header.index(_POSS_DUP_KEY)] == "Y"
    keys, values = keys[start:end], values[start:end]
    if not _HEADER_KEYS.isdisjoint(keys):  # a header field out of place: still not body
        poss_dup = poss_dup or any(k == _POSS_DUP_KEY and v == "Y" for k, v in zip(keys, values))
        kept = [(k, v) for k, v in zip(keys, values) if k not in _HEADER_KEYS]
        keys, values = [k for k, _ in kept], [v for _, v in kept]
    tags = list(map(_TAG_OF.get, keys))
    if None in tags:
        tags = [tag(k, mt) for k in keys]  # an unknown tag, or a malformed one (raises)
    return mt, poss_dup, list(zip(tags, values))


def tag(key: Any, mt: str) -> int:
    """A tag as int from its wire text (or an int); DecodeError names a malformed one."""
    if isinstance(key, int):
        return key
    if isinstance(key, str) and key.isascii() and key.isdigit():
        return int(key)
    raise DecodeError(mt, f"malformed field tag {key!r}")
