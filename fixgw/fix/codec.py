"""The codec between FIX field lists and :mod:`fixgw.models.fix` (pure core).

A body is a list of ``(tag, value)`` pairs in wire order, because repeating
groups (and groups inside groups) are only defined by position.  Raw text is
split by :func:`fixgw.fix.wire.scan`; a decoding plan skips the header and trailer
fields (keeping the two below).

Decoding runs for every inbound application message (:mod:`fixgw.dispatch`: on
QuickFIX's thread while a request waits for its answer, else on the dispatcher's
or the recorder's writer thread) and is on the order round trip, so it is built
for speed:

* A session sends the same *shapes* over and over (a trade report always has
  the same tags in the same order).  The structure of a shape - which
  position holds which field, where groups start and end, which tags are
  unknown, whether required fields are there - is worked out once, field by
  field, into a :class:`_Plan` that is cached under the tag sequence.  All
  structural errors are found there.  Running a plan is one C call
  (``fixgw/fix/_scan.c``' fill, as is the split) when every value is in a memo,
  else a few C-level calls plus one conversion per non-string field.
* Converted values are memoised per converter (prices and quantities repeat
  a lot); Decimals, enums, bools and datetimes are immutable, so sharing is
  safe.  Group counts are part of the value, not of the shape, so a plan
  re-checks them.
* Models are built the way ``model_construct`` builds them, minus its
  per-field loop; every value has been checked here, and a test pins the
  equivalence with ``model_construct``.

From raw text, two header fields reach the ExecutionReport: PossDupFlag(43) as
``poss_dup``, and SendingTime(52) as ``sending_time`` in a shape without
TransactTime(60), so a report without 60 still has its time.

Every problem with a message becomes :class:`~fixgw.errors.DecodeError`;
every problem encoding a model becomes :class:`~fixgw.errors.OrderError`.
"""
from __future__ import annotations

from enum import Enum
from operator import itemgetter
from typing import Any, Sequence

from pydantic import BaseModel

from fixgw.fix import codec_tables as T
from fixgw.errors import DecodeError, OrderError
from fixgw.models import fix as m
from fixgw.pricing import Units
from fixgw.fix.wire import scan as _scan
from fixgw.fix.wire import tag as _tag

try:  # see fixgw/fix/_scan.c; without it _run's Python loop fills every plan
    from fixgw.fix._scan import fill as _fill
except ImportError:
    _fill = None

SOH = T.SOH
MODELS, MSG_TYPES = T.MODELS, T.MSG_TYPES
_PLANS_MAX = 512
_new = object.__new__
# BaseModel's own slots, set through their descriptors: what model_construct does, minus
# the attribute lookups.
_SET_DICT, _SET_FIELDS_SET, _SET_EXTRA, _SET_PRIVATE = (
    BaseModel.__dict__[a].__set__
    for a in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"))


def trusted(model: type[m.Model], values: dict[str, Any]) -> m.Model:
    """A model from values that already have the fields' exact types, without validating.

    For hot paths whose inputs were just produced by the project's own converters
    (the decoder; ``new_order``'s typed arguments): it skips pydantic's validator
    the way ``model_construct`` does, minus its per-field Python loop. Fields not
    given take their defaults and stay out of ``model_fields_set``; every required
    field must be given.
    """
    full = _DEFAULTS.get(model)
    if full is None:  # every field in declaration order (so repr and dumps match), defaults filled
        full = _DEFAULTS[model] = {n: None if f.is_required() else f.get_default(call_default_factory=True)
                                   for n, f in model.model_fields.items()}
    full = full.copy()
    full.update(values)
    obj = _new(model)
    _SET_DICT(obj, full)
    _SET_FIELDS_SET(obj, set(values))
    _SET_EXTRA(obj, None)
    _SET_PRIVATE(obj, None)
    return obj


_DEFAULTS: dict[type, dict[str, Any]] = {}


def _level(msg_type: str, units: Units) -> T.Level:
    try:
        levels = T.LEVELS[units]
    except KeyError:
        raise ValueError(f"units must be a Units member, not {units!r}") from None
    try:
        lv = levels.get(msg_type)
    except TypeError:
        lv = None
    if lv is None:
        raise DecodeError(str(msg_type), "unsupported MsgType", 35)
    return lv


# --------------------------------------------------------------------------- plans
class _Plan:
    """Where one shape keeps one level's values; see the module docstring."""

    __slots__ = ("level", "texts", "text_at", "get_texts", "memo_convs", "calls", "limits", "groups",
                 "fields_set", "counts", "unknown", "poss_dup_at", "sending_at", "notes", "dups")

    def __init__(self, lv: T.Level, at: dict[str, int], groups: list[tuple[str, tuple]]):
        self.level = lv
        names = [n for n in at if not n.startswith("_")]
        texts = [n for n in names if n not in lv.convs]  # string fields: stored as they come
        where = [at[n] for n in texts]
        self.texts = tuple(texts)
        self.text_at = tuple(zip(texts, where))  # (name, index): what the C fill takes
        self.get_texts = (itemgetter(*where) if len(where) > 1
                          else (lambda v, i=where[0]: (v[i],)) if where else (lambda v: ()))
        convs = [(n, at[n], lv.convs[n][1], lv.convs[n][2]) for n in names if n in lv.convs]
        self.memo_convs = tuple((n, i, memo) for n, i, _, memo in convs if memo is not None)
        self.calls = tuple((n, i, conv) for n, i, conv, memo in convs if memo is None)
        self.limits = tuple((at[n], tag) for n, tag in lv.limits.items() if n in at)
        self.groups = tuple(groups)
        self.fields_set = frozenset(names) | {g for g, _ in groups}
        self.counts: tuple[tuple[int, str], ...] = ()
        self.unknown: tuple[int, ...] = ()
        self.poss_dup_at = -1
        self.sending_at = -1  # where header 52 is, when the model keeps it (no 60 in this shape)
        self.notes: tuple[m.Anomaly, ...] = ()  # lenient plans: what the shape breaks
        self.dups: tuple[tuple[int, int, int], ...] = ()  # lenient: (kept at, repeated at, tag)


def _plan(lv: T.Level, keys: Sequence, values: Sequence, loose: Any = None) -> _Plan:
    """Work out a shape field by field; every structural error is raised here (strict) or
    noted on ``loose``, a :class:`fixgw.fix.lenient.Loose` (only a missing required field still raises)."""
    unknown: list[int] = []
    counts: list[tuple[int, str]] = []
    plan, _ = _plan_entry(lv, keys, values, 0, unknown, counts, top=True, loose=loose)
    plan.counts, plan.unknown = tuple(counts), tuple(unknown)
    if loose is not None:
        plan.notes, plan.dups = tuple(loose.notes), tuple(loose.dups)
    if lv.poss_dup:
        plan.fields_set |= {"poss_dup"}
    return plan


def _plan_entry(lv: T.Level, keys: Sequence, values: Sequence, i: int, unknown: list[int],
                counts: list[tuple[int, str]], top: bool, loose: Any = None) -> tuple[_Plan, int]:
    mt, n = lv.msg_type, len(keys)
    at: dict[str, int] = {}
    groups: list[tuple[str, tuple]] = []
    seen: set[T.Level] = set()
    poss_dup_at = sending_at = -1
    while i < n:
        key = keys[i]
        name = lv.names.get(key)
        if name is None or name.__class__ is T.Marker:
            if not top:
                if loose is None or loose.root.names.get(key) is not None:
                    break  # not ours: this group entry ends here
                loose.note(_tag(key, mt), values[i], f"tag not in the dictionary inside repeating group {lv.count}")
                unknown.append(_tag(key, mt))
            elif name is None:
                unknown.append(_tag(key, mt))
            elif name is T.GROUP_MEMBER:
                if loose is None:
                    raise DecodeError(mt, "tag is only valid inside its repeating group", _tag(key, mt))
                loose.note(_tag(key, mt), values[i], "tag is only valid inside its repeating group; ignored")
            elif poss_dup_at < 0 and _tag(key, mt) == 43:
                poss_dup_at = i
            elif sending_at < 0 and _tag(key, mt) == 52:
                sending_at = i
            i += 1
        elif name.__class__ is T.Level:
            again = name in seen
            if again and loose is None:
                raise DecodeError(mt, "repeating group appears more than once", name.count)
            seen.add(name)
            entries, i = _plan_group(name, keys, values, i, unknown, counts, loose)
            if again:
                loose.note(name.count, None, "repeating group appears more than once; the first is used")
            elif name.name is not None:
                groups.append((name.name, entries))
        elif name in at:
            if not top and name == lv.delim:
                break  # the next entry of the same group starts
            if loose is None:
                raise DecodeError(mt, "tag appears more than once", _tag(key, mt))
            loose.dups.append((at[name], i, _tag(key, mt)))
            i += 1
        else:
            at[name] = i
            i += 1
    for name, tag in lv.required.items():
        if name not in at:
            raise DecodeError(mt, f"required field {name} is missing", tag)
    plan = _Plan(lv, at, groups)
    plan.poss_dup_at = poss_dup_at
    if lv.sending and sending_at >= 0 and "transact_time" not in at:
        plan.sending_at = sending_at
        plan.fields_set |= {"sending_time"}
    return plan, i


def _plan_group(g: T.Level, keys: Sequence, values: Sequence, i: int, unknown: list[int],
                counts: list[tuple[int, str]], loose: Any = None) -> tuple[tuple[_Plan, ...], int]:
    mt, n, text = g.msg_type, len(keys), values[i]
    try:
        count = T.int_from_wire(text)
    except ValueError:
        count = -1
    if count < 0 and loose is None:
        raise DecodeError(mt, f"NumInGroup {text!r} is not a count", g.count)
    counts.append((i, text))
    i += 1
    entries = []
    while i < n and g.names.get(keys[i]) == g.delim and (loose is not None or len(entries) < count):
        entry, i = _plan_entry(g, keys, values, i, unknown, counts, top=False, loose=loose)
        entries.append(entry)
    if loose is not None:
        if len(entries) != count:
            loose.note(g.count, text, f"NumInGroup does not match the {len(entries)} entries received; "
                                      f"those are used")
    elif len(entries) < count:
        raise DecodeError(mt, f"NumInGroup is {count} but only {len(entries)} entries start with "
                          f"tag {g.delim_tag}", g.count)
    elif i < n and g.names.get(keys[i]) == g.delim:
        raise DecodeError(mt, f"more entries than NumInGroup={count}", g.count)
    return tuple(entries), i


def _run(p: _Plan, values: Sequence, poss_dup: bool = False, found: list | None = None) -> Any:
    """Fill a plan with one message's values (the hot path); with ``found`` (a list), a value
    the field cannot hold is noted there instead of raising (:mod:`fixgw.fix.lenient`)."""
    lv = p.level
    for i, tag in p.limits:
        if values[i] != "2":
            raise DecodeError(lv.msg_type, f"OrdType {values[i]!r} is not 2 (limit)", tag)
    # The C fill takes every value it has a memo for or can convert; a miss comes back None.
    full = _fill(lv.template, values, p.text_at, p.memo_convs, p.calls) if _fill and found is None else None
    if full is None:
        full = lv.template.copy()
        full.update(zip(p.texts, p.get_texts(values)))
        for name, i, memo in p.memo_convs:
            v = memo.get(values[i])
            if v is None:
                v = _convert(lv, name, values[i], memo) if found is None else _loose(lv, name, values[i], found)
            full[name] = v
        for name, i, conv in p.calls:
            try:
                full[name] = conv(values[i])
            except (ValueError, ArithmeticError):
                if found is None:
                    _convert(lv, name, values[i], None)  # raises, naming the field
                full[name] = _loose(lv, name, values[i], found)
    for name, entries in p.groups:
        full[name] = ((_run(entries[0], values, False, found),) if len(entries) == 1
                      else tuple([_run(e, values, False, found) for e in entries]))
    if lv.poss_dup:
        full["poss_dup"] = poss_dup
    if p.sending_at >= 0:
        try:
            full["sending_time"] = T.time_from_wire(values[p.sending_at])
        except ValueError:
            raise DecodeError(lv.msg_type, f"SendingTime {values[p.sending_at]!r} is not a UTCTimestamp", 52) from None
    obj = _new(lv.model)
    _SET_DICT(obj, full)
    _SET_FIELDS_SET(obj, set(p.fields_set))
    _SET_EXTRA(obj, None)
    _SET_PRIVATE(obj, None)
    return obj


def _loose(lv: T.Level, name: str, s: str, found: list) -> Any:
    """A value the field cannot hold, leniently: an enum keeps the raw text, another kind
    becomes None; either way it is noted. A required non-enum field still raises."""
    tag, conv, memo = lv.convs[name]
    try:
        return _convert(lv, name, s, memo)
    except DecodeError as e:
        enum = conv is T.reject and memo and isinstance(next(iter(memo.values())), Enum)
        if not enum and name in lv.required:
            raise
        found.append(m.Anomaly(tag=tag, value=s, problem=f"{name}: not a value the dictionary lists"
                               if conv is T.reject else str(e).split(": ", 1)[-1]))
        return s if enum else None


def _convert(lv: T.Level, name: str, s: str, memo: dict | None) -> Any:
    """A memo miss: convert, remember, or raise naming the field."""
    tag, conv, _ = lv.convs[name]
    try:
        v = conv(s)
    except (ValueError, ArithmeticError) as exc:
        raise DecodeError(lv.msg_type, f"{name} cannot be {s!r} ({exc})", tag) from None
    if memo is not None:
        if len(memo) >= T.MEMO_MAX:
            memo.clear()
        memo[s] = v
    return v


def _decode(lv: T.Level, shape: Any, keys: Sequence | None, values: Sequence,
            poss_dup: bool | None) -> tuple[Any, tuple[int, ...]]:
    """``keys``: the tag texts, or None when the shape (they joined by SOH) is all the caller made."""
    if "" in values:
        keys = shape.split(SOH) if keys is None else keys
        raise DecodeError(lv.msg_type, "tag specified without a value",
                          _tag(keys[values.index("")], lv.msg_type))
    plan = lv.plans.get(shape)
    if plan is None:
        keys = shape.split(SOH) if keys is None else keys
        plan = _plan(lv, keys, values)
        if len(lv.plans) >= _PLANS_MAX:
            lv.plans.clear()
        lv.plans[shape] = plan
    for i, text in plan.counts:
        if values[i] != text:  # same tags, different NumInGroup: let the planner say why
            plan = _plan(lv, shape.split(SOH) if keys is None else keys, values)
            break
    if poss_dup is None:
        poss_dup = plan.poss_dup_at >= 0 and values[plan.poss_dup_at] == "Y"
    return _run(plan, values, poss_dup), plan.unknown


# --------------------------------------------------------------------------- public decoding
def decode_with_unknown(msg_type: str, pairs: Sequence[tuple[int, str]], units: Units,
                        poss_dup: bool = False) -> tuple[Any, tuple[int, ...]]:
    """Body pairs -> (model, tags the model has no place for, in wire order).

    Unknown tags are handed back rather than stored or raised: Kalshi adds tags over
    time, and whether one is worth a warning is the gateway's call, not the codec's.
    """
    lv = _level(msg_type, units)
    try:
        keys, values = zip(*pairs) if pairs else ((), ())
        "".join(values)
        hash(keys)
    except (TypeError, ValueError):
        raise DecodeError(msg_type, "body must be a sequence of (int tag, str value) pairs") from None
    return _decode(lv, keys, keys, values, bool(poss_dup))


def decode(msg_type: str, pairs: Sequence[tuple[int, str]], units: Units,
           poss_dup: bool = False) -> Any:
    """:func:`decode_with_unknown` for callers that do not report unknown tags."""
    return decode_with_unknown(msg_type, pairs, units, poss_dup)[0]


def decode_raw_with_unknown(raw: str, units: Units, msg_type: str | None = None,
                            serialized: bool = False) -> tuple[Any, tuple[int, ...]]:
    """The QuickFIX callback path: ``Message.toString()`` straight to a model.

    Header and trailer are skipped; PossDupFlag(43) comes from the header. ``msg_type``:
    the MsgType the caller already read from ``raw``; ``serialized``: ``raw`` is QuickFIX's
    own ``toString()`` (see :func:`fixgw.fix.wire.parse`).
    """
    mt, shape, keys, values = _scan(raw, msg_type, serialized)
    try:  # the common case in one subscript; _level names what is wrong
        lv = T.LEVELS[units][mt]
    except (KeyError, TypeError):
        lv = _level(mt, units)
    return _decode(lv, shape, keys, values, None)


def decode_raw(raw: str, units: Units) -> Any:
    """:func:`decode_raw_with_unknown` without the unknown tags (inlined: this is the hot path)."""
    mt, shape, keys, values = _scan(raw)
    return _decode(_level(mt, units), shape, keys, values, None)[0]


# --------------------------------------------------------------------------- encoding
def encode(model: m.Model, units: Units) -> tuple[str, list[tuple[int, str]]]:
    """Model -> (MsgType, body pairs) in the dictionary's order, NumInGroup before its entries.

    None and default-False flags are left out (they say nothing on the wire).  A value the
    session's units cannot carry raises OrderError here, before anything is sent.
    """
    try:
        lv = T.BY_MODEL[units][type(model)]
    except KeyError:
        if units not in T.BY_MODEL:
            raise ValueError(f"units must be a Units member, not {units!r}") from None
        raise TypeError(f"{type(model).__name__} is not a FIX message model") from None
    out: list[tuple[int, str]] = []
    _encode_into(lv, model, out)
    return lv.msg_type, out


def _encode_into(lv: T.Level, obj: m.Model, out: list[tuple[int, str]]) -> None:
    d = obj.__dict__
    for tag, name, enc in lv.enc:
        if enc.__class__ is T.Level:
            entries = d[name] if name is not None else ()
            if entries:
                out.append((tag, str(len(entries))))
                for entry in entries:
                    _encode_into(enc, entry, out)
        elif name is None:
            out.append((tag, enc))  # a constant such as OrdType(40)=2
        elif (v := d[name]) is not None:
            try:
                s = enc(v)
            except (ValueError, TypeError, ArithmeticError) as exc:
                raise OrderError(f"{type(obj).__name__}.{name} (tag {tag}): {exc}") from None
            if s is not None:
                out.append((tag, s))
