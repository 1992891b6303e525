"""The API server over a recorder (``fixgw serve``, and ``fixgw run`` with an ``[api]`` table).

The recorder writes through its own store connection and tells the WebSocket
hub about every durable batch; REST reads go through a second connection, so
a slow reader never holds the writer. uvicorn serves from a thread; on
SIGTERM/SIGINT it finishes, then the recorder stops and the stores close.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading

import click

from fixgw.api import app as appmod
from fixgw.api.auth import Verifier
from fixgw.api.rest import Source
from fixgw.api.scrape import registry
from fixgw.api.stream import Hub
from fixgw.config import ApiConfig, GatewayConfig
from fixgw.errors import ConfigError, FixgwError


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

    Construct before the recorder starts (the hub must be on its ``on_stored`` list from the
    first batch); ``gateways`` are other gateways whose sessions /metrics should show too.
    """

    def __init__(self, config: GatewayConfig, url: str, recorder, gateways=(), port: int | None = None):
        import uvicorn

        from fixgw.recorder.store import open_store

        api = config.api or ApiConfig()
        if not api.keys:
            raise ConfigError("[api] keys: list at least one KALSHI-ACCESS-KEY id and its public key "
                              "(keys = { \"<key id>\" = \"path/to/key.pub.pem\" }); every request is signed")
        verifier = Verifier.from_files(api.keys, api.max_skew_s)
        account = config.recorder.account
        self.reader = open_store(url)
        self.hub = Hub(self.reader, account, limit=api.ws_buffer, user_id=config.user_id)
        recorder.on_stored.append(self.hub.on_stored)
        source = Source(self.reader, account, profile=api.profile or config.profile, user_id=config.user_id,
                        party_id=config.party_id, starting_balance=config.starting_balance)
        application = appmod.build(source, verifier, self.hub,
                                   registry(recorder, self.hub, gateways))
        want = api.port if port is None else port
        try:
            self.sock = listen(api.host, want)
        except OSError as e:
            self.reader.close()
            raise ConfigError(f"[api] cannot listen on {api.host}:{want}: {e.strerror}") from None
        self.host, self.port = self.sock.getsockname()[:2]
        # no permessage-deflate: on 127.0.0.1 it saves nothing and compressing every frame for every
        # subscriber was most of the CPU a burst cost this process (the recorder's, bench/api.py)
        self.server = uvicorn.Server(uvicorn.Config(application, log_level="warning", ws="websockets-sansio",
                                                    lifespan="off", ws_per_message_deflate=False))
        # in a thread: on the main thread uvicorn re-raises SIGTERM after its own shutdown,
        # which would kill the process before the recorder has flushed
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                       name="api-http", daemon=True)

    def describe(self) -> str:
        base = f"{self.host}:{self.port}"
        return (f"listening on http://{base}/trade-api/v2 and ws://{base}{appmod.WS_PATH}, "
                f"ws://{base}{appmod.MARGIN_WS_PATH} (margin), metrics at http://{base}/metrics")

    def start(self) -> "Api":
        self.hub.start()
        self.hub.wait_primed()
        self.thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.hub.stop()
        self.reader.close()


def run(config: GatewayConfig, url: str, port: int | None = None) -> int:
    from fixgw import lock
    from fixgw.recorder.service import Recorder
    from fixgw.recorder.store import open_store

    rc = config.recorder
    held = lock.acquire(config.state_dir)  # one process per state directory, before any connection
    writer = open_store(url)
    stop = threading.Event()
    recorder = Recorder(config, writer, account=rc.account, batch=rc.batch, flush_s=rc.flush_ms / 1000,
                        page_clocks=rc.page_clocks, retry_s=rc.retry_s, on_failure=lambda _: stop.set())
    api = Api(config, url, recorder, port=port)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    api.start()
    recorder.start()
    click.echo(f"fixgw serve: account {rc.account} -> {url.split('?')[0]}; {api.describe()}", err=True)
    try:
        while not stop.wait(0.5):
            if not api.alive:
                raise FixgwError(f"fixgw serve: the HTTP server on {api.host}:{api.port} stopped by itself")
    finally:
        api.stop()
        durable = recorder.stop()
        writer.close()
        lock.release(held)
    if recorder.failure is not None or not durable:
        reason = recorder.failure or "the store did not make the last reports durable in time"
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
