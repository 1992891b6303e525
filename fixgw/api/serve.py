"""``fixgw serve``: record the drop copy and answer Kalshi's API from it, in one process.

The recorder writes through its own store connection and tells the WebSocket
hub about every durable batch; REST reads go through a second connection, so
a slow reader never holds the writer. uvicorn serves from a thread; on
SIGTERM/SIGINT it finishes, then the recorder stops and both stores close.
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


def run(config: GatewayConfig, url: str, port: int | None = None) -> int:
    import uvicorn

    from fixgw.recorder.service import Recorder
    from fixgw.recorder.store import open_store

    api = config.api or ApiConfig()
    if not api.keys:
        raise ConfigError("[api] keys: list at least one KALSHI-ACCESS-KEY id and its public key "
                          "(keys = { \"<key id>\" = \"path/to/key.pub.pem\" }); every request is signed")
    verifier = Verifier.from_files(api.keys, api.max_skew_s)
    rc = config.recorder
    writer, reader = open_store(url), open_store(url)
    hub = Hub(reader, rc.account, limit=api.ws_buffer)
    recorder = Recorder(config, writer, account=rc.account, batch=rc.batch, flush_s=rc.flush_ms / 1000,
                        page_clocks=rc.page_clocks, on_stored=[hub.on_stored])
    application = appmod.build(Source(reader, rc.account), verifier, hub, registry(recorder, hub))
    sock = socket.socket(socket.AF_INET6 if ":" in api.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((api.host, api.port if port is None else port))
    except OSError as e:
        raise ConfigError(f"[api] cannot listen on {api.host}:{api.port if port is None else port}: "
                          f"{e.strerror}") from None
    host, bound = sock.getsockname()[:2]
    hub.start()
    hub.wait_primed()
    recorder.start()
    click.echo(f"fixgw serve: account {rc.account} -> {url.split('?')[0]}; "
               f"listening on http://{host}:{bound}{appmod.WS_PATH.replace('/ws/v2', '/v2')} "
               f"and ws://{host}:{bound}{appmod.WS_PATH}, metrics at http://{host}:{bound}/metrics", err=True)
    server = uvicorn.Server(uvicorn.Config(application, log_level="warning", ws="websockets-sansio",
                                           lifespan="off"))
    # uvicorn in a thread: on its main thread it would re-raise SIGTERM after its own shutdown,
    # killing the process before the recorder has flushed
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="api-http", daemon=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    thread.start()
    try:
        while not stop.wait(0.5):
            if not thread.is_alive():
                raise FixgwError(f"fixgw serve: the HTTP server on {host}:{bound} stopped by itself")
        server.should_exit = True
        thread.join(10)
    finally:
        recorder.stop()
        hub.stop()
        writer.close()
        reader.close()
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
