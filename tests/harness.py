"""Shared test plumbing, re-exported from :mod:`fixgw.sim.launch` (the demo uses it too).

Everything is real: keys are generated per test run, the simulator is the
``fixgw sim`` subprocess speaking TLS on 127.0.0.1, and gateways are real
QuickFIX initiators.
"""

from fixgw.sim.launch import Account, SimProcess, free_port_base, gateway_config, make_account

__all__ = ["Account", "SimProcess", "free_port_base", "gateway_config", "make_account"]
