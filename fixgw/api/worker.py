"""The API server's own process: REST, WebSocket fan-out and /metrics beside a recorder.

Why a process: with 100 WebSocket subscribers a stored report becomes ~300 frames
to encode and write, and the recorder's writer thread spent a quarter of its time
waiting for the interpreter while the server's event loop held it (bench/api.py).
Here the recording process does O(1) per durable batch — it rings a
:class:`~fixgw.api.bell.Bell` — and this process follows the store (:mod:`fixgw.api.stream`)
and serves everything else, on its own interpreter.

The recording process (:class:`Worker`) binds the listening socket (so a port that is
taken is its error, before anything starts) and starts ``python -m fixgw.api.worker``
with three descriptors: that socket, the bell's waiting end and one end of a socket
pair on which this process asks for the recorder's half of /metrics (sessions,
backlog, watermarks: state that lives in the recording process). The settings come
as one JSON line on stdin; this process answers ``{"ready": true}`` on stdout once
its hub has folded the store and the server is up, and stops when stdin closes
(the recording process stopped or died) or on SIGTERM. It ignores SIGINT: a Ctrl-C
on the terminal reaches both, and the recording process stops it in order.

Restarts. Nothing is handed over but the store, so neither side loses a report when
the other restarts: a new server folds everything stored so far (no frames: nobody
is subscribed yet), then sends each report stored after that. Subscribers of the
old server lost their connection; on reconnecting they subscribe again (``seq``
starts at 1, as Kalshi's does) and read what was stored meanwhile from the REST
paths, as with Kalshi.
"""

from __future__ import annotations

import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Callable

from fixgw.api.bell import Bell
from fixgw.errors import FixgwError

log = logging.getLogger("fixgw.api")
_LEN = 8  # bytes of the length before a metrics text


class Worker:
    """The recording process's handle on the API server process (see the module's docstring).

    ``settings``: what :func:`main` reads (store URL, account, keys, ...); ``sock``: the bound
    listening socket (closed here once the server has it); ``metrics``: this process's half of
    /metrics, asked for at each scrape. Ring :attr:`bell` after each durable batch.
    """

    def __init__(self, settings: dict, sock: socket.socket, metrics: Callable[[], bytes] | None = None):
        self.settings, self.sock, self.metrics = settings, sock, metrics
        self.bell, self._bell_end = Bell.pair()
        self._ask, self._ask_end = socket.socketpair()
        self.proc: subprocess.Popen | None = None
        self._answering = threading.Thread(target=self._answer, name="api-metrics", daemon=True)

    def start(self) -> "Worker":
        """Start the server process; return once it serves (its hub has folded the store)."""
        import fixgw

        fds = (self.sock.fileno(), self._bell_end.fileno(), self._ask_end.fileno())
        root = str(Path(fixgw.__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        self.proc = subprocess.Popen([sys.executable, "-m", "fixgw.api.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, pass_fds=fds, env=env, text=True)
        self.proc.stdin.write(json.dumps({**self.settings, "fds": fds}) + "\n")
        self.proc.stdin.flush()
        self._answering.start()
        line = self.proc.stdout.readline()
        for own in (self._bell_end, self._ask_end, self.sock):  # the server process has them now
            own.close()
        if not line:
            raise FixgwError(f"the API server process (pid {self.proc.pid}) exited with status "
                             f"{self.proc.wait()} before serving; its messages are above")
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def stop(self, timeout: float = 10.0) -> int | None:
        """Close its stdin (it stops), wait; SIGKILL after ``timeout``. Its exit status."""
        if self.proc is None:
            return None
        try:
            self.proc.stdin.close()
        except OSError:  # it is gone already
            pass
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.bell.close()
        self._ask.close()
        self._answering.join(5)
        return rc

    def _answer(self) -> None:
        """Each byte from the server process asks for this process's metrics text."""
        while True:
            try:
                if not self._ask.recv(1):
                    return
            except OSError:
                return
            try:
                body = self.metrics() if self.metrics is not None else b""
            except Exception:  # noqa: BLE001 - the scrape gets the server's half; the log says why
                log.exception("metrics of the recording process failed")
                body = b""
            try:
                self._ask.sendall(len(body).to_bytes(_LEN, "big") + body)
            except OSError:
                return


class _Asker:
    """The server process's side of the metrics socket: the recording process's text, on demand."""

    def __init__(self, sock: socket.socket):
        self.sock, self.lock = sock, threading.Lock()

    def __call__(self) -> bytes:
        with self.lock:
            self.sock.sendall(b"?")
            head = self._read(_LEN)
            return self._read(int.from_bytes(head, "big"))

    def _read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise FixgwError("the recording process closed the metrics socket")
            out += chunk
        return bytes(out)


def main() -> int:
    """``python -m fixgw.api.worker``, started by :class:`Worker` (not a user command)."""
    import uvicorn
    from prometheus_client import generate_latest

    from fixgw.api import app as appmod
    from fixgw.api.auth import Verifier
    from fixgw.api.rest import Source
    from fixgw.api.scrape import registry
    from fixgw.api.stream import Hub
    from fixgw.recorder.store import open_store

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the recording process stops this one in order
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logging.basicConfig(level=logging.WARNING, format="fixgw api: %(levelname)s %(name)s %(message)s")
    s = json.loads(sys.stdin.readline())
    os.nice(s.get("nice", 0))  # the recorder's writer goes first when both want a CPU
    listen, bell, ask = s["fds"]
    follower, reader = open_store(s["url"]), open_store(s["url"])  # a long REST read never holds the hub up
    hub = Hub(follower, s["account"], limit=s["ws_buffer"], user_id=s["user_id"], bell=Bell.from_fd(bell)).start()
    hub.wait_primed()
    balance = s.get("starting_balance")
    source = Source(reader, s["account"], profile=s["profile"], user_id=s["user_id"], party_id=s.get("party_id"),
                    starting_balance=Decimal(balance) if balance is not None else None)
    recorder_text, own = _Asker(socket.socket(fileno=ask)), registry(None, hub)
    application = appmod.build(source, Verifier.from_files({k: Path(p) for k, p in s["keys"].items()},
                                                           s["max_skew_s"]), hub,
                               metrics=lambda: recorder_text() + generate_latest(own))
    # no permessage-deflate: on 127.0.0.1 it saves nothing and compressing every frame for every
    # subscriber was most of the CPU a burst cost (bench/api.py)
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", ws="websockets-sansio",
                                           lifespan="off", ws_per_message_deflate=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [socket.socket(fileno=listen)]},
                              name="api-http", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.01)
    if thread.is_alive():
        print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    while not stop.is_set() and thread.is_alive():
        if select.select([sys.stdin], [], [], 0.5)[0] and not sys.stdin.readline():
            break  # the recording process closed stdin, or is gone
    died = not thread.is_alive()
    server.should_exit = True
    thread.join(10)
    hub.stop()
    follower.close()
    reader.close()
    if died:
        print("fixgw api: the HTTP server stopped by itself", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
