"""The other end of the control socket: one request, one answer (:mod:`fixgw.control.server`).

``fixgw status``, ``logon``, ``order`` ... and the simulator's tests send one JSON object and
read one line back; a refusal becomes ``error`` (:class:`~fixgw.errors.ControlError` unless the
caller names another) with the server's reason, and an absent or dead process is named as such.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import time
from pathlib import Path

from fixgw.config import read
from fixgw.control.server import SOCKET_NAME
from fixgw.errors import ControlError


def socket_for(config_path: str | os.PathLike) -> Path:
    """``<state_dir>/control.sock`` of a gateway config, read without validating the rest
    (an operator asking for status need not have the sessions' key-id variables set)."""
    p = Path(config_path)
    data = read(p)
    state = Path(str(data.get("state_dir", "var/fixgw"))).expanduser()
    return p.resolve().parent / state / SOCKET_NAME


def _connect(s: socket.socket, path: Path, deadline: float) -> None:
    """connect(), waiting while the server's listen queue is full (a socket with a timeout gets
    EAGAIN there at once, where a blocking one would wait)."""
    while True:
        try:
            s.connect(str(path))
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise socket.timeout from None
            time.sleep(0.005)


def request(path: Path, payload: dict, timeout: float = 10.0, *, error: type[Exception] = ControlError) -> dict:
    """Send one command and return the answer without ``ok``; raise ``error`` on a refusal."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            _connect(s, path, time.monotonic() + timeout)
            try:
                s.sendall(json.dumps(payload).encode() + b"\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # a refusing server answers and hangs up before reading: its answer is still there
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
    except FileNotFoundError:
        raise error(f"no control socket at {path}: is the process running (and is this its state_dir)?") from None
    except ConnectionRefusedError:
        raise error(f"nothing is listening on {path}: the process that made it has exited") from None
    except PermissionError:
        raise error(f"permission denied on {path}: only the user running the process may drive it") from None
    except socket.timeout:
        raise error(f"no answer from {path} within {timeout:.0f} s") from None
    except OSError as e:
        if e.errno == errno.ENOTSOCK:
            raise error(f"{path} is not a socket") from None
        raise error(f"{path}: {e.strerror or e}") from None
    if not buf:
        raise error(f"{path} closed the connection without answering")
    answer = json.loads(buf)
    if not answer.pop("ok", False):
        raise error(answer.get("error", "the command was refused"))
    return answer
