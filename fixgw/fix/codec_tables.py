"""What :mod:`fixgw.fix.codec` knows: value kinds, which tag carries which field, compiled.

Entries are in wire order (the order of :mod:`fixgw.fix.dictionary_tables`), which
is also the order :func:`fixgw.fix.codec.encode` writes.  A field with name
``None`` is in the Kalshi layout but not in the model: the decoder accepts and
drops it, so it is never reported as unknown.  A group with model ``None``
is checked for structure and dropped the same way.

Each value kind has a decoder (wire text -> model value, ``ValueError`` when
the text is wrong) and an encoder (model value -> wire text, ``None`` to leave
the field out).  Prices are the only kind whose text depends on the session's
:class:`~fixgw.pricing.Units`, which is why the layouts are compiled into one
set of :class:`Level` objects per unit at import.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import Enum
from typing import Any, Callable, Iterable, NamedTuple

from fixgw import pricing as P
from fixgw.errors import OrderError
from fixgw.models import fix as m
from fixgw.pricing import Units

# --------------------------------------------------------------------------- kinds
# Enum classes are kinds too: their member values are the wire values.
STR = "str"
INT = "int"
QTY = "qty"              # contracts, "10.00"
PX = "px"                # session units; a cents session needs whole cents
AVG_PX = "avg_px"        # session units; fractional cents allowed ("74.5")
SETTLE = "settle"        # always cents with 2 dp, model dollars
MONEY = "money"          # always dollars
BOOL = "bool"            # Y / N
TIME = "time"            # UTCTimestamp
POST_ONLY = "post_only"  # ExecInst(18) on requests: "6" <-> True
LIMIT = "limit"          # OrdType(40): always written as 2, only 2 accepted
IGNORE = "ignore"        # in the layout, not in the model

SOH = "\x01"
_UTC = dt.timezone.utc
MEMO_MAX = 4096


def int_from_wire(s: str) -> int:
    """Strict FIX int: ``int()`` would also take ``" 7"``, ``"+7"``, ``"1_0"`` and ``"٧"``."""
    if s.isascii() and (s.isdigit() or (s[:1] == "-" and s[1:].isdigit())):
        return int(s)
    raise ValueError("not an integer")


_MINUTES: dict[str, dt.datetime] = {}
_SECS = {f"{i:02d}": dt.timedelta(seconds=i) for i in range(60)}
_MILLIS = {f"{i:03d}": dt.timedelta(milliseconds=i) for i in range(1000)}
_TIME_FORMAT = "not YYYYMMDD-HH:MM:SS[.sss]"


def _minute(s: str) -> dt.datetime:
    """The aware datetime of ``YYYYMMDD-HH:MM`` (checked strictly), remembered."""
    if len(s) < 17 or s[8] != "-" or s[11] != ":" or s[14] != ":":
        raise ValueError(_TIME_FORMAT)
    digits = s[:8] + s[9:11] + s[12:14]
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(_TIME_FORMAT)
    base = dt.datetime(int(s[:4]), int(s[4:6]), int(s[6:8]), int(s[9:11]), int(s[12:14]), tzinfo=_UTC)
    if len(_MINUTES) >= MEMO_MAX:
        _MINUTES.clear()
    _MINUTES[s[:14]] = base
    return base


def time_from_wire(s: str) -> dt.datetime:
    """``YYYYMMDD-HH:MM:SS[.sss|.ssssss|.sssssssss]`` -> aware UTC datetime.

    Memoised per minute, with the seconds and milliseconds from tables:
    ``strptime`` and even building a datetime cost more than the rest of an
    ExecutionReport, and a replay's reports are seconds apart.
    """
    base = _MINUTES.get(s[:14])
    if base is None or s[14:15] != ":":
        base = _minute(s)
    sec = _SECS.get(s[15:17])
    if sec is None or (len(s) > 17 and s[17] != "."):
        raise ValueError(_TIME_FORMAT)
    base = base + sec
    if len(s) == 17:
        return base
    if s[17] == "." and len(s) == 21:
        ms = _MILLIS.get(s[18:])
        if ms is not None:
            return base + ms
    frac = s[18:]
    if s[17] != "." or len(frac) not in (6, 9) or not (frac.isascii() and frac.isdigit()):
        raise ValueError("fraction of a second must have 3, 6 or 9 digits")
    return base + dt.timedelta(microseconds=int(frac[:6]))


def time_to_wire(t: dt.datetime) -> str:
    """Milliseconds, as Kalshi sends; sub-millisecond digits are dropped."""
    if not isinstance(t, dt.datetime) or t.utcoffset() is None:
        raise OrderError(f"{t!r} must be a timezone-aware datetime")
    t = t.astimezone(_UTC)
    return (f"{t.year:04d}{t.month:02d}{t.day:02d}-{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
            f".{t.microsecond // 1000:03d}")


def _cents(s: str) -> Decimal:
    return P.price_from_wire(s, Units.CENTS)


def reject(s: str) -> Any:
    raise ValueError("not one of the allowed values")


def decoder(kind: object, units: Units) -> tuple[Callable[[str], Any], dict | None, bool]:
    """-> (convert, memo, memo_is_complete).  A complete memo lists every valid text."""
    if isinstance(kind, type) and issubclass(kind, Enum):
        return reject, {str(e.value): e for e in kind}, True
    complete = {BOOL: {"Y": True, "N": False}, POST_ONLY: {"6": True}, LIMIT: {"2": "2"}}
    if kind in complete:
        return reject, complete[kind], True  # type: ignore[index]
    if kind in (PX, AVG_PX):
        return (P.decimal_from_wire if units == Units.DOLLARS else _cents), None, False
    conv = {INT: int_from_wire, QTY: P.qty_from_wire, MONEY: P.money_from_wire,
            SETTLE: P.settlement_from_wire, TIME: time_from_wire}[kind]  # type: ignore[index]
    return conv, None, False


def _str_to_wire(v: object) -> str:
    if not isinstance(v, str) or not v or SOH in v:
        raise OrderError(f"{v!r} must be a non-empty string without SOH")
    return v


def _int_to_wire(v: object) -> str:
    if not isinstance(v, int) or isinstance(v, bool):
        raise OrderError(f"{v!r} must be an int")
    return str(int(v))


def _enum_encoder(enum: type[Enum]) -> Callable[[Any], str]:
    """Member (or raw value) -> wire text; members are looked up, not rebuilt per message.

    ``enum(v).value`` goes through EnumMeta.__call__ and the ``value`` property on
    every order; a table of the members answers the same without either. Anything
    else (a raw value, or something invalid) still goes through ``enum(v)``.
    """
    table = {member: str(member.value) for member in enum}

    def encode(v: Any) -> str:
        text = table.get(v) if v.__class__ is enum else None
        return text if text is not None else str(enum(v).value)

    return encode


def encoder(kind: object, units: Units, default: object) -> Callable[[Any], str | None]:
    if isinstance(kind, type) and issubclass(kind, Enum):
        return _enum_encoder(kind)
    if kind == BOOL:
        omit_false = default is False  # a False that is only the default says nothing
        return lambda v: "Y" if v else (None if omit_false else "N")
    return {
        STR: _str_to_wire, INT: _int_to_wire, QTY: P.qty_to_wire,
        PX: lambda v: P.price_to_wire(v, units, whole_cents=True),
        AVG_PX: lambda v: P.price_to_wire(v, units), SETTLE: P.settlement_to_wire,
        MONEY: P.money_to_wire, TIME: time_to_wire,
        POST_ONLY: lambda v: "6" if v else None,
    }[kind]  # type: ignore[index]


# --------------------------------------------------------------------------- layouts
class Field(NamedTuple):
    tag: int
    name: str | None
    kind: object


class Group(NamedTuple):
    count: int                      # NumInGroup tag
    name: str | None                # field of the parent model
    model: type[m.Model] | None
    entries: tuple                  # Field | Group; the first Field is the delimiter


class Message(NamedTuple):
    msg_type: str
    model: type[m.Model]
    entries: tuple


F = Field

FEES = Group(136, "fees", m.MiscFee, (
    F(137, "amount", MONEY), F(138, "currency", STR), F(139, "fee_type", STR),
    F(891, "basis", INT)))
COLLATERAL = Group(1703, "collateral", m.CollateralChange, (
    F(1704, "amount", MONEY), F(1705, "kind", STR)))
PARTIES = Group(453, "parties", m.Party, (
    F(448, "party_id", STR), F(447, "source", STR), F(452, "role", INT)))
SETTLEMENT_PARTIES = Group(20108, "parties", m.SettlementParty, (
    F(20109, "party_id", STR), F(20110, "role", INT), F(704, "long_qty", QTY),
    F(705, "short_qty", QTY), COLLATERAL, FEES))

MESSAGES: tuple[Message, ...] = (
    Message("D", m.NewOrderSingle, (
        F(11, "cl_ord_id", STR), F(18, "post_only", POST_ONLY), F(38, "order_qty", QTY),
        F(40, None, LIMIT), F(44, "price", PX), F(54, "side", m.Side), F(55, "symbol", STR),
        F(59, "time_in_force", m.TimeInForce), F(126, "expire_time", TIME), F(60, None, IGNORE),
        F(100, "ex_destination", INT), F(117, None, IGNORE), F(21023, None, IGNORE), PARTIES,
        F(79, "alloc_account", INT), F(526, "order_group_id", STR),
        F(2964, "stp_type", m.SelfTradePrevention),
        F(21006, "cancel_order_on_pause", BOOL), F(21009, "max_execution_cost", MONEY))),
    Message("F", m.OrderCancelRequest, (
        F(11, "cl_ord_id", STR), F(37, "order_id", STR), F(41, "orig_cl_ord_id", STR),
        F(54, "side", m.Side), F(55, "symbol", STR), F(100, None, IGNORE), PARTIES,
        F(79, "alloc_account", INT))),
    Message("G", m.OrderCancelReplaceRequest, (
        F(11, "cl_ord_id", STR), F(37, "order_id", STR), F(41, "orig_cl_ord_id", STR),
        F(38, "order_qty", QTY), F(40, None, LIMIT), F(44, "price", PX), F(54, "side", m.Side),
        F(55, "symbol", STR), F(59, "time_in_force", m.TimeInForce),
        F(126, "expire_time", TIME), F(18, None, IGNORE), F(100, None, IGNORE), PARTIES,
        F(79, "alloc_account", INT))),
    Message("8", m.ExecutionReport, (
        F(37, "order_id", STR), F(11, "cl_ord_id", STR), F(41, "orig_cl_ord_id", STR),
        F(17, "exec_id", STR), F(150, "exec_type", m.ExecType),
        F(39, "ord_status", m.OrdStatus), F(54, "side", m.Side), F(55, "symbol", STR),
        F(38, "order_qty", QTY), F(44, "price", PX), F(59, "time_in_force", m.TimeInForce),
        F(126, "expire_time", TIME), F(18, "exec_inst", STR), F(100, "ex_destination", INT),
        F(6, "avg_px", AVG_PX), F(14, "cum_qty", QTY), F(151, "leaves_qty", QTY),
        F(30, "last_mkt", INT), F(31, "last_px", PX), F(32, "last_qty", QTY),
        F(60, "transact_time", TIME), F(103, "ord_rej_reason", INT), F(58, "text", STR),
        F(378, None, IGNORE), F(2964, "stp_type", INT), PARTIES, F(79, "alloc_account", INT),
        F(526, "order_group_id", STR), F(715, "clearing_business_date", STR),
        F(704, "long_qty", QTY), F(705, "short_qty", QTY), F(880, "trd_match_id", STR),
        F(1057, "aggressor", BOOL), FEES, COLLATERAL,
        F(21030, "single_market_collateral_return", MONEY),
        F(21031, "ranged_market_collateral_return", MONEY))),
    Message("9", m.OrderCancelReject, (
        F(37, "order_id", STR), F(11, "cl_ord_id", STR), F(41, "orig_cl_ord_id", STR),
        F(39, "ord_status", m.OrdStatus), F(434, "response_to", INT), F(102, "reason", INT),
        F(58, "text", STR), F(79, "alloc_account", INT))),
    Message("q", m.OrderMassCancelRequest, (
        F(11, "cl_ord_id", STR), F(530, "mass_cancel_request_type", INT),
        F(79, "alloc_account", INT))),
    Message("r", m.OrderMassCancelReport, (
        F(11, "cl_ord_id", STR), F(37, "order_id", STR), F(530, "request_type", INT),
        F(531, "response", INT), F(532, "reject_reason", INT), F(533, "total_affected", INT),
        F(58, "text", STR))),
    Message("j", m.BusinessMessageReject, (
        F(45, "ref_seq_num", INT), F(372, "ref_msg_type", STR), F(379, "ref_id", STR),
        F(380, "reason", INT), F(58, "text", STR))),
    Message("3", m.SessionReject, (
        F(45, "ref_seq_num", INT), F(371, "ref_tag_id", INT), F(372, "ref_msg_type", STR),
        F(373, "reason", INT), F(58, "text", STR))),
    Message("UOG", m.OrderGroupRequest, (
        F(20131, "action", m.OrderGroupAction), F(20130, "order_group_id", STR),
        F(20132, "contracts_limit", INT), F(79, "alloc_account", INT), F(100, None, IGNORE))),
    Message("UOH", m.OrderGroupResponse, (
        F(20130, "order_group_id", STR), F(20131, "action", m.OrderGroupAction),
        F(20132, "contracts_limit", INT), F(79, "alloc_account", INT), F(58, "text", STR))),
    Message("U1", m.EventResendRequest, (
        F(21001, "begin_exec_id", STR), F(21002, "end_exec_id", STR))),
    Message("U2", m.EventResendComplete, (
        F(45, "ref_seq_num", INT), F(21003, "count", INT))),
    Message("U3", m.EventResendReject, (
        F(45, "ref_seq_num", INT), F(21004, "reason", INT), F(58, "text", STR))),
    Message("UMS", m.MarketSettlementReport, (
        F(20105, "report_id", STR), F(55, "symbol", STR), F(715, "clearing_business_date", STR),
        F(20106, "total_reports", INT), F(20107, "market_result", STR),
        F(730, "settlement_price", SETTLE), F(893, "last_fragment", BOOL),
        SETTLEMENT_PARTIES)),
)

# Standard header and trailer (FIXT.1.1 layout in dictionary_tables): never part of a body.
HEADER_TAGS = frozenset({8, 9, 35, 1128, 49, 56, 115, 128, 34, 50, 57, 43, 97, 52, 122, 369})
TRAILER_TAGS = frozenset({93, 89, 10})


# --------------------------------------------------------------------------- compiled tables
# The layouts above, compiled once per price unit for fixgw.fix.codec.  A level's ``names``
# maps every tag it may meet (as int and as text, so raw text never needs int()) to a
# field name, a "_<tag>" placeholder for layout-only fields, a nested Level for a
# NumInGroup tag, or one of the markers below.
class Marker:
    """A tag that is not a field of this level."""

    __slots__ = ("what",)

    def __init__(self, what: str):
        self.what = what

    def __repr__(self) -> str:
        return f"<{self.what}>"


HEADER_FIELD, TRAILER_FIELD = Marker("header"), Marker("trailer")
GROUP_MEMBER = Marker("group member")  # belongs to a group, so not valid at this level
MEMOS: dict[Callable, dict] = {}  # converter -> text -> value, shared by all levels


class Level:
    """One message body or one group entry, compiled for one price unit."""

    __slots__ = ("msg_type", "model", "name", "count", "names", "convs", "limits", "required",
                 "template", "delim", "delim_tag", "enc", "poss_dup", "sending", "plans", "loose_plans")

    def __init__(self, msg_type: str, model: type[m.Model] | None, entries: tuple, units: Units,
                 *, name: str | None = None, count: int = 0):
        self.msg_type, self.model, self.name, self.count = msg_type, model, name, count
        self.names: dict[int | str, Any] = {}
        self.convs: dict[str, tuple] = {}           # name -> (tag, convert, memo or None)
        self.limits: dict[str, int] = {}           # OrdType placeholders -> tag
        self.enc: list[tuple[int, str | None, Any]] = []
        self.plans: dict[Any, Any] = {}            # shape -> fixgw.fix.codec._Plan
        self.loose_plans: dict[Any, Any] = {}      # the same for fixgw.fix.lenient.decode
        fields = model.model_fields if model else {}
        tag_of: dict[str, int] = {}
        for e in entries:
            if isinstance(e, Group):
                sub = Level(msg_type, e.model, e.entries, units, name=e.name, count=e.count)
                for tag in _group_tags(e):
                    self.names.setdefault(tag, GROUP_MEMBER)
                    self.names.setdefault(str(tag), GROUP_MEMBER)
                self.names[e.count] = self.names[str(e.count)] = sub
                self.enc.append((e.count, e.name, sub))
                continue
            key = e.name if e.name is not None else f"_{e.tag}"  # "_": never a model field
            self.names[e.tag] = self.names[str(e.tag)] = key
            tag_of[key] = e.tag
            if e.kind == LIMIT:
                self.limits[key] = e.tag
                self.enc.append((e.tag, None, "2"))
            elif e.name is not None:
                if e.name not in fields:
                    raise AssertionError(f"{model}: no field {e.name}")
                self.enc.append((e.tag, e.name, encoder(e.kind, units, fields[e.name].default)))
                if e.kind != STR:
                    conv, memo, _ = decoder(e.kind, units)
                    if memo is None and e.kind != TIME:
                        memo = MEMOS.setdefault(conv, {})
                    self.convs[key] = (e.tag, conv, memo)
        first = entries[0]
        self.delim, self.delim_tag = first.name or f"_{first.tag}", first.tag
        self.poss_dup = "poss_dup" in fields
        self.sending = "sending_time" in fields  # header 52, kept when 60 is missing
        self.required = {n: tag_of.get(n) for n, f in fields.items() if f.is_required()}
        if None in self.required.values():
            raise AssertionError(f"{model}: a required field has no tag")
        self.template = {n: (None if f.is_required() else f.default) for n, f in fields.items()}
        if model is not None and (model.__pydantic_post_init__ or model.__pydantic_root_model__):
            raise AssertionError(f"{model}: fast construction would skip its hooks")


def _group_tags(g: Group) -> Iterable[int]:
    for e in g.entries:
        if isinstance(e, Group):
            yield e.count
            yield from _group_tags(e)
        else:
            yield e.tag


def _compile(units: Units) -> dict[str, Level]:
    out = {}
    for msg in MESSAGES:
        lv = Level(msg.msg_type, msg.model, msg.entries, units)
        for tags, marker in ((HEADER_TAGS, HEADER_FIELD), (TRAILER_TAGS, TRAILER_FIELD)):
            for tag in tags:
                lv.names.setdefault(tag, marker)
                lv.names.setdefault(str(tag), marker)
        out[msg.msg_type] = lv
    return out


LEVELS = {u: _compile(u) for u in Units}
BY_MODEL = {u: {lv.model: lv for lv in levels.values()} for u, levels in LEVELS.items()}
MODELS: dict[str, type[m.Model]] = {mt: lv.model for mt, lv in LEVELS[Units.CENTS].items()}
MSG_TYPES = frozenset(MODELS)
