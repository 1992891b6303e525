"""QuickFIX logs that never write a Logon signature (adapter).

QuickFIX's FileLog writes every message verbatim, including RawData(96). This
log factory writes the same two files per session (messages and events) with
96 (and 554 Password, should it ever appear) replaced by ``<redacted>``, SOH
shown as ``|``, and forwards event lines to an observer so the gateway can
report connection and TLS failures that happen before any Logon.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path
from typing import Callable

import quickfix as fix

_SECRET = re.compile(r"(^|\x01|\|)(96|554)=[^\x01|]*")
Observer = Callable[[str, str], None]


def redact(text: str) -> str:
    return _SECRET.sub(r"\1\2=<redacted>", text).replace("\x01", "|")


def _stamp() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H:%M:%S.%f")


class RedactingLog(fix.Log):
    def __init__(self, directory: Path, name: str, messages: bool, observer: Observer | None):
        super().__init__()
        directory.mkdir(parents=True, exist_ok=True)
        self._name = name
        self._lock = threading.Lock()
        self._events = open(directory / f"{name}.event.log", "a", buffering=1)
        self._messages = open(directory / f"{name}.messages.log", "a", buffering=1) if messages else None
        self._observer = observer
        # The wire text QuickFIX's patch 10 puts after a newline on the line of a message that
        # failed validation (read by the observer, on the same thread, before that message's fromApp).
        self.invalid_text: str | None = None

    def _write(self, f, text: str) -> None:
        try:
            with self._lock:
                f.write(f"{_stamp()} : {redact(text)}\n")
        except Exception:  # a log must never take the engine down
            pass

    def clear(self):
        pass

    def backup(self):
        pass

    def onIncoming(self, text):
        # Called only with the messages log on (LogIncomingMessages=N otherwise, patch 10).
        if self._messages is not None:
            self._write(self._messages, "IN  " + text)

    def onOutgoing(self, text):
        if self._messages is not None:
            self._write(self._messages, "OUT " + text)

    def onEvent(self, text):
        line, newline, wire = text.partition("\n")
        self._write(self._events, f"{line}: {wire}" if newline else text)
        self.invalid_text = wire if newline else None  # the message's own text (see __init__)
        if self._observer is not None:
            try:
                self._observer(self._name, redact(line))
            except Exception:
                pass

    def close(self) -> None:
        for f in (self._events, self._messages):
            if f is not None:
                f.close()


class RedactingLogFactory(fix.LogFactory):
    """One RedactingLog per session; ``names`` maps SessionID strings to file names."""

    def __init__(self, directory: Path, names: dict[str, str], *, messages: bool = True,
                 observer: Observer | None = None):
        super().__init__()
        self._dir = Path(directory)
        self._names = names
        self._messages = messages
        self._observer = observer
        self._logs: list[RedactingLog] = []  # QuickFIX holds raw pointers: keep them alive
        self.by_name: dict[str, RedactingLog] = {}

    def create(self, *args):
        try:
            name = "global" if not args else self._names.get(args[0].toString(), _safe(args[0].toString()))
            log = RedactingLog(self._dir, name, self._messages, self._observer)
        except Exception:
            log = RedactingLog(self._dir, "fallback", False, None)
        self._logs.append(log)
        self.by_name[log._name] = log
        return log

    def destroy(self, log):
        pass


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
