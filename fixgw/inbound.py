"""One received application message, from QuickFIX's callback to the dispatcher (pure core).

QuickFIX's thread keeps its part small: it reads the message's text and queues
an :class:`Inbound` holding it. The message is decoded, with the session's
bookkeeping (order registry and acks, ack timer, unknown tags, anomalies), when
someone first reads ``message`` or ``error`` (or calls ``settle()``): QuickFIX's
thread itself for an answer a caller is waiting for (its ack resolves before
anything else is done), else the dispatcher thread or the recorder's sink. A
:class:`Backlog` makes sure that messages are decoded one at a time and in the
order they arrived, whichever thread asks: reading one decodes every earlier one
first.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

# (runtime, raw, invalid, MsgType) -> (model or None, error or None): the session's decoding and bookkeeping
Decoder = Callable[[Any, str, bool, "str | None"], tuple[Any, "str | None"]]


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

    def __init__(self, decoder: Decoder):
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
