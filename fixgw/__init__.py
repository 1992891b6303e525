"""fixgw: a QuickFIX gateway adapter for the Kalshi exchange.

The package splits into a pure core (no ``quickfix`` import: errors, signing,
certs, config, state, dictionary) and a thin adapter that drives QuickFIX
(logs, application, sessions, gateway, sim). ``tests/test_layers.py`` keeps
imports pointing core-ward.
"""

__version__ = "0.1.0"
