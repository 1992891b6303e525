"""The API server over a recorder (``fixgw serve``, and ``fixgw run`` with an ``[api]`` table).

The recorder writes through its own store connection; the server runs in a process
of its own (:mod:`fixgw.api.worker`) that follows the store, so neither the REST
reads nor the WebSocket fan-out share the recorder's interpreter. After each durable
batch the recorder's writer rings the server's bell (one datagram, never waits).
On SIGTERM/SIGINT the server stops first, then the recorder, then the stores close.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading

import click

from fixgw.api import app as appmod
from fixgw.api.auth import Verifier
from fixgw.api.worker import Worker
from fixgw.config import ApiConfig, GatewayConfig
from fixgw.errors import ConfigError


def listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound. TCP by name and with TCP_NODELAY, which every accepted connection
    inherits: asyncio turns Nagle off only on sockets whose proto is IPPROTO_TCP (a plain
    ``socket.socket()`` has 0), and with it on, each response (uvicorn writes its head, then its
    body) waited for the client's delayed ACK, about 40 ms on Linux, before the body left."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class Api:
    """Kalshi's REST + WebSocket paths and /metrics for one recorder, on ``[api] host:port``.

    Construct before the recorder starts (the bell must be on its ``on_stored`` list from the
    first batch); ``gateways`` are other gateways whose sessions /metrics should show too.
    """

    def __init__(self, config: GatewayConfig, url: str, recorder, gateways=(), port: int | None = None):
        from prometheus_client import generate_latest

        from fixgw.api.scrape import registry

        api = config.api or ApiConfig()
        if not api.keys:
            raise ConfigError("[api] keys: list at least one KALSHI-ACCESS-KEY id and its public key "
                              "(keys = { \"<key id>\" = \"path/to/key.pub.pem\" }); every request is signed")
        Verifier.from_files(api.keys, api.max_skew_s)  # a key that cannot be read is said here, before the start
        want = api.port if port is None else port
        try:
            sock = listen(api.host, want)  # the server process serves on it; bound here, so a taken port fails here
        except OSError as e:
            raise ConfigError(f"[api] cannot listen on {api.host}:{want}: {e.strerror}") from None
        self.host, self.port = sock.getsockname()[:2]
        metrics = registry(recorder, None, gateways)
        self.worker = Worker(dict(
            url=url, account=config.recorder.account, user_id=config.user_id, party_id=config.party_id,
            starting_balance=None if config.starting_balance is None else str(config.starting_balance),
            profile=api.profile or config.profile, keys={k: str(p) for k, p in api.keys.items()},
            max_skew_s=api.max_skew_s, ws_buffer=api.ws_buffer, nice=api.nice), sock, lambda: generate_latest(metrics))
        bell = self.worker.bell
        recorder.on_stored.append(lambda _batch: bell.ring())

    def describe(self) -> str:
        base = f"{self.host}:{self.port}"
        return (f"listening on http://{base}/trade-api/v2 and ws://{base}{appmod.WS_PATH}, "
                f"ws://{base}{appmod.MARGIN_WS_PATH} (margin), metrics at http://{base}/metrics "
                f"(server process {self.worker.pid})")

    def start(self) -> "Api":
        self.worker.start()
        return self

    @property
    def alive(self) -> bool:
        return self.worker.alive

    def death(self) -> str:
        """What to say when the server process is gone: where it served, its pid and exit status."""
        return (f"the API server process on {self.host}:{self.port} (pid {self.worker.pid}) exited with status "
                f"{self.worker.proc.poll()}")

    def stop(self) -> None:
        self.worker.stop()


def run(config: GatewayConfig, url: str, port: int | None = None) -> int:
    from fixgw import lock
    from fixgw.recorder.service import Recorder
    from fixgw.recorder.store import open_store

    rc = config.recorder
    held = lock.acquire(config.state_dir)  # one process per state directory, before any connection
    writer = open_store(url)
    stop = threading.Event()
    recorder = Recorder.from_config(config, writer, on_failure=lambda _: stop.set())
    api = Api(config, url, recorder, port=port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    recorder.start()  # first: the server process reads what is already stored before it serves
    try:
        api.start()
    except BaseException:
        recorder.stop()
        writer.close()
        lock.release(held)
        raise
    click.echo(f"fixgw serve: account {rc.account} -> {url.split('?')[0]}; {api.describe()}", err=True)
    died = None
    try:
        while not stop.wait(0.5):
            if not api.alive and not stop.wait(1.0):  # a SIGTERM to the process group stops both
                died = api.death()
                break
    finally:
        api.stop()
        durable = recorder.stop()
        writer.close()
        lock.release(held)
    if died or recorder.failure is not None or not durable:
        reason = died or recorder.failure or "the store did not make the last reports durable in time"
        click.echo(f"fixgw serve: failed: {reason}; {recorder.stored} reports stored this run", err=True)
        return 1
    click.echo(f"fixgw serve: stopped; {recorder.stored} reports stored this run", err=True)
    return 0


@click.command(help="Record the drop copy of CONFIG and serve it as Kalshi's REST (/trade-api/v2), "
                    "WebSocket (/trade-api/ws/v2) and Prometheus /metrics, until SIGTERM/SIGINT.")
@click.argument("config_path", type=click.Path(exists=True, dir_okay=False))
@click.option("--store", help="Override [recorder] store (sqlite:///path or postgresql://...).")
@click.option("--port", type=int, help="Override [api] port (0: any free port).")
def serve(config_path: str, store: str | None, port: int | None) -> None:
    from fixgw.config import load
    from fixgw.recorder.commands import store_url

    config = load(config_path)
    sys.exit(run(config, store_url(config, store), port))
