"""The one guard every QuickFIX callback runs behind (adapter).

The binding's directors call ``Py_Exit(1)`` for any Python exception that is
not one of QuickFIX's own control-flow exceptions, so a bug or a bad message
in a callback would end the process. :func:`guarded` lets QuickFIX's
exceptions through and hands everything else to the application's
``callback_failed(name, args, exc)``.
"""

from __future__ import annotations

import functools
from typing import Callable

import quickfix as fix

# Exceptions QuickFIX's directors translate into C++ control flow: let them through.
PASS_THROUGH = (fix.RejectLogon, fix.DoNotSend, fix.FieldNotFound, fix.IncorrectDataFormat,
                fix.IncorrectTagValue, fix.UnsupportedMessageType)


def guarded(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(self, *args):
        try:
            return fn(self, *args)
        except PASS_THROUGH:
            raise
        except BaseException as exc:  # noqa: BLE001 - the process must survive
            self.callback_failed(fn.__name__, args, exc)
        return None

    return wrapper
