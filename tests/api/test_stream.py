"""The WebSocket hub's buffer: a subscriber that does not read is told (error 25) and dropped,
and nothing on the recorder's side waits for it."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

from fixgw.api.stream import OVERFLOW, Hub


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
    """on_stored only queues; publish only schedules on the client's loop, even a loop that is not
    running (a stuck client) — both return at once with any number of frames outstanding."""
    stuck = asyncio.new_event_loop()  # never run
    hub = Hub(None, "alice", limit=10)
    client = hub.attach(stuck)
    hub.command(client, json.dumps({"id": 1, "cmd": "subscribe", "params": {"channels": ["fill"]}}))
    for i in range(10_000):
        hub.publish("KXA-1", [("fill", {"n": i})])
        hub.on_stored([])
    assert len(client.out) == 1 and hub.backlog == 0
    stuck.close()
