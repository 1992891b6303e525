"""Acceptance: a real `fixgw run` process's control socket under bad input and floods.

Every request is checked field by field before anything is sent (the simulator's
count of received application messages proves nothing went out); the answer to a
request that was sent always names its ClOrdID and state; `fixgw order` exits 3
on an exchange reject; idle connections and connect floods cannot lock the owner
out, and they cost no threads.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from fixgw.control import client, server as control
from test_run import EV, Gw


@pytest.fixture(scope="module")
def gw(tmp_path_factory):
    g = Gw(tmp_path_factory.mktemp("control"))
    try:
        g.start()
        g.wait_state("event-nr", "logged-on")
        yield g
    finally:
        g.stop()


def ask(gw, payload: dict) -> dict:
    """One raw request line and its raw answer (ok or not)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(gw.ready["control"])
        s.sendall(json.dumps(payload).encode() + b"\n")
        return json.loads(s.makefile().readline())


def sent(gw) -> int:
    return gw.sim.cmd(cmd="received")["count"]


def wait_sent(gw, count: int) -> int:
    """The simulator's received count once it reaches ``count`` (or after 10 s, whatever it is)."""
    deadline = time.monotonic() + 10
    while sent(gw) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    return sent(gw)


def order(**fields) -> dict:
    return {"cmd": "order", "session": "event-nr", "symbol": EV, "side": "buy", "price": "0.04",
            "quantity": "1"} | fields


BAD_REQUESTS = [  # (request, the exact error)
    (order(wait=1e308), "RequestError: order: wait 1e+308 must be seconds from 0 to 600"),
    (order(wait=float("inf")), "RequestError: order: wait inf must be seconds from 0 to 600"),
    (order(price="NaN"), "OrderError: price NaN is not a finite number"),
    (order(wait=-1), "RequestError: order: wait -1 must be seconds from 0 to 600"),
    (order(wait="10"), "RequestError: order: wait must be a number of seconds, not a string"),
    (order(price=0.04), 'RequestError: order: price 0.04 is a JSON float; send it as a string ("price": "0.04") '
                        "or an integer (floats lose cents)"),
    (order(quantity=5.0), 'RequestError: order: quantity 5.0 is a JSON float; send it as a string '
                          '("quantity": "5.0") or an integer (floats lose cents)'),
    (order(max_cost=0.5), 'RequestError: order: max_cost 0.5 is a JSON float; send it as a string '
                          '("max_cost": "0.5") or an integer (floats lose cents)'),
    (order(post_only="false"), "RequestError: order: post_only must be JSON true or false, not a string"),
    (order(subaccount="3"), "RequestError: order: subaccount must be a JSON integer, not a string"),
    (order(tif="ioc"), "RequestError: order: unknown field tif; order takes session, wait, symbol, side, price, "
                       "quantity, time_in_force, expire_time, post_only, stp, subaccount, order_group_id, "
                       "cancel_on_pause, max_cost, exchange_index, cl_ord_id, subtrader"),
    (order(symbol=None), "RequestError: order: symbol is required"),
    (order(expire_time="tomorrow", time_in_force="gtd"),
     "RequestError: order: expire_time 'tomorrow' must be an ISO 8601 time with a zone (2026-11-21T21:00:00Z)"),
    (order(quantity="1e30"), "OrderError: quantity 1E+30 is above the limit of 1000000 contracts per order "
                             "(limits.max_quantity)"),
    (order(quantity=99_999_999_999), "OrderError: quantity 99999999999 is above the limit of 1000000 contracts "
                                     "per order (limits.max_quantity)"),
    (order(symbol="K" * 10_000), "OrderError: symbol is 10000 characters ('KKKKKKKKKKKKKKKKKKKK'...); the limit "
                                 "is 128 (limits.max_symbol_length)"),
    ({"cmd": "cancel", "session": "event-nr"}, "RequestError: cancel: cl_ord_id is required"),
    ({"cmd": "status", "metrics": 1}, "RequestError: status: metrics must be JSON true or false, not an integer"),
    ({"cmd": "order-everything"}, "RequestError: unknown command 'order-everything'; known: status, metrics, "
                                  "logon, logout, reset-seqnum, order, cancel, mass-cancel"),
]


@pytest.mark.parametrize("request_, error", BAD_REQUESTS, ids=lambda v: str(v)[:40] if isinstance(v, str) else None)
def test_bad_requests_are_refused_with_their_exact_error_and_nothing_is_sent(gw, request_, error):
    before = sent(gw)
    answer = ask(gw, request_)
    assert answer == {"ok": False, "error": error}
    assert sent(gw) == before
    assert gw.status()["event-nr"]["state"] == "logged-on"


def test_a_sent_order_is_answered_with_its_cl_ord_id_and_state_even_without_an_ack(gw):
    before = sent(gw)
    cl = f"ctl-{uuid.uuid4().hex[:12]}"
    answer = ask(gw, order(cl_ord_id=cl, wait=0, price="0.03"))  # no time to wait: it was still sent
    assert answer["ok"] is True and answer["cl_ord_id"] == cl and answer["state"] == "sent"
    assert answer["rejected"] is False and answer["ack"] is None
    assert wait_sent(gw, before + 1) == before + 1
    done = ask(gw, {"cmd": "cancel", "session": "event-nr", "cl_ord_id": cl})
    assert done["ok"] is True and done["state"] == "canceled" and done["rejected"] is False


def test_an_answered_order_carries_its_state(gw):
    cl = f"ctl-{uuid.uuid4().hex[:12]}"
    answer = ask(gw, order(cl_ord_id=cl, time_in_force="ioc"))
    assert (answer["ok"], answer["cl_ord_id"], answer["state"], answer["rejected"]) == (True, cl, "canceled", False)
    assert answer["ack"]["exec_type"] == "4"


def test_the_cli_exits_3_when_the_exchange_rejects_the_order(gw):
    before = sent(gw)
    out = gw.cli("order", "event-nr", EV, "buy", "0.04", "1", "--order-group", str(uuid.uuid4()), code=3)
    assert "exec_type=8(REJECTED)" in out and "text=ORDER_GROUP_NOT_FOUND" in out
    assert sent(gw) == before + 1
    as_json = json.loads(gw.cli("order", "event-nr", EV, "buy", "0.04", "1", "--order-group", str(uuid.uuid4()),
                                "--json", code=3))
    assert as_json["state"] == "rejected" and as_json["rejected"] is True and as_json["cl_ord_id"]
    # a refusal before sending stays exit 1, a bad --wait is a usage error (2)
    assert "above the limit" in gw.cli("order", "event-nr", EV, "buy", "0.04", "1e30", code=1)
    assert "--wait" in gw.cli("order", "event-nr", EV, "buy", "0.04", "1", "--wait", "1e308", code=2)
    assert sent(gw) == before + 2


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads line")


def test_idle_clients_and_a_connect_flood_cost_no_threads_and_status_still_answers(gw):
    path = gw.ready["control"]
    assert ask(gw, {"cmd": "status"})["ok"]
    threads_before = _threads(gw.proc.pid)
    idle = []
    try:
        for _ in range(300):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            idle.append(s)
        # 40 status calls at once on top of 300 idle connections: every one is answered
        answers: list = []

        def status() -> None:
            try:
                answers.append(client.request(Path(path), {"cmd": "status"}, 30)["pid"])
            except Exception as e:  # noqa: BLE001 - counted below
                answers.append(e)

        flood = [threading.Thread(target=status) for _ in range(40)]
        for t in flood:
            t.start()
        for t in flood:
            t.join(60)
        assert answers == [gw.proc.pid] * 40
        out = subprocess.run([sys.executable, "-m", "fixgw", "status", "-c", str(gw.config)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "event-nr" in out.stdout, out.stderr
        # idle connections hold no thread; the request pool is bounded by control.MAX_CLIENTS
        assert _threads(gw.proc.pid) <= threads_before + control.MAX_CLIENTS
        # the oldest idle connections were closed to make room, each told why
        s = idle[0]
        s.settimeout(10)
        line = json.loads(s.makefile().readline())
        assert line == {"ok": False, "error": f"closed: {control.MAX_CLIENTS} clients were connected (the limit) "
                                              "and this one was idle the longest"}
    finally:
        for s in idle:
            s.close()
    assert ask(gw, {"cmd": "status"})["ok"]


def test_a_request_line_longer_than_the_limit_closes_the_connection_with_the_reason(gw):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(30)
        s.connect(gw.ready["control"])
        try:
            s.sendall(b"x" * (control.MAX_LINE + 2))
        except OSError:
            pass  # closed while writing: the answer is already there
        assert json.loads(s.makefile().readline()) == {
            "ok": False, "error": f"closed: a request line is longer than {control.MAX_LINE} bytes"}


# ------------------------------------------------------------------ the server alone
@pytest.fixture
def short_dir():
    import shutil
    import tempfile
    d = Path(tempfile.mkdtemp(prefix="fixgw-ctl-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _line(s: socket.socket) -> dict:
    s.settimeout(30)
    return json.loads(s.makefile().readline())


def test_an_idle_connection_is_closed_with_the_reason(short_dir):
    server = control.serve(short_dir / "c.sock", lambda req: {"pong": True}, idle_timeout=0.2)
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(short_dir / "c.sock"))
            s.sendall(b'{"cmd": "ping"}\n')
            f = s.makefile()
            assert json.loads(f.readline()) == {"ok": True, "pong": True}
            assert json.loads(f.readline()) == {"ok": False, "error": "closed: no request for 0.2 s (idle timeout)"}
            assert f.readline() == ""  # and closed
    finally:
        control.close(server)


def test_beyond_the_client_cap_with_every_request_in_flight_a_newcomer_is_refused(short_dir):
    release, entered = threading.Event(), threading.Semaphore(0)

    def handle(req: dict) -> dict:
        entered.release()
        release.wait(30)
        return {"done": req["n"]}

    server = control.serve(short_dir / "c.sock", handle, max_clients=2)
    busy = [socket.socket(socket.AF_UNIX) for _ in range(2)]
    try:
        for n, s in enumerate(busy):
            s.connect(str(short_dir / "c.sock"))
            s.sendall(json.dumps({"n": n}).encode() + b"\n")
        assert entered.acquire(timeout=30) and entered.acquire(timeout=30)  # both requests in flight
        with socket.socket(socket.AF_UNIX) as late:
            late.connect(str(short_dir / "c.sock"))
            assert _line(late) == {"ok": False, "error": "refused: 2 requests are in flight on this control "
                                                         "socket (its limit of clients); try again"}
        release.set()
        assert [_line(s) for s in busy] == [{"ok": True, "done": 0}, {"ok": True, "done": 1}]
    finally:
        release.set()
        for s in busy:
            s.close()
        control.close(server)
