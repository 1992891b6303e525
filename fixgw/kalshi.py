"""What Kalshi fixes about a FIX session (pure core): products, session types, hosts, ports.

A session's TargetCompID, port, reset rule and what it may do follow from its ``product`` and
``type`` through these tables, so a config cannot ask for a session Kalshi would refuse
(:mod:`fixgw.config` validates against them, ``fixgw check`` explains them).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Product(StrEnum):
    EVENT = "event"
    MARGIN = "margin"


class Kind(StrEnum):
    NR = "NR"
    RT = "RT"
    DC = "DC"


class Rules(BaseModel):
    """What Kalshi requires of one session type."""

    model_config = ConfigDict(frozen=True)
    target: str
    port_offset: int  # from 8228
    reset_on_logon: bool  # 141=Y on every Logon
    retransmission: bool  # ResendRequest/SequenceReset supported
    listener_allowed: bool
    order_entry: bool


RULES: dict[Kind, Rules] = {
    Kind.NR: Rules(target="KalshiNR", port_offset=0, reset_on_logon=True, retransmission=False,
                   listener_allowed=True, order_entry=True),
    Kind.DC: Rules(target="KalshiDC", port_offset=1, reset_on_logon=True, retransmission=False,
                   listener_allowed=False, order_entry=False),
    Kind.RT: Rules(target="KalshiRT", port_offset=2, reset_on_logon=False, retransmission=True,
                   listener_allowed=True, order_entry=True),
}


BASE_PORT = 8228
# Order-entry hosts (drop copy shares them). "local" is the bundled simulator.
HOSTS: dict[tuple[str, Product], str] = {
    ("prod", Product.EVENT): "mm.fix.elections.kalshi.com",
    ("demo", Product.EVENT): "fix.demo.kalshi.co",
    ("prod", Product.MARGIN): "margin-mm.fix.elections.kalshi.com",
    ("demo", Product.MARGIN): "margin-fix.demo.kalshi.co",
    ("local", Product.EVENT): "127.0.0.1",
    ("local", Product.MARGIN): "127.0.0.1",
}
# QuickFIX's acceptor binds every interface, so on one machine the simulator's
# margin gateway needs its own ports: it listens 1000 above the event ones.
LOCAL_MARGIN_PORT_BASE = BASE_PORT + 1000

# Kalshi's weekly maintenance: Thursday 03:00-05:00 ET. Logged on from Thursday 05:00 to the
# next Thursday 03:00 (QuickFIX: LogonDay/LogonTime .. LogoutDay/LogoutTime).
MAINTENANCE_ZONE = "America/New_York"
MAINTENANCE_SCHEDULE = ("thursday", "05:00:00", "thursday", "03:00:00")


def endpoint(environment: str, product: Product, kind: Kind, port_base: dict | None = None) -> tuple[str, int]:
    """Kalshi's (or the simulator's) host and port for a session type, before a config's own
    ``host``/``port`` override them; ``port_base`` maps a product to its NR port."""
    default = LOCAL_MARGIN_PORT_BASE if (environment == "local" and product is Product.MARGIN) else BASE_PORT
    return HOSTS[(environment, product)], (port_base or {}).get(product, default) + RULES[kind].port_offset
