"""fixgw: a QuickFIX gateway adapter for the Kalshi exchange.

The folders are the layers: the pure core (the flat top level, ``fix/`` the FIX
codec, ``models/``) never imports ``quickfix``; ``adapter/`` drives QuickFIX;
``recorder/``, ``api/``, ``control/``, ``sim/``, ``testing/`` and ``cli/`` build
on them, in that order. ``tests/test_layers.py`` keeps imports pointing core-ward.

The public API is ``__all__``: ``from fixgw import Gateway, load`` and the
names below. They are imported on first use, not here, so ``import fixgw.config``
(or any other core module) still does not import quickfix.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_API = {
    # configure and run
    "load": "fixgw.config", "parse": "fixgw.config", "GatewayConfig": "fixgw.config",
    "SessionConfig": "fixgw.config", "Gateway": "fixgw.adapter.gateway", "SessionStatus": "fixgw.adapter.gateway",
    "Ack": "fixgw.orders", "Event": "fixgw.models.event",
    # FIX messages a caller receives
    "ExecutionReport": "fixgw.models.fix", "OrderCancelReject": "fixgw.models.fix",
    "BusinessMessageReject": "fixgw.models.fix", "SessionReject": "fixgw.models.fix",
    "OrderMassCancelReport": "fixgw.models.fix", "OrderGroupResponse": "fixgw.models.fix",
    "MarketSettlementReport": "fixgw.models.fix", "ExecType": "fixgw.models.fix", "OrdStatus": "fixgw.models.fix",
    # Kalshi REST and WebSocket shapes
    "Fill": "fixgw.models.rest", "Order": "fixgw.models.rest", "MarketPosition": "fixgw.models.rest",
    "EventPosition": "fixgw.models.rest", "Settlement": "fixgw.models.rest", "MarginFill": "fixgw.models.rest",
    "MarginPosition": "fixgw.models.rest", "MarginOrder": "fixgw.models.rest",
    "MarketPositionUpdate": "fixgw.models.rest",
    # errors (the tree is in fixgw.errors)
    "FixgwError": "fixgw.errors", "ConfigError": "fixgw.errors", "KeyFileError": "fixgw.errors",
    "DecodeError": "fixgw.errors", "OrderError": "fixgw.errors", "SessionError": "fixgw.errors",
    "LogonError": "fixgw.errors", "RateLimited": "fixgw.ratelimit",
}

__all__ = sorted(_API)


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'fixgw' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
