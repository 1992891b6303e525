"""Acceptance: `fixgw serve` answers Kalshi's REST and WebSocket API from a real recorder's store.

The simulator's ledger is the oracle for fills and positions; the server is a
real `fixgw serve` process, read over 127.0.0.1 with httpx and `websockets`.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from websockets.exceptions import InvalidStatus

from fixgw.api import auth
from fixgw.positions import event_ticker
from apiharness import http, BURST, EV, EV2, EV3, FILLS


def fills(client, **params) -> list[dict]:
    r = client.get("/portfolio/fills", limit=1000, **params)
    assert r.status_code == 200, r.text
    return r.json()["fills"]


def same_time(rows: list[dict], key: str = "created_time") -> list[dict]:
    """created_time (last_updated_ts) as an instant: the simulator prints milliseconds ("...50.310Z"), fixgw's models
    Go's RFC3339Nano ("...50.31Z"); both are Kalshi's format."""
    return [{**r, key: dt.datetime.fromisoformat(r[key])} for r in rows]


def test_fills_and_positions_equal_the_exchange_ledger(served):
    client, ledger = served["client"], served["ledger"]
    assert same_time(fills(client)) == same_time(ledger["fills"])
    r = client.get("/portfolio/positions")
    assert r.status_code == 200
    body = r.json()
    assert same_time(body["market_positions"], "last_updated_ts") == \
        same_time(ledger["positions"]["market_positions"], "last_updated_ts")
    assert body["event_positions"] == ledger["positions"]["event_positions"]
    assert body.get("cursor", "") == ""


def test_fill_filters(served):
    client = served["client"]
    all_fills = fills(client)
    assert same_time(all_fills) == same_time(served["ledger"]["fills"])
    assert fills(client, ticker=EV) == [f for f in all_fills if f["ticker"] == EV]
    assert fills(client, event_ticker="KXHIGHNY-26NOV21") == [f for f in all_fills if f["ticker"] in (EV, EV2)]
    one = all_fills[1]["order_id"]
    assert fills(client, order_id=one) == [f for f in all_fills if f["order_id"] == one]
    stamps = sorted({f["ts"] for f in all_fills})
    lo, hi = stamps[0], stamps[-1]
    assert fills(client, min_ts=hi) == [f for f in all_fills if f["ts"] >= hi]
    assert fills(client, max_ts=lo) == [f for f in all_fills if f["ts"] <= lo]
    assert fills(client, min_ts=hi + 1) == []
    assert fills(client, subaccount=0) == all_fills
    assert fills(client, subaccount=3) == []


def test_orders_and_one_order(served):
    client = served["client"]
    r = client.get("/portfolio/orders", limit=1000)
    assert r.status_code == 200
    orders = r.json()["orders"]
    by_ticker = {}
    for o in orders:
        by_ticker.setdefault(o["ticker"], []).append(o)
    assert [o["status"] for o in by_ticker[EV3]] == ["resting"]
    assert [(o["status"], o["fill_count_fp"], o["remaining_count_fp"]) for o in by_ticker[EV2]] == \
        [("canceled", "2.00", "0.00")]
    assert {o["status"] for o in by_ticker[BURST]} == {"executed"}
    for status in ("resting", "canceled", "executed"):
        got = client.get("/portfolio/orders", status=status, limit=1000).json()["orders"]
        assert got == [o for o in orders if o["status"] == status] and got
    assert client.get("/portfolio/orders", ticker=EV3).json()["orders"] == by_ticker[EV3]
    assert client.get("/portfolio/orders", event_ticker="KXRAIN-26NOV21").json()["orders"] == by_ticker[EV3]
    created = sorted(int(dt.datetime.fromisoformat(o["created_time"]).timestamp()) for o in orders)
    late = client.get("/portfolio/orders", min_ts=created[-1], limit=1000).json()["orders"]
    assert late and all(int(dt.datetime.fromisoformat(o["created_time"]).timestamp()) >= created[-1]
                        for o in late)
    assert client.get("/portfolio/orders", max_ts=created[0] - 1).json()["orders"] == []
    one = client.get(f"/portfolio/orders/{orders[0]['order_id']}")
    assert one.status_code == 200 and one.json() == {"order": orders[0]}
    missing = client.get("/portfolio/orders/no-such-order")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_position_filters(served):
    client, pos = served["client"], served["ledger"]["positions"]
    body = client.get("/portfolio/positions", ticker=EV).json()
    assert [p["ticker"] for p in body["market_positions"]] == [EV]
    body = client.get("/portfolio/positions", event_ticker="KXHIGHNY-26NOV21").json()
    assert [p["ticker"] for p in body["market_positions"]] == [EV, EV2]
    assert [e["event_ticker"] for e in body["event_positions"]] == ["KXHIGHNY-26NOV21"]
    held = client.get("/portfolio/positions", count_filter="position").json()
    assert {p["ticker"] for p in held["market_positions"]} == \
        {p["ticker"] for p in pos["market_positions"] if p["position_fp"] != "0.00"}
    assert {e["event_ticker"] for e in held["event_positions"]} == \
        {event_ticker(p["ticker"]) for p in held["market_positions"]}
    traded = client.get("/portfolio/positions", count_filter="position,total_traded").json()
    assert len(traded["market_positions"]) == len(pos["market_positions"])
    assert client.get("/portfolio/positions", settlement_status="settled").json()["market_positions"] == []
    assert client.get("/portfolio/positions", settlement_status="all").json()["market_positions"] == \
        client.get("/portfolio/positions").json()["market_positions"]


def test_pagination_walks_every_fill_order_and_position_once(served):
    client = served["client"]
    for path, key, size in (("/portfolio/fills", "fills", 7), ("/portfolio/orders", "orders", 5),
                            ("/portfolio/positions", "market_positions", 2)):
        whole = client.get(path, limit=1000).json()[key]
        walked, cursor, pages = [], None, 0
        while True:
            body = client.get(path, limit=size, **({"cursor": cursor} if cursor else {})).json()
            assert len(body[key]) <= size
            walked += body[key]
            pages += 1
            cursor = body.get("cursor", "")
            if not cursor:
                break
        assert walked == whole, path
        assert pages == -(-len(whole) // size), path


def test_bad_parameters_get_kalshi_error_bodies(served):
    client = served["client"]
    for params, name in (({"limit": 1001}, "limit"), ({"limit": 0}, "limit"), ({"min_ts": "soon"}, "min_ts"),
                         ({"cursor": "bogus!"}, "cursor")):
        r = client.get("/portfolio/fills", **params)
        assert r.status_code == 400, params
        err = r.json()["error"]
        assert err["code"] == "invalid_parameters" and name in err["message"]
    assert client.get("/portfolio/orders", status="open").status_code == 400
    assert client.get("/portfolio/positions", count_filter="volume").status_code == 400
    assert client.get("/portfolio/positions", settlement_status="maybe").status_code == 400
    r = client.get("/portfolio/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_unsigned_or_wrongly_signed_requests_are_refused(served, tmp_path):
    from fixgw.signing import Signer, generate_keypair

    client = served["client"]
    url = client.base + "/trade-api/v2/portfolio/fills"
    r = http.get(url)
    assert r.status_code == 401 and "KALSHI-ACCESS-KEY" in r.json()["error"]["message"]
    other = Signer.from_file(generate_keypair(tmp_path / "other.pem")[0])
    forged = auth.headers(other, "reader-key", "GET", "/trade-api/v2/portfolio/fills")
    r = http.get(url, headers=forged)
    assert r.status_code == 401 and r.json()["error"]["code"] == "authentication_error"
    # signed for another path or method: refused
    moved = auth.headers(client.signer, "reader-key", "GET", "/trade-api/v2/portfolio/orders")
    assert http.get(url, headers=moved).status_code == 401
    unknown = auth.headers(client.signer, "someone-else", "GET", "/trade-api/v2/portfolio/fills")
    assert http.get(url, headers=unknown).status_code == 401
    stale = auth.headers(client.signer, "reader-key", "GET", "/trade-api/v2/portfolio/fills", now_ms=10**12)
    assert http.get(url, headers=stale).status_code == 401
    # the same request correctly signed is answered
    assert http.get(url, headers=client.headers("GET", "/trade-api/v2/portfolio/fills")).status_code == 200
    from websockets.sync.client import connect
    with pytest.raises(InvalidStatus) as e:
        with connect(client.base.replace("http", "ws") + "/trade-api/ws/v2", additional_headers=forged):
            pass
    assert e.value.response.status_code == 401


def test_websocket_subscriber_saw_each_fill_once_in_order(served):
    sub, ledger = served["sub"], served["ledger"]
    subscribed = sub.of("subscribed")
    assert sorted(s["msg"]["channel"] for s in subscribed) == ["fill", "market_positions", "user_orders"]
    fills_ = sub.of("fill")
    assert [(f["msg"]["trade_id"], f["msg"]["market_ticker"]) for f in fills_] == \
        [(f["trade_id"], f["ticker"]) for f in ledger["fills"]], [f["msg"] for f in fills_]
    for kind in ("fill", "user_order", "market_position"):
        frames = sub.of(kind)
        assert len({f["sid"] for f in frames}) == 1, kind
        assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1)), kind
    for frame, fill in zip(fills_, ledger["fills"]):
        msg = frame["msg"]
        assert (msg["market_ticker"], msg["count_fp"], msg["yes_price_dollars"], msg["is_taker"],
                msg["outcome_side"]) == (fill["ticker"], fill["count_fp"], fill["yes_price_dollars"],
                                         fill["is_taker"], fill["outcome_side"])
    last = {}
    for f in sub.of("market_position"):
        last[f["msg"]["market_ticker"]] = f["msg"]
    for p in ledger["positions"]["market_positions"]:
        assert last[p["ticker"]]["position_fp"] == p["position_fp"]
        assert last[p["ticker"]]["realized_pnl_dollars"] == p["realized_pnl_dollars"]
    statuses = {f["msg"]["order_id"]: f["msg"]["status"] for f in sub.of("user_order")}
    orders = served["client"].get("/portfolio/orders", limit=1000).json()["orders"]
    assert statuses == {o["order_id"]: o["status"] for o in orders}


# required msg fields of Kalshi's WebSocket channels (shared/reference/kalshi-margin-and-models.md, B.5)
WS_REQUIRED = {
    "fill": {"trade_id", "order_id", "market_ticker", "exchange_index", "is_taker", "side", "yes_price_dollars",
             "count_fp", "fee_cost", "action", "outcome_side", "book_side", "ts", "ts_ms", "post_position_fp",
             "purchased_side"},
    "user_order": {"order_id", "user_id", "ticker", "status", "side", "is_yes", "outcome_side", "book_side",
                   "yes_price_dollars", "fill_count_fp", "remaining_count_fp", "initial_count_fp",
                   "taker_fill_cost_dollars", "maker_fill_cost_dollars", "taker_fees_dollars",
                   "maker_fees_dollars", "client_order_id", "created_time", "created_ts_ms"},
    "market_position": {"user_id", "market_ticker", "position_fp", "position_cost_dollars", "realized_pnl_dollars",
                        "fees_paid_dollars", "position_fee_cost_dollars", "volume_fp"},
}


def test_websocket_messages_carry_kalshis_required_fields(served):
    sub = served["sub"]
    for kind, required in WS_REQUIRED.items():
        frames = sub.of(kind)
        assert frames, kind
        for f in frames:
            assert set(f) == {"type", "sid", "seq", "msg"}
            missing = required - set(f["msg"])
            assert not missing, (kind, missing)


def test_websocket_commands(served):
    client = served["client"]
    with client.ws() as ws:
        ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["fill"],
                                                                    "market_tickers": [EV]}}))
        ok = json.loads(ws.recv(timeout=5))
        assert ok["type"] == "subscribed" and ok["id"] == 1 and ok["msg"]["channel"] == "fill"
        ws.send(json.dumps({"id": 2, "cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}))
        assert json.loads(ws.recv(timeout=5)) == {"id": 2, "type": "error", "msg": {
            "code": 8, "msg": "unknown channel 'orderbook_delta'; this server has fill, user_orders, "
                              "market_positions"}}
        ws.send(json.dumps({"id": 3, "cmd": "unsubscribe", "params": {"sids": [ok["msg"]["sid"]]}}))
        assert json.loads(ws.recv(timeout=5)) == {"id": 3, "sid": ok["msg"]["sid"], "seq": 0,
                                                   "type": "unsubscribed"}
        ws.send(json.dumps({"id": 4, "cmd": "unsubscribe", "params": {"sids": [99]}}))
        assert json.loads(ws.recv(timeout=5))["msg"]["code"] == 7
        ws.send(json.dumps({"id": 5, "cmd": "launch"}))
        assert json.loads(ws.recv(timeout=5))["msg"]["code"] == 5


def test_metrics_for_prometheus(served):
    text = http.get(served["client"].base + "/metrics").text
    assert 'fixgw_session_state{session="listener",state="logged-on"} 1.0' in text
    assert 'fixgw_session_state{session="dc",state="logged-on"} 1.0' in text
    assert 'fixgw_messages_in_total{msg_type="8",session="listener"}' in text
    assert 'fixgw_order_ack_seconds_bucket{le="+Inf",session="listener"}' in text
    for name in ("fixgw_rejects_total", "fixgw_decode_anomalies_total", "fixgw_recorder_backlog",
                 "fixgw_watermark_age_seconds", "fixgw_backfill_reports", "fixgw_ws_clients"):
        assert name in text, name
    stored = [line for line in text.splitlines() if line.startswith("fixgw_recorder_reports_stored_total")]
    assert stored and float(stored[0].split()[-1]) >= FILLS


def _tcp(pid: int) -> list[tuple[int, int, str]]:
    """(local port, remote port, state: "0A" listening, "01" established) of each TCP socket ``pid`` holds."""
    import os

    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    out = []
    for table in ("tcp", "tcp6"):
        for line in open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]:
            f = line.split()
            if f[9] in inodes:
                out.append((int(f[1].rsplit(":", 1)[1], 16), int(f[2].rsplit(":", 1)[1], 16), f[3]))
    return out


def test_the_recording_process_does_no_serving(served):
    """The WebSocket fan-out and REST run in the API server's own process (a child of `fixgw serve`
    started as fixgw.api.worker): the recording process neither listens on the API port nor holds a
    subscriber's connection, so no frame is encoded or sent on the recorder's interpreter; and it
    yields a CPU to the recorder (niceness 5, the default of [api] nice)."""
    import re

    server = served["server"]
    pid = int(re.search(r"\(server process ([0-9]+)\)", server.output()).group(1))
    port = int(served["client"].base.rsplit(":", 1)[1])
    assert pid != server.proc.pid
    assert int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]) == server.proc.pid  # its parent
    assert b"fixgw.api.worker" in open(f"/proc/{pid}/cmdline", "rb").read()
    import os
    assert os.getpriority(os.PRIO_PROCESS, pid) - os.getpriority(os.PRIO_PROCESS, server.proc.pid) == 5  # [api] nice
    assert (port, 0, "0A") in _tcp(pid)  # the server listens
    assert not [s for s in _tcp(server.proc.pid) if s[0] == port]  # the recorder does not
    with served["client"].ws() as ws:
        ws.send(json.dumps({"id": 1, "cmd": "list_subscriptions"}))
        assert json.loads(ws.recv(timeout=5))["type"] == "ok"
        mine = ws.socket.getsockname()[1]
        assert (port, mine, "01") in _tcp(pid)
        assert not [s for s in _tcp(server.proc.pid) if s[1] == mine]


def test_fills_follow_prints_new_fills_as_they_are_stored(served):
    """Last in this module: it trades more, after the other tests have compared the session."""
    import subprocess
    import sys
    import threading

    from apiharness import ENV, wait_for
    store = f"sqlite:///{served['root'] / 'dropcopy.db'}"
    proc = subprocess.Popen([sys.executable, "-m", "fixgw", "fills", "--follow", "--store", store,
                             "--account", "alice"], stdout=subprocess.PIPE, text=True, env=ENV)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True).start()
    try:
        wait_for(lambda: len(lines) >= FILLS, 30, "the recorded fills")
        served["sim"].cmd(cmd="burst", account="alice", product="event", count=3, rate=100,
                          symbol="KXFOLLOW-26NOV21-T1")
        wait_for(lambda: len(lines) >= FILLS + 3, 30, "three new fills")
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
    rows = [json.loads(line) for line in lines]
    assert [r["ticker"] for r in rows[FILLS:]] == ["KXFOLLOW-26NOV21-T1"] * 3
    assert len({r["fill_id"] for r in rows}) == len(rows) == FILLS + 3


def test_orders_and_positions_follow_print_each_change(served):
    """After the fills one: it trades more. Each order and market position a new burst changes is
    printed again, its last line the same as the REST body (a settled view is not re-read here)."""
    import subprocess
    import sys
    import threading

    from apiharness import ENV, wait_for
    store = f"sqlite:///{served['root'] / 'dropcopy.db'}"
    client, symbol = served["client"], "KXFOLLOW-26NOV21-T2"
    before = client.get("/portfolio/orders", limit=1000).json()["orders"]
    procs, lines = {}, {}
    for what in ("orders", "positions"):
        procs[what] = subprocess.Popen([sys.executable, "-m", "fixgw", what, "--follow", "--store", store,
                                        "--account", "alice"], stdout=subprocess.PIPE, text=True, env=ENV)
        lines[what] = []
        threading.Thread(target=lambda w=what: lines[w].extend(iter(procs[w].stdout.readline, "")),
                         daemon=True).start()

    def last(what: str, key: str) -> dict:
        out = {}
        for line in list(lines[what]):
            row = json.loads(line)
            out[row[key]] = row
        return out

    try:
        held = client.get("/portfolio/positions", limit=1000).json()["market_positions"]
        wait_for(lambda: len(lines["orders"]) >= len(before) and len(lines["positions"]) >= len(held), 30,
                 "the recorded orders and positions")
        assert [json.loads(line) for line in lines["orders"]] == before
        assert [json.loads(line) for line in lines["positions"]] == held
        printed = len(lines["positions"])
        served["sim"].cmd(cmd="burst", account="alice", product="event", count=3, rate=100, symbol=symbol)
        wait_for(lambda: len(client.get("/portfolio/fills", ticker=symbol).json()["fills"]) == 3, 30,
                 "three new fills served")
        orders = client.get("/portfolio/orders", ticker=symbol, limit=1000).json()["orders"]
        position = client.get("/portfolio/positions", ticker=symbol).json()["market_positions"]
        assert orders and len(position) == 1
        wait_for(lambda: all(last("orders", "order_id").get(o["order_id"]) == o for o in orders), 30,
                 "each new order's last state")
        wait_for(lambda: last("positions", "ticker").get(symbol) == position[0], 30, "the new position")
    finally:
        for proc in procs.values():
            proc.terminate()
            assert proc.wait(10) == 0
    changed = [json.loads(line) for line in lines["positions"][printed:]]
    assert {r["ticker"] for r in changed} == {symbol}  # only the position that changed
    old = {o["order_id"] for o in before}
    assert {r["order_id"] for r in map(json.loads, lines["orders"][len(before):])} == {o["order_id"] for o in orders}
    assert not old & {o["order_id"] for o in orders}
