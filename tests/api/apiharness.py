"""A real trading session recorded and served: simulator, `fixgw serve`, two trading gateways.

``served`` (module scope, re-exported by conftest.py) starts the simulator, a ``fixgw serve`` process for
alice (listener + KalshiDC sessions, an [api] table with one client key), a
WebSocket subscriber that connects before any trading, and then trades through
real gateways for alice and bob. Tests read what the server answers.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from fixgw.api import auth
from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import ExecutionReport
from fixgw.signing import Signer, generate_keypair
from fixgw.testing.launch import SimProcess
from harness import gateway_config, make_account, wait_for, drop_copy_sessions

ACCOUNT = "alice"
# fixgw.tls points SSL_CERT_FILE at an empty trust store in a process running QuickFIX (TLS
# pinning), which httpx would read; these clients only speak plain HTTP to 127.0.0.1.
http = httpx.Client(trust_env=False)
ENV = dict(os.environ)  # as it was before a gateway in this process changed it, for child processes
EV, EV2, EV3 = "KXHIGHNY-26NOV21-T50", "KXHIGHNY-26NOV21-T60", "KXRAIN-26NOV21-T1"
BURST = "KXBURST-26NOV21-T50"
FILLS = 3 + 20  # three in trade(), then the burst


def serve_config(root: Path, sim, store_url: str, client_pub: Path, extra: str = "") -> Path:
    listener = make_account(root, sim.keys, "event", account=ACCOUNT)
    dc = make_account(root, sim.keys, "event", account=ACCOUNT)
    cfg = root / "serve.toml"
    cfg.write_text(f"""
environment = "local"
state_dir = "{root / 'state'}"
ca_file = "{sim.ca_file}"
reconnect_interval = 1
port_base = {{ event = {sim.ports['event']}, margin = {sim.ports['margin']} }}

[recorder]
store = "{store_url}"
account = "{ACCOUNT}"
flush_ms = 20

[api]
port = 0
keys = {{ "reader-key" = "{client_pub}" }}
{extra}
{drop_copy_sessions(listener, dc)}""")
    return cfg


class ServeProcess:
    def __init__(self, cfg: Path, log: Path):
        self.cfg, self.log = cfg, log
        self.proc = subprocess.Popen([sys.executable, "-m", "fixgw", "serve", str(cfg)],
                                     stdout=subprocess.DEVNULL, stderr=open(log, "ab"))
        found = wait_for(lambda: re.search(r"listening on http://([0-9.]+):([0-9]+)", self.output())
                         or self.proc.poll() is not None, 30, "fixgw serve to listen")
        assert self.proc.poll() is None, self.output()
        self.base = f"http://{found.group(1)}:{found.group(2)}"
        wait_for(lambda: "recording from the live stream" in self.output() or "backfill event: from"
                 in self.output(), 30, "the recorder to log on")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(30)


@dataclass
class Client:
    base: str
    signer: Signer
    key_id: str = "reader-key"

    def headers(self, method: str, path: str) -> dict:
        return auth.headers(self.signer, self.key_id, method, path)

    def get(self, path: str, **params) -> httpx.Response:
        full = "/trade-api/v2" + path
        return http.get(self.base + full, params=params, headers=self.headers("GET", full), timeout=30)

    def ws(self):
        url = self.base.replace("http://", "ws://") + "/trade-api/ws/v2"
        return connect(url, additional_headers=self.headers("GET", "/trade-api/ws/v2"))


@dataclass
class Subscriber:
    """A WebSocket client that subscribes to the three channels and keeps every frame."""

    client: Client
    frames: list = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> "Subscriber":
        self.conn = self.client.ws().__enter__()
        self.conn.send(json.dumps({"id": 1, "cmd": "subscribe",
                                   "params": {"channels": ["fill", "user_orders", "market_positions"]}}))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        wait_for(lambda: len(self.of("subscribed")) == 3, 10, "the subscriptions to be confirmed")
        return self

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                self.frames.append((time.time(), json.loads(self.conn.recv(timeout=0.2))))
            except TimeoutError:
                continue

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.conn.close()

    def of(self, kind: str) -> list[dict]:
        return [f for _, f in self.frames if f.get("type") == kind]


def ack(handle):
    msg = handle.wait(10)
    assert isinstance(msg, ExecutionReport), msg
    return msg


def trade(alice: Gateway, bob: Gateway, sim) -> None:
    """Fills on three markets in two events, a partial fill, a cancel, a resting order, a burst."""
    A, B = "alice-event-nr", "bob-event-nr"
    ack(bob.new_order(B, EV, "sell", "0.60", 10))
    ack(alice.new_order(A, EV, "buy", "0.60", 4))  # alice takes 4
    a2 = alice.new_order(A, EV2, "buy", "0.30", 5)  # alice rests 5
    ack(a2)
    ack(bob.new_order(B, EV2, "sell", "0.30", 2))  # bob hits 2 of it: alice partially filled, maker
    ack(alice.cancel(A, a2.request.cl_ord_id))  # the other 3 canceled
    ack(alice.new_order(A, EV3, "buy", "0.10", 3))  # resting, never filled
    ack(alice.new_order(A, EV, "no", "0.45", 2))  # alice sells 2 YES into nothing: rests
    ack(bob.new_order(B, EV, "buy", "0.56", 2))  # bob takes them
    sim.cmd(cmd="burst", account=ACCOUNT, product="event", count=20, rate=200, symbol=BURST)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    sim = SimProcess(root / "sim")
    priv, pub = generate_keypair(root / "reader.pem")
    cfg = serve_config(root, sim, f"sqlite:///{root / 'dropcopy.db'}", pub)
    a_acct = make_account(root, sim.keys, "event", account=ACCOUNT)
    b_acct = make_account(root, sim.keys, "event", account="bob")
    rest_key = make_account(root, sim.keys, "event", account=ACCOUNT)  # alice's REST key, for reconcile
    sim.start()
    server = ServeProcess(cfg, root / "serve.log")
    client = Client(server.base, Signer.from_file(priv))
    sub = Subscriber(client).start()
    gws = []
    try:
        for who, acct in (("alice", a_acct), ("bob", b_acct)):
            gw = Gateway(gateway_config(root / who, sim, [dict(name=f"{who}-event-nr", product="event",
                                                              type="NR", account=acct)], tier="prime"))
            gws.append(gw.start())
        for gw in gws:
            gw.wait_logged_on(timeout=20)
        trade(gws[0], gws[1], sim)
        ledger = wait_for(lambda: (lambda x: len(x["fills"]) == FILLS and x)(
            sim.cmd(cmd="ledger", product="event", account=ACCOUNT)), 60, "the burst at the exchange")
        wait_for(lambda: len(client.get("/portfolio/fills", limit=1000).json()["fills"]) == FILLS, 60,
                 "the recorder to store every fill")
        wait_for(lambda: len(sub.of("fill")) >= FILLS, 30, "the WebSocket subscriber's fills")
        time.sleep(0.5)  # any duplicate frame would have arrived by now
        yield dict(sim=sim, server=server, client=client, sub=sub, ledger=ledger, root=root, cfg=cfg,
                   reader_priv=priv, rest_key=rest_key)
    finally:
        for gw in gws:
            gw.stop()
        sub.close()
        rc = server.stop()
        sim.stop()
    assert rc == 0, server.output()
