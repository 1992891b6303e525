"""The one guard every QuickFIX callback runs behind (adapter).

The binding's directors call ``Py_Exit(1)`` for any Python exception that is
not one of QuickFIX's own control-flow exceptions, so a bug or a bad message
in a callback would end the process. :func:`guarded` lets QuickFIX's
exceptions through and hands everything else to the application's
``callback_failed(name, args, exc)``.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from typing import Callable

import quickfix as fix

# Exceptions QuickFIX's directors translate into C++ control flow: let them through.
PASS_THROUGH = (fix.RejectLogon, fix.DoNotSend, fix.FieldNotFound, fix.IncorrectDataFormat,
                fix.IncorrectTagValue, fix.UnsupportedMessageType)


_thread = threading.local()


def pin_thread_state() -> None:
    """Keep this thread's Python thread state alive between callbacks.

    QuickFIX's own threads are not Python threads: each director call wraps
    itself in PyGILState_Ensure/Release, and when the count drops to zero
    CPython destroys the thread state, so every callback built a new one
    (with a fresh mmap'd frame stack) and threading.local values vanished.
    One unmatched Ensure keeps the count above zero for the thread's life.
    """
    if not getattr(_thread, "pinned", False):
        ctypes.pythonapi.PyGILState_Ensure()
        _thread.pinned = True


def guarded(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(self, *args):
        if not getattr(_thread, "pinned", False):
            pin_thread_state()
        try:
            return fn(self, *args)
        except PASS_THROUGH:
            raise
        except BaseException as exc:  # noqa: BLE001 - the process must survive
            self.callback_failed(fn.__name__, args, exc)
        return None

    return wrapper
