"""Decoding what the exchange sends without losing it to one odd field (pure core).

Kalshi's FIX changes over time (a tag reorganisation in v1.0.17, an enum split in
v1.0.30); one new value must never cost a fill. :func:`decode` is
:func:`fixgw.fix.codec.decode_raw_with_unknown` that keeps the message and lists its
faults instead of raising:

* an enum value the dictionary does not list is kept as its raw text (a plain
  ``str`` in the enum's field, never a guessed member); another value its field
  cannot hold becomes None (an optional field) ;
* a repeated tag keeps its first value (the anomaly names both when they differ);
* a tag unknown to the dictionary inside a group entry, a NumInGroup that does not
  match its entries, a group member outside its group, an empty value: taken as
  they come, or ignored.

Each becomes a :class:`~fixgw.models.fix.Anomaly` on ``model.anomalies``. Only what
leaves no model to build still raises DecodeError: an unsupported MsgType, a
missing or unconvertible required field (no ExecID, no CumQty).
"""
from __future__ import annotations

from typing import Any

from fixgw.fix import codec as F
from fixgw.fix import codec_tables as T
from fixgw.models import fix as m
from fixgw.pricing import Units
from fixgw.fix.wire import parse, tag


class Loose:
    """What a lenient plan collects instead of raising (see :func:`fixgw.fix.codec._plan`)."""

    __slots__ = ("root", "notes", "dups")

    def __init__(self, root: T.Level):
        self.root, self.notes, self.dups = root, [], []

    def note(self, tag_: int, value: str | None, problem: str) -> None:
        self.notes.append(m.Anomaly(tag=tag_, value=value, problem=problem))


def decode(raw: str, units: Units) -> tuple[Any, tuple[int, ...]]:
    """Raw FIX text -> (model, unknown tags); see the module docstring."""
    mt, keys, values = parse(raw)
    lv = F._level(mt, units)
    notes: list[m.Anomaly] = []
    if "" in values:
        for k, v in zip(keys, values):
            if v == "":
                notes.append(m.Anomaly(tag=tag(k, mt), value="", problem="tag without a value; ignored"))
        kept = [(k, v) for k, v in zip(keys, values) if v != ""]
        keys, values = (tuple(x) for x in zip(*kept)) if kept else ((), ())
    shape = T.SOH.join(keys)
    plan = lv.loose_plans.get(shape)
    if plan is None or any(values[i] != text for i, text in plan.counts):
        plan = F._plan(lv, keys, values, Loose(lv))
        if len(lv.loose_plans) >= F._PLANS_MAX:
            lv.loose_plans.clear()
        lv.loose_plans[shape] = plan
    found = notes + list(plan.notes)
    for kept_at, again, tag_ in plan.dups:
        same = values[kept_at] == values[again]
        found.append(m.Anomaly(tag=tag_, value=values[again], problem="tag appears more than once" + (
            " (same value)" if same else f"; the first value {values[kept_at]!r} is used")))
    poss_dup = plan.poss_dup_at >= 0 and values[plan.poss_dup_at] == "Y"
    model = F._run(plan, values, poss_dup, found)
    if found and "anomalies" in lv.template:  # the model was built here and not shared yet
        model.__dict__["anomalies"] = tuple(found)
        model.__pydantic_fields_set__.add("anomalies")
    return model, plan.unknown
