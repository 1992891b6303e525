"""Session lifecycle as a transition table (pure core).

QuickFIX owns the FIX session state machine; this table only tracks what an
operator needs to see — where each session is in its life and why it last
failed — from the callbacks QuickFIX gives us. A :class:`Trigger` that the table does not
list leaves the state unchanged (QuickFIX can, e.g., report a disconnect for a
socket that never got as far as a Logon).

Errors: ``last_error`` (with ``last_error_at``) is the newest error and survives a
reconnect, so after a Logon an operator still sees why the session dropped;
``errors`` keeps the last :data:`HISTORY` with their times (a repeat of the newest
only counts up). ``open_error`` is the error of the current attempt: cleared by a
successful Logon, it is what waiting for a Logon fails on.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum


class State(StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    LOGGING_ON = "logging-on"
    LOGGED_ON = "logged-on"
    LOGGING_OUT = "logging-out"
    DISCONNECTED = "disconnected"


class Trigger(StrEnum):
    """What happened to a session, as QuickFIX's callbacks and the gateway tell it: the table's input."""

    START = "start"
    LOGON_SENT = "logon-sent"
    LOGON_OK = "logon-ok"
    LOGOUT_SENT = "logout-sent"
    DISCONNECTED = "disconnected"
    STOP = "stop"


HISTORY = 20  # errors kept per session
S, E = State, Trigger
TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (S.STOPPED, E.START): S.CONNECTING,
    (S.DISCONNECTED, E.START): S.CONNECTING,
    (S.CONNECTING, E.LOGON_SENT): S.LOGGING_ON,
    (S.DISCONNECTED, E.LOGON_SENT): S.LOGGING_ON,
    (S.LOGGING_ON, E.LOGON_OK): S.LOGGED_ON,
    (S.LOGGING_ON, E.DISCONNECTED): S.DISCONNECTED,
    (S.LOGGED_ON, E.LOGOUT_SENT): S.LOGGING_OUT,
    (S.LOGGED_ON, E.DISCONNECTED): S.DISCONNECTED,
    (S.LOGGING_OUT, E.DISCONNECTED): S.DISCONNECTED,
    (S.LOGGING_OUT, E.LOGON_SENT): S.LOGGING_ON,
    **{(s, E.STOP): S.STOPPED for s in State},
}


@dataclass
class Lifecycle:
    """Thread-safe current state of one session plus its last error."""

    name: str
    state: State = State.STOPPED
    since: float = field(default_factory=time.time)
    connected_since: float | None = None
    last_error: str | None = None
    last_error_at: float | None = None
    open_error: str | None = None  # this attempt's error; a Logon clears it
    logons: int = 0
    errors: deque = field(default_factory=lambda: deque(maxlen=HISTORY))  # {"at", "error", "count"}
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def fire(self, event: Trigger, error: str | None = None) -> State:
        with self._cond:
            new = TRANSITIONS.get((self.state, event), self.state)
            if error:
                self._note(error)
            if new is not self.state:
                self.state, self.since = new, time.time()
                if new is State.LOGGED_ON:
                    self.logons += 1
                    self.connected_since = self.since
                    self.open_error = None
                elif new is not State.LOGGING_OUT:
                    self.connected_since = None
            self._cond.notify_all()
            return new

    def note_error(self, error: str, *, attempt: bool = True) -> None:
        """Record an error; ``attempt=False`` for one that must not fail a wait for the next Logon
        (a connection lost while logged on: QuickFIX reconnects)."""
        with self._cond:
            self._note(error, attempt)
            self._cond.notify_all()

    def _note(self, error: str, attempt: bool = True) -> None:
        now = time.time()
        self.last_error = error
        if attempt:
            self.open_error = error
        self.last_error_at = now
        if self.errors and self.errors[-1]["error"] == error:
            self.errors[-1] = {**self.errors[-1], "at": now, "count": self.errors[-1]["count"] + 1}
        else:
            self.errors.append({"at": now, "error": error, "count": 1})

    def history(self) -> list[dict]:
        """The last errors, oldest first: ``{"at": epoch seconds, "error": text, "count": repeats}``."""
        with self._cond:
            return list(self.errors)

    def wait(self, predicate, timeout: float) -> bool:
        """Block until ``predicate(self)`` holds; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)
