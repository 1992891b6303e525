"""Click commands of the local API: ``fixgw serve`` and ``fixgw reconcile``."""

from __future__ import annotations

from fixgw.api.serve import serve

COMMANDS = [serve]
