"""Shared test plumbing, re-exported from :mod:`fixgw.testing.launch` (the demo uses it too).

Everything is real: keys are generated per test run, the simulator is the
``fixgw sim`` subprocess speaking TLS on 127.0.0.1, and gateways are real
QuickFIX initiators.
"""

import time

from fixgw.testing.launch import Account, SimProcess, free_port_base, gateway_config, make_account

__all__ = ["Account", "SimProcess", "free_port_base", "gateway_config", "make_account", "wait_for", "drop_copy_sessions"]


def wait_for(predicate, timeout: float, what: str, every: float = 0.1):
    """Poll ``predicate`` until it returns something true (returned), or fail naming ``what``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def drop_copy_sessions(listener: Account, dc: Account) -> str:
    """The TOML of a recorder's two event sessions: an NR listener and KalshiDC."""
    return f"""[[session]]
name = "listener"
product = "event"
type = "NR"
listener = true
api_key_id = "{listener.api_key_id}"
private_key = "{listener.private_key}"

[[session]]
name = "dc"
product = "event"
type = "DC"
api_key_id = "{dc.api_key_id}"
private_key = "{dc.private_key}"
"""
