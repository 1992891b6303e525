"""Session lifecycle as a transition table (pure core).

QuickFIX owns the FIX session state machine; this table only tracks what an
operator needs to see — where each session is in its life and why it last
failed — from the callbacks QuickFIX gives us. An event that the table does not
list leaves the state unchanged (QuickFIX can, e.g., report a disconnect for a
socket that never got as far as a Logon).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from enum import StrEnum


class State(StrEnum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    LOGGING_ON = "logging-on"
    LOGGED_ON = "logged-on"
    LOGGING_OUT = "logging-out"
    DISCONNECTED = "disconnected"


class Event(StrEnum):
    START = "start"
    LOGON_SENT = "logon-sent"
    LOGON_OK = "logon-ok"
    LOGOUT_SENT = "logout-sent"
    DISCONNECTED = "disconnected"
    STOP = "stop"


S, E = State, Event
TRANSITIONS: dict[tuple[State, Event], State] = {
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
    logons: int = 0
    _cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def fire(self, event: Event, error: str | None = None) -> State:
        with self._cond:
            new = TRANSITIONS.get((self.state, event), self.state)
            if error:
                self.last_error = error
            if new is not self.state:
                self.state, self.since = new, time.time()
                if new is State.LOGGED_ON:
                    self.logons += 1
                    self.connected_since = self.since
                    self.last_error = None
                elif new is not State.LOGGING_OUT:
                    self.connected_since = None
            self._cond.notify_all()
            return new

    def note_error(self, error: str) -> None:
        with self._cond:
            self.last_error = error
            self._cond.notify_all()

    def wait(self, predicate, timeout: float) -> bool:
        """Block until ``predicate(self)`` holds; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)
