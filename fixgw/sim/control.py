"""The simulator's command channel: JSON lines over an owner-only Unix socket.

Tests and operators use it to ask for session status and to inject traffic
(e.g. an ExecutionReport sent to an RT session while its client is away).
One request per line, one JSON answer per line: ``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import threading
from pathlib import Path
from typing import Callable

from fixgw.errors import FixgwError, SimulatorError

Handler = Callable[[dict], dict]


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def serve(path: Path, handle: Handler) -> socketserver.UnixStreamServer:
    if path.exists():
        path.unlink()

    class _Conn(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            for line in self.rfile:
                try:
                    answer = {"ok": True, **handle(json.loads(line))}
                except (FixgwError, ValueError, KeyError, TypeError) as e:
                    answer = {"ok": False, "error": f"{type(e).__name__}: {e}"}
                self.wfile.write(json.dumps(answer).encode() + b"\n")

    old = os.umask(0o177)
    try:
        server = _Server(str(path), _Conn)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    threading.Thread(target=server.serve_forever, name="sim-control", daemon=True).start()
    return server


def request(path: Path, payload: dict, timeout: float = 10.0) -> dict:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(json.dumps(payload).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    answer = json.loads(buf)
    if not answer.pop("ok", False):
        raise SimulatorError(answer.get("error", "simulator refused the command"))
    return answer
