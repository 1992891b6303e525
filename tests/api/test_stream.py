"""The WebSocket hub's buffer: a subscriber that does not read is told (error 25) and dropped,
and nothing on the recorder's side waits for it."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from fixgw.api.bell import Bell
from fixgw.api.stream import OVERFLOW, Hub
from harness import wait_for


@pytest.fixture
def loop():
    loop = asyncio.new_event_loop()
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    t.join(5)
    loop.close()


def settle(loop) -> None:
    """Everything handed to the loop so far has run."""
    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(5)


def test_a_subscriber_that_does_not_read_is_told_and_dropped(loop):
    hub = Hub(None, "alice", limit=3)
    client = hub.attach(loop)
    hub.command(client, json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["fill"]}}))
    assert [json.loads(f)["type"] for f in client.out] == ["subscribed"]
    hub.publish("KXA-1", [("fill", {"n": 1}), ("fill", {"n": 2})])
    settle(loop)
    assert [json.loads(f).get("seq") for f in client.out] == [None, 1, 2]
    hub.publish("KXA-1", [("fill", {"n": 3}), ("fill", {"n": 4})])
    settle(loop)
    frames = [json.loads(f) for f in client.out]
    assert len(frames) == 1 and frames[0]["type"] == "error" and frames[0]["msg"]["code"] == OVERFLOW
    assert client.closed == "overflow"
    hub.publish("KXA-1", [("fill", {"n": 5})])
    settle(loop)
    assert len(client.out) == 1  # nothing more is queued for a dropped client


def test_other_channels_and_tickers_are_not_sent(loop):
    hub = Hub(None, "alice", limit=100)
    client = hub.attach(loop)
    hub.command(client, json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["fill"],
                                                                            "market_ticker": "KXA-1"}}))
    hub.publish("KXB-1", [("fill", {"n": 1})])
    hub.publish("KXA-1", [("user_orders", {"n": 2}), ("fill", {"n": 3})])
    settle(loop)
    frames = [json.loads(f) for f in client.out][1:]
    assert frames == [{"type": "fill", "sid": 1, "seq": 1, "msg": {"n": 3}}]


def test_the_recorder_side_never_waits_for_a_client():
    """The recorder's whole part is ringing the bell: it returns at once also when nobody ever
    answers (the socket's buffer full); publish only schedules on the client's loop, even a loop
    that is not running (a stuck client) — both with any number of frames outstanding."""
    ring, wait = Bell.pair()
    stuck = asyncio.new_event_loop()  # never run
    hub = Hub(None, "alice", limit=10)
    client = hub.attach(stuck)
    hub.command(client, json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["fill"]}}))
    for i in range(10_000):
        hub.publish("KXA-1", [("fill", {"n": i})])
        ring.ring()
    assert len(client.out) == 1 and hub.backlog == 0
    assert wait.wait(0) and not wait.wait(0)  # every pending ring is taken by one wait
    stuck.close()
    ring.close()
    wait.close()


def _trades(*specs):
    """StoredReports of Trade reports ``(i, ticker)`` (ExecID ``i+1;i``) for account acct."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "recorder"))
    from test_commands import raw_of, trade

    from fixgw.fix import lenient
    from fixgw.models.fix import Side
    from fixgw.pricing import Units
    from fixgw.recorder.store import StoredReport

    out = []
    for i, ticker in specs:
        raw = raw_of(trade(i, Side.BUY, "0.40", 2, ticker), Units.DOLLARS)
        out.append(StoredReport.from_model("acct", "event", lenient.decode(raw, Units.DOLLARS)[0], raw,
                                             units=Units.DOLLARS))
    return out


def test_the_hub_follows_the_store_in_storing_order_woken_by_the_bell(tmp_path, loop):
    """No hand-over but the store: what was stored before the hub started sends nothing; each
    report stored after it goes out once when the writer rings, a backfilled one (stored after
    newer keys) too, a repeat never; seq stays contiguous."""
    from fixgw.recorder.store import open_store

    writer = open_store(f"sqlite:///{tmp_path / 'd.db'}")
    writer.put(_trades((1, "KXA-1")))
    ring, wait = Bell.pair()
    hub = Hub(open_store(f"sqlite:///{tmp_path / 'd.db'}"), "acct", bell=wait, poll_s=3600).start()
    try:
        assert hub.wait_primed(10)
        client = hub.attach(loop)
        hub.command(client, json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["fill"]}}))
        writer.put(_trades((5, "KXA-1"), (6, "KXB-1")))
        ring.ring()
        writer.put(_trades((3, "KXA-1"), (5, "KXA-1")))  # a backfilled hole and a repeat
        ring.ring()

        def fills():
            settle(loop)
            return [json.loads(f) for f in client.out][1:]
        wait_for(lambda: len(fills()) >= 3, 10, "three fill frames")
        hub.command(client, json.dumps({"id": 2, "cmd": "list_subscriptions"}))  # a marker after them
        wait_for(lambda: fills() and fills()[-1].get("type") == "ok", 10, "the marker")
        got = fills()[:-1]
        assert [(f["seq"], f["msg"]["trade_id"]) for f in got] == [(1, "t5"), (2, "t6"), (3, "t3")]
        assert hub.backlog == 0
    finally:
        hub.stop()
        hub.store.close()
        writer.close()
        ring.close()


def test_a_stored_report_with_a_novel_value_neither_stops_nor_hangs_the_hub(tmp_path):
    """Review finding: the hub primed with the strict decoder; one stored report the recorder
    keeps on purpose (a Side the dictionary does not list) killed its thread and the server
    waited for it for ever."""
    import re
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "recorder"))
    from test_commands import raw_of, trade

    from fixgw.fix import lenient
    from fixgw.models.fix import Side
    from fixgw.pricing import Units
    from fixgw.recorder.store import StoredReport, open_store

    store = open_store(f"sqlite:///{tmp_path / 'd.db'}")
    good = raw_of(trade(1, Side.BUY, "0.40", 2, "KXA-26-T1"), Units.DOLLARS)
    odd = re.sub("\x0154=[^\x01]*", "\x0154=7", raw_of(trade(2, Side.BUY, "0.40", 2, "KXA-26-T1"), Units.DOLLARS))
    store.put([StoredReport.from_model("acct", "event", lenient.decode(raw, Units.DOLLARS)[0], raw,
                                        units=Units.DOLLARS)
               for raw in (odd, good)])
    hub = Hub(store, "acct").start()
    try:
        assert hub.wait_primed(10) and hub._thread.is_alive()
    finally:
        hub.stop()
        store.close()


def test_a_burst_reaches_a_real_client_as_one_message_per_frame_then_overflow_closes(tmp_path, monkeypatch):
    """Over a real uvicorn server run as `fixgw serve` runs it: the frames of one hand-over are
    written to the socket together (one write per client, not one per frame), and the client still
    gets each as its own message, seq contiguous; a client that falls behind gets error 25, closed."""
    import socket
    import time

    import uvicorn
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from fixgw.api import app as appmod, auth
    from fixgw.api.auth import Verifier
    from fixgw.api.rest import Source
    from fixgw.signing import Signer, generate_keypair, load_public_key

    writers = []
    real = appmod._frames_writer
    monkeypatch.setattr(appmod, "_frames_writer", lambda ws: writers.append(real(ws)) or writers[-1])
    priv, pub = generate_keypair(tmp_path / "k.pem")
    hub = Hub(None, "alice", limit=500)
    app = appmod.build(Source(None, "alice"), Verifier({"k": load_public_key(pub)}), hub)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio",
                                           ws_per_message_deflate=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        url = f"ws://127.0.0.1:{sock.getsockname()[1]}{appmod.WS_PATH}"
        headers = auth.headers(Signer.from_file(priv), "k", "GET", appmod.WS_PATH)
        with connect(url, additional_headers=headers) as ws:
            ws.send(json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["fill"]}}))
            assert json.loads(ws.recv(5))["type"] == "subscribed"
            assert writers and writers[0] is not None  # the one-write path, not send_text per frame
            hub.publish("KXA-1", [("fill", {"n": i}) for i in range(300)])
            got = [json.loads(ws.recv(5)) for _ in range(300)]
            assert [(f["seq"], f["msg"]["n"]) for f in got] == [(i + 1, i) for i in range(300)]
            hub.publish("KXA-1", [("fill", {"n": i}) for i in range(501)])  # more than the buffer holds
            last = json.loads(ws.recv(5))
            assert last["type"] == "error" and last["msg"]["code"] == OVERFLOW
            with pytest.raises(ConnectionClosed):
                ws.recv(5)
    finally:
        server.should_exit = True
        thread.join(10)
