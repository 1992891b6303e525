"""The simulator's command channel: the control socket (:mod:`fixgw.control.server`) with simulator errors.

Tests and operators use it to ask for session status and to inject traffic
(e.g. an ExecutionReport sent to an RT session while its client is away). The
socket is served by the generic owner-only server; refusals raise
:class:`~fixgw.errors.SimulatorError` as they always did.
"""

from __future__ import annotations

from pathlib import Path

from fixgw.control import client, server
from fixgw.control.server import Handler, peer_uid
from fixgw.errors import SimulatorError

__all__ = ["Handler", "peer_uid", "request", "serve"]


def serve(path: Path, handle: Handler):
    return server.serve(path, handle, name="sim-control", tighten=True)


def request(path: Path, payload: dict, timeout: float = 10.0) -> dict:
    return client.request(path, payload, timeout, error=SimulatorError)
