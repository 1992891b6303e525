"""One received application message, from QuickFIX's callback to the dispatcher (pure core).

QuickFIX's thread keeps its part small: it reads the message's text and queues
an :class:`Inbound` holding it. The message is decoded (:func:`decoded`), with the
session's bookkeeping (order registry and acks, ack timer, counts, unknown tags,
anomalies), when
someone first reads ``message`` or ``error`` (or calls ``settle()``): QuickFIX's
thread itself for an answer a caller is waiting for (its ack resolves before
anything else is done), else the dispatcher thread or the recorder's sink. A
:class:`Backlog` makes sure that messages are decoded one at a time and in the
order they arrived, whichever thread asks: reading one decodes every earlier one
first.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from typing import Any, Callable

from fixgw.fix import codec, lenient
from fixgw.errors import DecodeError
from fixgw.models.fix import ExecutionReport

log = logging.getLogger("fixgw.inbound")
# (runtime, raw, invalid, MsgType) -> (model or None, error or None): the session's decoding and bookkeeping
Decoder = Callable[[Any, str, bool, "str | None"], tuple[Any, "str | None"]]


def decoded(sess: Any, raw: str, invalid: bool = False, msg_type: str | None = None) -> tuple[Any, str | None]:
    """(model, None), or (None, why) for a message no decoder can read, with the session's
    bookkeeping (``sess`` is its :class:`fixgw.adapter.application.SessionRuntime`): the order registry
    resolves and times the ack first, then the counts, the gap-recovery ExecID, the KalshiDC
    peers' registries, unknown tags and anomalies. ``invalid``: QuickFIX's validation refused
    it, so it goes to the lenient decoder; ``msg_type``: read from the text on arrival."""
    try:
        if invalid:
            model, unknown = lenient.decode(raw, sess.units)
        else:
            try:
                model, unknown = codec.decode_raw_with_unknown(raw, sess.units, msg_type)
            except DecodeError:  # keep what can be kept: a fill must not be lost to one field
                model, unknown = lenient.decode(raw, sess.units)
    except DecodeError as e:
        sess.metrics.decode_error()
        reason = f"undecodable message kept as raw: {e}"
        sess.lifecycle.note_error(reason)
        log.error("session=%s event=decode-error error=%s", sess.config.name, e)
        return None, reason
    ack_us = sess.registry.apply(model) if sess.registry is not None else None  # first: a caller waits
    sess.metrics.decoded(model, ack_us)
    if model.__class__ is ExecutionReport and not model.is_pending:
        sess.last_exec_id = model.exec_id
        for registry in sess.peers:
            registry.apply(model)
    if unknown and not sess.unknown_tags.issuperset(unknown):
        sess.unknown_tags.update(unknown)
        log.warning("session=%s event=unknown-tags msg_type=%s tags=%s", sess.config.name, type(model).__name__,
                    ",".join(map(str, unknown)))
    if getattr(model, "anomalies", None):
        sess.metrics.anomalies += len(model.anomalies)
        exec_id = getattr(model, "exec_id", None)
        for a in model.anomalies:
            log.warning("session=%s event=anomaly msg_type=%s exec_id=%s tag=%d value=%r problem=%s",
                        sess.config.name, type(model).__name__, exec_id, a.tag, a.value, a.problem)
    return model, None


def settled(sess: Any, raw: str, invalid: bool, msg_type: str | None) -> tuple[Any, str | None]:
    """The backlog's decoder: :func:`decoded`, and a bug in it becomes what the callback guard
    makes of one (named, counted, the session's last error), on whichever thread decodes."""
    try:
        return decoded(sess, raw, invalid, msg_type)
    except Exception as exc:  # noqa: BLE001 - the dispatcher or QuickFIX's thread must go on
        sess.lifecycle.note_error(f"internal error decoding a message: {type(exc).__name__}: {exc}")
        sess.metrics.callback_errors += 1
        log.error("session=%s callback=decode error=%s: %s", sess.config.name, type(exc).__name__, exc)
        return None, f"decoding failed: {type(exc).__name__}: {exc}"


class Inbound:
    """One application message from a session: ``session`` (its name), ``message`` (the model,
    None when undecodable), ``raw`` (the text as received; the recorder stores it), ``error``
    (why it could not be decoded, naming the MsgType and tag) and ``msg_type`` (read from the
    text once, when it arrived). Built decoded, or received (:meth:`Backlog.add`) and decoded
    on first read."""

    __slots__ = ("session", "raw", "msg_type", "_message", "_error", "_todo")

    def __init__(self, session: str, message: Any = None, raw: str | None = None, error: str | None = None,
                 msg_type: str | None = None):
        self.session, self.raw, self.msg_type = session, raw, msg_type
        self._message, self._error = message, error
        self._todo: tuple[Backlog, Any, bool] | None = None  # (backlog, runtime, invalid) until decoded

    @property
    def message(self) -> Any:
        if self._todo is not None:
            self._todo[0].settle(self)
        return self._message

    @property
    def error(self) -> str | None:
        if self._todo is not None:
            self._todo[0].settle(self)
        return self._error

    @property
    def decoded(self) -> bool:
        return self._todo is None

    def settle(self) -> None:
        """Decode now (and every message received before this one)."""
        if self._todo is not None:
            self._todo[0].settle(self)

    def __repr__(self) -> str:
        state = "" if self._todo is None else ", not decoded yet"
        return f"Inbound({self.session!r}, {self._message!r}, error={self._error!r}{state})"


class Backlog:
    """Received messages not decoded yet, oldest first, shared by every session of an application."""

    def __init__(self, decoder: Decoder = settled):
        self._decoder = decoder
        self._items: deque[Inbound] = deque()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, session: str, runtime: Any, raw: str, invalid: bool, msg_type: str | None = None) -> Inbound:
        """A received message, decoded later (QuickFIX's thread: one append)."""
        item = Inbound(session, raw=raw, msg_type=msg_type)
        item._todo = (self, runtime, invalid)
        self._items.append(item)
        return item

    def settle(self, upto: Inbound | None = None) -> None:
        """Decode, in arrival order, every message up to ``upto`` (all of them when None)."""
        with self._lock:
            items = self._items
            while items and (upto is None or upto._todo is not None):
                item = items.popleft()
                _, runtime, invalid = item._todo  # type: ignore[misc]
                try:
                    item._message, item._error = self._decoder(runtime, item.raw, invalid, item.msg_type)  # type: ignore[arg-type]
                except Exception as exc:  # noqa: BLE001 - the decoder reports its own failures; never stall the rest
                    item._message, item._error = None, f"decoding failed: {type(exc).__name__}: {exc}"
                item._todo = None
