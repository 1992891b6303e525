"""Acceptance: `fixgw serve` answers balance, settlements, the FCM family and the margin family.

Real `fixgw serve` processes (tests/api/books.py) read over 127.0.0.1 with httpx; the oracles are the
trading gateways (the same core code fed by the order-entry sessions) and the simulator's ledger.
The FCM member's server runs the seed profile ([api] profile = "seed"), carol's the default one.
"""

from __future__ import annotations

import json

import jsonschema

from fixgw.models.rest import MarginFill, MarginOrder, MarginPosition
from books import EV, EV2, MG, START, SUBS
from seed_schemas import fcm_positions_schema, positions_validator


def as_json(models) -> list:
    return [json.loads(m.model_dump_json()) for m in models]


def ok(r) -> dict:
    assert r.status_code == 200, r.text
    return r.json()


def walk(client, path: str, key: str, size: int, **params) -> tuple[list, int]:
    rows, cursor, pages = [], None, 0
    while True:
        body = ok(client.get(path, limit=size, **params, **({"cursor": cursor} if cursor else {})))
        assert len(body[key]) <= size
        rows += body[key]
        pages += 1
        cursor = body.get("cursor", "")
        if not cursor:
            return rows, pages


def refused(r, name: str) -> None:
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_parameters" and name in err["message"], err


def test_fcm_positions_in_the_seed_profile_equal_the_gateway_and_validate(books):
    client, gw = books["clients"]["fcm"], books["gws"]["fcm"]
    schema = fcm_positions_schema()
    for who in SUBS:
        for status in ("unsettled", "settled", "all"):
            body = ok(client.get("/fcm/positions", subtrader_id=who, settlement_status=status))
            assert body == gw.positions_json(subtrader_id=who, profile="seed", settlement_status=status), (who, status)
            jsonschema.validate(body, schema)
        assert ok(client.get("/fcm/positions", subtrader_id=who, ticker=EV2, settlement_status="all")) == \
            gw.positions_json(subtrader_id=who, profile="seed", ticker=EV2, settlement_status="all")
    A = SUBS[0]
    rows, pages = walk(client, "/fcm/positions", "market_positions", 1, subtrader_id=A, settlement_status="all")
    assert [r["ticker"] for r in rows] == [EV, EV2] and pages == 2
    # the member's own book (GET /portfolio/positions) is empty, and valid against seed 001
    own = ok(client.get("/portfolio/positions"))
    assert own == {"cursor": "", "market_positions": [], "event_positions": []}
    assert not list(positions_validator().iter_errors(own))
    assert ok(client.get("/portfolio/fills"))["fills"] == []  # the sub-traders' fills are not the member's
    refused(client.get("/fcm/positions"), "subtrader_id")
    refused(client.get("/fcm/positions", subtrader_id=A, count_filter="volume"), "count_filter")


def test_fcm_orders_and_fills_equal_the_gateway(books):
    client, gw = books["clients"]["fcm"], books["gws"]["fcm"]
    for who in SUBS:
        orders = ok(client.get("/fcm/orders", subtrader_id=who, limit=1000))["orders"]
        theirs = as_json(gw.fcm_orders(who))
        assert len(orders) == len(theirs)
        for a, b in zip(orders, theirs):
            assert a == b, {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        for status in ("resting", "canceled", "executed"):
            assert ok(client.get("/fcm/orders", subtrader_id=who, status=status))["orders"] == \
                as_json(gw.fcm_orders(who, status))
        assert walk(client, "/fcm/orders", "orders", 1, subtrader_id=who)[0] == orders
    refused(client.get("/fcm/orders"), "subtrader_id")
    fills = ok(client.get("/fcm/fills", limit=1000))["fills"]
    assert fills == as_json(gw.fcm_fills()) and len(fills) == 3
    rows, pages = walk(client, "/fcm/fills", "fills", 2)
    assert rows == fills and pages == 2
    C = SUBS[2]
    assert ok(client.get("/fcm/fills", subtrader_id=C))["fills"] == \
        [f for f in fills if C in (f.get("maker_subtrader_id"), f.get("taker_subtrader_id"))]
    assert ok(client.get("/fcm/fills", ticker=EV2))["fills"] == [f for f in fills if f["ticker"] == EV2]


def test_settlements_and_balance_equal_the_exchange(books):
    client, gw, sim = books["clients"]["carol"], books["gws"]["carol"], books["sim"]
    ledger = sim.cmd(cmd="ledger", product="event", account="carol", start=START)
    body = ok(client.get("/portfolio/settlements"))
    assert body["cursor"] == "" and len(body["settlements"]) == 1
    (ours,) = body["settlements"]
    (theirs,) = ledger["settlements"]
    assert {k: v for k, v in ours.items() if k != "settled_time"} == \
        {k: v for k, v in theirs.items() if k != "settled_time"}
    assert ours["ticker"] == EV and ours["revenue"] == 300
    assert ok(client.get("/portfolio/settlements", ticker=EV2))["settlements"] == []
    assert ok(client.get("/portfolio/settlements", event_ticker="KXHIGHNY-26NOV21"))["settlements"] == [ours]
    assert ok(client.get("/portfolio/balance")) == ledger["balance"] == json.loads(gw.balance().model_dump_json())
    # default profile: settled and open positions as the gateway has them
    for status in ("unsettled", "settled", "all"):
        assert ok(client.get("/portfolio/positions", settlement_status=status)) == \
            gw.positions_json(profile="default", settlement_status=status)
    refused(client.get("/portfolio/settlements", limit=5000), "limit")


def test_margin_fills_orders_and_positions_equal_the_exchange(books):
    client, sim = books["clients"]["carol"], books["sim"]
    ledger = sim.cmd(cmd="ledger", product="margin", account="carol")
    fills = ok(client.get("/margin/fills", limit=1000))["fills"]
    assert fills == as_json(MarginFill.model_validate(f) for f in ledger["fills"]) and len(fills) == 2
    assert walk(client, "/margin/fills", "fills", 1)[0] == fills
    assert ok(client.get("/margin/fills", order_id=fills[0]["order_id"]))["fills"] == fills[:1]
    orders = ok(client.get("/margin/orders", limit=1000))["orders"]
    assert orders == as_json(MarginOrder.model_validate(o) for o in ledger["orders"])
    assert {o["last_update_reason"] for o in orders} >= {"Trade", "MarginCancel"}
    rows, pages = walk(client, "/margin/orders", "orders", 2)
    assert rows == orders and pages == -(-len(orders) // 2)
    resting = ok(client.get("/margin/orders", status="resting"))["orders"]
    assert [o["price"] for o in resting] == ["95.0000"]
    one = ok(client.get(f"/margin/orders/{orders[0]['order_id']}"))
    assert one == {"order": orders[0]}
    assert client.get("/margin/orders/none").status_code == 404
    body = ok(client.get("/margin/positions"))
    assert body == {"positions": as_json(MarginPosition.model_validate(p)
                                         for p in ledger["positions"]["positions"])}
    assert [p["position"] for p in body["positions"]] == ["-1.00"]
    assert ok(client.get("/margin/positions", ticker="ETH-PERP")) == {"positions": []}
    assert ok(client.get("/margin/positions", subaccount=2)) == {"positions": []}


def test_margin_websocket_sees_each_fill_and_order_change_once(books):
    sim, margin, event = books["sim"], books["subs"]["margin"], books["subs"]["event"]
    ledger = sim.cmd(cmd="ledger", product="margin", account="carol")
    fills = margin.of("fill")
    assert [f["msg"]["trade_id"] for f in fills] == [f["fill_id"] for f in ledger["fills"]]
    assert [(f["msg"]["side"], f["msg"]["count"], f["msg"]["price"], f["msg"]["post_position"]) for f in fills] == \
        [("bid", "2.00", "101.5000", "2.00"), ("ask", "3.00", "102.0000", "-1.00")]
    for kind in ("fill", "user_order"):
        frames = margin.of(kind)
        assert len({f["sid"] for f in frames}) == 1, kind
        assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1)), kind
    last = {}
    for f in margin.of("user_order"):
        last[f["msg"]["order_id"]] = f["msg"]
    orders = {o["order_id"]: o for o in ledger["orders"]}
    assert set(last) == set(orders)
    for oid, msg in last.items():
        assert (msg["fill_count"], msg["remaining_count"], msg["price"], msg["user_id"]) == \
            (orders[oid]["fill_count"], orders[oid]["remaining_count"], orders[oid]["price"], ledger["user_id"]), oid
    # the event-contract connection saw carol's event fills only; the margin one no event fill
    assert {f["msg"]["market_ticker"] for f in event.of("fill")} == {EV, EV2}
    assert MG not in {f["msg"]["market_ticker"] for f in event.of("fill")}
    client = books["clients"]["carol"]
    path = "/trade-api/ws/v2/margin"
    from websockets.sync.client import connect
    url = client.base.replace("http://", "ws://") + path
    with connect(url, additional_headers=client.headers("GET", path)) as ws:  # no market_positions on margin
        ws.send(json.dumps({"id": 7, "cmd": "subscribe", "params": {"channels": ["market_positions"]}}))
        assert json.loads(ws.recv(timeout=5))["msg"]["code"] == 8


def test_reconcile_an_fcm_member_per_subtrader_and_its_balance(books):
    """Clean books exit 0; a sub-trader's trade report removed from a copy of the store, and a wrong starting
    balance, are each named."""
    import sqlite3
    import subprocess
    import sys

    from apiharness import ENV

    root, sim, key = books["root"], books["sim"], books["rest_key"]
    base = (root / "fcm.toml").read_text().replace('[recorder]', 'starting_balance = "0"\n[recorder]', 1)

    def run(start: str, store=None) -> subprocess.CompletedProcess:
        cfg = root / f"reconcile-{start}.toml"
        cfg.write_text(base.replace('starting_balance = "0"', f'starting_balance = "{start}"') + f"""
[rest]
base_url = "{sim.rest_url}"
api_key_id = "{key.api_key_id}"
private_key = "{key.private_key}"
subtraders = {SUBS!r}
""".replace("'", '"'))
        extra = ["--store", f"sqlite:///{store}"] if store else []
        return subprocess.run([sys.executable, "-m", "fixgw", "reconcile", str(cfg), *extra], capture_output=True,
                              text=True, timeout=120, env=ENV)

    clean = run("0")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "BREAK" not in clean.stdout and "(3 sub-traders)" in clean.stdout, clean.stdout
    assert clean.stdout.strip().endswith("0 breaks")
    C = SUBS[2]
    broken = root / "fcm-broken.db"
    with sqlite3.connect(root / "fcm.db") as src, sqlite3.connect(broken) as dst:
        src.backup(dst)
    with sqlite3.connect(broken) as db:  # C's one fill (bought 4 of EV2 from A)
        gone = db.execute("DELETE FROM reports WHERE symbol = ? AND raw LIKE ? AND raw LIKE ?",
                          (EV2, "%\x01150=F\x01%", f"%\x01448={C}\x01%")).rowcount
        db.execute("DELETE FROM kept")  # they may already hold that fill (as in test_reconcile.py)
    assert gone == 1
    out = run("5.00", broken)
    assert out.returncode == 1, out.stdout + out.stderr
    breaks = [line for line in out.stdout.splitlines() if line.startswith("BREAK")]
    assert breaks == [f"BREAK position {EV2}: sub-trader {C}: only Kalshi has it (position 4.00)",
                      "BREAK balance -: recorder 5.0000 / Kalshi 0.0000 (cents 500 / 0)"], out.stdout
