"""Field pairs or body text -> ``quickfix.Message``, for sending (adapter).

One direction only. :mod:`fixgw.fields` turns a model into ``(tag, value)`` pairs
in wire order; :func:`to_message` makes the Message the gateway sends. QuickFIX
parses the body text in one call: without a dictionary when the message has no
repeating groups (:func:`from_flat_body`, or :func:`scratch_flat_body`, which
reuses one Message per sending thread), against the project's dictionaries when it
has (:func:`from_body`), because a FieldMap holds one value per tag and groups need
real ``quickfix.Group`` instances. Inbound messages never come through here: the
callbacks read ``message.toString()`` and :mod:`fixgw.fields` (or
:mod:`fixgw.lenient`) decodes the text.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Iterator, Sequence

import quickfix as fix

from fixgw.fix import dictionary, tags

Pairs = Sequence[tuple[int, str]]


@lru_cache(maxsize=None)
def _layouts(product: str) -> dict[str, dict[int, tuple[int, frozenset[int], dict]]]:
    """msg_type -> {count tag: (delimiter, member tags, nested layout)}."""
    def groups(entries) -> dict:
        out = {}
        for e in entries:
            if e.is_group:
                out[e.tag] = (e.members[0].tag, frozenset(m.tag for m in e.members), groups(e.members))
        return out
    return {m.msgtype: groups(m.entries) for m in dictionary.application(product).messages}


def _fill(target: fix.FieldMap, pairs: Iterator[tuple[int, str]], layout: dict,
          members: frozenset[int] | None, pending: list) -> None:
    """Set fields on ``target`` until a tag outside ``members`` (a group's end) appears."""
    while True:
        if pending:
            tag, value = pending.pop()
        else:
            try:
                tag, value = next(pairs)
            except StopIteration:
                return
        if members is not None and tag not in members:
            pending.append((tag, value))
            return
        if tag in layout:
            delim, member_tags, nested = layout[tag]
            for _ in range(int(value)):
                group = fix.Group(tag, delim)
                first = next(pairs) if not pending else pending.pop()
                group.setField(fix.StringField(first[0], first[1]))
                _fill(group, pairs, nested, member_tags - {delim}, pending)
                target.addGroup(group)
            continue
        target.setField(fix.StringField(tag, value))


@lru_cache(maxsize=None)
def _dictionaries(product: str) -> tuple[fix.DataDictionary, fix.DataDictionary]:
    return (fix.DataDictionary(str(dictionary.transport_path())),
            fix.DataDictionary(str(dictionary.path(product))))


def to_message(msg_type: str, pairs: Pairs, product: str = "event") -> fix.Message:
    body = "".join([f"{tag}={value}\x01" for tag, value in pairs])
    layout = _layouts(product).get(msg_type, {})
    if not layout or not any(tag in layout for tag, _ in pairs):
        return from_flat_body(msg_type, body)
    # With groups, letting QuickFIX parse the text against the dictionary is one SWIG call;
    # building Group objects field by field is several per field.
    return from_body(msg_type, body, product)


def from_flat_body(msg_type: str, body: str) -> fix.Message:
    """A message without repeating groups from its body text.

    QuickFIX parses the text without a dictionary in one call, instead of one SWIG
    call per field (BodyLength and CheckSum are recomputed on send).
    """
    return fix.Message(_framed(msg_type, body), False)


_scratch = threading.local()


def scratch_flat_body(msg_type: str, body: str) -> fix.Message:
    """:func:`from_flat_body` parsed into this thread's one scratch Message.

    For a message that is sent at once: ``Session::send`` writes the header,
    keeps the text it sends and no reference to the Message, so each sending
    thread reuses one instead of allocating a Message (and its three field maps)
    per order. ``setString`` clears whatever the last send left in it.
    """
    message = getattr(_scratch, "message", None)
    if message is None:
        message = _scratch.message = fix.Message()
    message.setString(_framed(msg_type, body), False)
    return message


def from_body(msg_type: str, body: str, product: str = "event") -> fix.Message:
    """A message from body text (``tag=value`` SOH-terminated, no header), groups and all."""
    transport, app = _dictionaries(product)
    return fix.Message(_framed(msg_type, body), transport, app, False)


def _framed(msg_type: str, body: str) -> str:
    """Body text in a header and trailer QuickFIX parses (it recomputes 9 and 10 on send)."""
    return f"8=FIXT.1.1\x019=0\x0135={msg_type}\x01{body}10=000\x01"


def to_message_fields(msg_type: str, pairs: Pairs, product: str = "event") -> fix.Message:
    """The same message built field by field (kept for tests that compare both builders)."""
    message = fix.Message()
    message.getHeader().setField(tags.MSG_TYPE, msg_type)
    _fill(message, iter(pairs), _layouts(product).get(msg_type, {}), None, [])
    return message
