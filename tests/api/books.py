"""Two recorded accounts served by `fixgw serve`: an FCM member (event contracts, seed profile) and a plain
account (event contracts with settlement reports, and margin; default profile, a starting balance).

``books`` (module scope, re-exported by conftest.py) starts the simulator and one ``fixgw serve`` per
account, then trades through real gateways: the FCM member for three sub-traders, carol on both
products, a counterparty (mm on event contracts, bob on margin); then settles a market. The trading
gateways and the simulator's ledger are the oracles.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from fixgw.adapter.gateway import Gateway
from fixgw.signing import Signer, generate_keypair
from fixgw.testing.launch import SimProcess
from fixgw.sim.ledger import Ledger as SimLedger
from websockets.sync.client import connect

from apiharness import Client, ServeProcess, Subscriber, ack, wait_for
from harness import gateway_config, make_account

EV, EV2 = "KXHIGHNY-26NOV21-T50", "KXHIGHNY-26NOV21-T60"
MG = "BTC-PERP"
SUBS = [str(uuid.uuid4()) for _ in range(3)]
START = "1000.00"


def _session(name: str, product: str, kind: str, acct, **extra) -> str:
    lines = [f'name = "{name}"', f'product = "{product}"', f'type = "{kind}"',
             f'api_key_id = "{acct.api_key_id}"', f'private_key = "{acct.private_key}"']
    lines += [f"{k} = {str(v).lower() if isinstance(v, bool) else repr(v)}" for k, v in extra.items()]
    return "[[session]]\n" + "\n".join(lines) + "\n"


def serve_config(root, sim, account: str, sessions: list[str], client_pub, top: str = "", api: str = ""):
    cfg = root / f"{account}.toml"
    cfg.write_text(f"""
environment = "local"
state_dir = "{root / account}"
ca_file = "{sim.ca_file}"
reconnect_interval = 1
port_base = {{ event = {sim.ports['event']}, margin = {sim.ports['margin']} }}
user_id = "{SimLedger.user_id(account)}"
{top}
[recorder]
store = "sqlite:///{root / account}.db"
account = "{account}"
flush_ms = 20

[api]
port = 0
keys = {{ "reader-key" = "{client_pub}" }}
{api}
""" + "\n".join(sessions))
    return cfg


class MarginSubscriber(Subscriber):
    """Subscribes to the margin WebSocket's fill and user_orders channels and keeps every frame."""

    def start(self) -> "MarginSubscriber":
        path = "/trade-api/ws/v2/margin"
        self.conn = connect(self.client.base.replace("http://", "ws://") + path,
                            additional_headers=self.client.headers("GET", path)).__enter__()
        self.conn.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["fill", "user_orders"]}}))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        wait_for(lambda: len(self.of("subscribed")) == 2, 10, "the margin subscriptions to be confirmed")
        return self


def trade(fcm: Gateway, carol: Gateway, other: Gateway, sim) -> None:
    A, B, C = SUBS
    ack(other.new_order("mm-nr", EV, "sell", "0.60", 20))
    ack(other.new_order("mm-nr", EV, "buy", "0.40", 10))
    ack(fcm.new_order("fcm-nr", EV, "buy", "0.60", 5, subtrader_id=A))  # A +5 YES
    ack(fcm.new_order("fcm-nr", EV, "no", "0.40", 3, subtrader_id=B))  # B -3
    ack(fcm.new_order("fcm-nr", EV2, "sell", "0.30", 4, subtrader_id=A))
    ack(fcm.new_order("fcm-nr", EV2, "buy", "0.30", 4, subtrader_id=C))  # A sells C YES: one FcmFill
    ack(fcm.cancel("fcm-nr", ack(fcm.new_order("fcm-nr", EV2, "buy", "0.10", 2, subtrader_id=B)).cl_ord_id))
    ack(carol.new_order("carol-nr", EV, "buy", "0.60", 3))  # carol +3 YES on EV, settled below
    ack(other.new_order("mm-nr", EV2, "sell", "0.25", 2))
    ack(carol.new_order("carol-nr", EV2, "buy", "0.25", 2))  # stays open
    ack(carol.new_order("carol-nr", EV2, "buy", "0.05", 1))  # resting
    ack(other.new_order("bob-mg", MG, "ask", "101.5000", 2))
    ack(carol.new_order("carol-mg", MG, "bid", "101.5000", 2))  # carol +2
    ack(other.new_order("bob-mg", MG, "bid", "102.0000", 3))
    ack(carol.new_order("carol-mg", MG, "ask", "102.0000", 3))  # carol +2 -> -1
    b = carol.new_order("carol-mg", MG, "bid", "90.0000", 1)
    ack(b)
    ack(carol.cancel("carol-mg", b.request.cl_ord_id))
    ack(carol.new_order("carol-mg", MG, "bid", "95.0000", 1))  # resting
    sim.cmd(cmd="settle", product="event", symbol=EV, result="yes")


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    from fixgw.recorder.store import open_store

    root = tmp_path_factory.mktemp("books")
    sim = SimProcess(root / "sim")
    priv, pub = generate_keypair(root / "reader.pem")
    acct = lambda product, who, **kw: make_account(root, sim.keys, product, account=who, **kw)  # noqa: E731
    fcm_keys = {k: acct("event", "fcm", subtraders=SUBS) for k in ("nr", "rt", "dc")}
    carol = {k: acct(p, "carol") for k, p in (("nr", "event"), ("rt", "event"), ("dc", "event"),
                                              ("mg", "margin"), ("mgl", "margin"), ("mgdc", "margin"))}
    mm, bob = acct("event", "mm"), acct("margin", "bob")
    rest_key = acct("event", "fcm", subtraders=SUBS)  # the member's REST key, for reconcile
    fcm_cfg = serve_config(root, sim, "fcm", [
        _session("listener", "event", "RT", fcm_keys["rt"], listener=True, receive_settlement_reports=True),
        _session("dc", "event", "DC", fcm_keys["dc"])], pub, api='profile = "seed"')
    carol_cfg = serve_config(root, sim, "carol", [
        _session("listener", "event", "RT", carol["rt"], listener=True, receive_settlement_reports=True),
        _session("dc", "event", "DC", carol["dc"]),
        _session("mg-listener", "margin", "NR", carol["mgl"], listener=True),
        _session("mg-dc", "margin", "DC", carol["mgdc"])], pub, top=f'starting_balance = "{START}"')
    sim.start()
    servers = {"fcm": ServeProcess(fcm_cfg, root / "fcm.log"), "carol": ServeProcess(carol_cfg, root / "carol.log")}
    signer = Signer.from_file(priv)
    clients = {k: Client(s.base, signer) for k, s in servers.items()}
    gws, subs = {}, {}
    try:
        subs = {"margin": MarginSubscriber(clients["carol"]).start(), "event": Subscriber(clients["carol"]).start()}
        gws["fcm"] = Gateway(gateway_config(root / "gw-fcm", sim, [dict(
            name="fcm-nr", product="event", type="RT", receive_settlement_reports=True, account=fcm_keys["nr"])],
            tier="prime", user_id=SimLedger.user_id("fcm")))
        gws["carol"] = Gateway(gateway_config(root / "gw-carol", sim, [
            dict(name="carol-nr", product="event", type="RT", receive_settlement_reports=True, account=carol["nr"]),
            dict(name="carol-mg", product="margin", type="NR", account=carol["mg"])],
            tier="prime", user_id=SimLedger.user_id("carol"), starting_balance=START))
        gws["other"] = Gateway(gateway_config(root / "gw-other", sim, [
            dict(name="mm-nr", product="event", type="NR", account=mm),
            dict(name="bob-mg", product="margin", type="NR", account=bob)], tier="prime"))
        for gw in gws.values():
            gw.start()
        for gw in gws.values():
            gw.wait_logged_on(timeout=30)
        trade(gws["fcm"], gws["carol"], gws["other"], sim)
        for who, products in (("fcm", ["event"]), ("carol", ["event", "margin"])):
            store = open_store(f"sqlite:///{root / who}.db")
            try:
                for product in products:
                    want = set(sim.cmd(cmd="dropcopy", account=who, product=product)["exec_ids"])
                    wait_for(lambda: store.exec_ids(who, product) == want, 60, f"{who}'s {product} reports")
                wait_for(lambda: len(store.settlements(who, "event")) == 1, 30, f"{who}'s settlement report")
            finally:
                store.close()
        time.sleep(0.3)
        yield dict(sim=sim, servers=servers, clients=clients, gws=gws, root=root, subs=subs, rest_key=rest_key)
    finally:
        for gw in gws.values():
            gw.stop()
        for sub in subs.values():
            sub.close()
        rcs = {k: s.stop() for k, s in servers.items()}
        sim.stop()
    for k, rc in rcs.items():
        assert rc == 0, servers[k].output()
