"""The dispatcher: reports in, REST and WebSocket shapes out, with the account's own user_id."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal as D

import pytest

from fixgw.config import parse
from fixgw.errors import ConfigError
from fixgw.dispatch import Dispatcher
from fixgw.dispatch import Inbound
from fixgw.models.fix import ExecType, ExecutionReport, MiscFee, OrdStatus, Side

UTC = dt.timezone.utc
USER = "3f2a5d4e-8c1b-4a8e-9d6f-0b7c1e2a3b4c"
T0 = dt.datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def config(**extra):
    return parse({"environment": "local", "ca_file": "/nonexistent/ca.pem", **extra, "session": [
        {"name": "ev", "product": "event", "type": "NR", "api_key_id": str(uuid.uuid4()),
         "private_key": "/nonexistent/k.pem"}]})


def fill_report() -> ExecutionReport:
    return ExecutionReport(
        order_id="o-1", cl_ord_id="c-1", exec_id="1;1", exec_type=ExecType.TRADE, ord_status=OrdStatus.FILLED,
        side=Side.BUY, symbol="KXHIGHNY-26NOV21-T50", cum_qty=D(2), leaves_qty=D(0), order_qty=D(2),
        price=D("0.56"), last_px=D("0.56"), last_qty=D(2), trd_match_id="t-1", aggressor=True,
        transact_time=T0, fees=(MiscFee(amount=D("0.02")),))


def test_user_id_from_config_reaches_orders_and_websocket_messages():
    cfg = config(user_id=USER)
    assert cfg.user_id == USER and config().user_id == ""
    with pytest.raises(ConfigError, match="user_id"):
        config(user_id="not a user id")
    d = Dispatcher({"ev": "event"}, user_id=cfg.user_id)
    got = []
    d.on_event(got.append)
    d.put(Inbound("ev", fill_report()))
    d.flush()
    assert got[0].order.user_id == USER and got[0].position.user_id == USER
    assert d.orders.orders()[0].user_id == USER


def test_user_id_on_the_command_line_is_checked_like_the_files():
    from fixgw.config import with_user_id

    cfg = config()
    assert with_user_id(cfg, USER).user_id == USER and with_user_id(cfg, USER).session == cfg.session
    with pytest.raises(ConfigError, match="user_id"):
        with_user_id(cfg, "bad id")


def test_a_subtraders_orders_carry_the_configured_user_id_too():
    """Found by the randomized session: GET /fcm/orders showed user_id "" from the gateway while the
    recorder (and the exchange) showed the member's user_id."""
    from fixgw.models.fix import Party

    sub = str(uuid.uuid4())
    d = Dispatcher({"ev": "event"}, user_id=USER)
    got = []
    d.on_event(got.append)
    d.put(Inbound("ev", fill_report().model_copy(update={"parties": (Party(party_id=sub, role=24),)})))
    d.flush()
    [order] = d.subtraders.view(sub).orders.orders()
    assert order.user_id == USER and got[0].order.user_id == USER


def test_a_callback_for_some_kinds_of_message_is_called_for_those_only():
    from fixgw.models.fix import EventResendComplete
    d = Dispatcher({"ev": "event"})
    every, resends = [], []
    d.on_event(every.append)
    d.on_event(resends.append, kinds=(EventResendComplete,))
    d.put(Inbound("ev", fill_report()))
    d.put(Inbound("ev", EventResendComplete(ref_seq_num=2, count=1)))
    d.flush()
    assert [type(e.message).__name__ for e in every] == ["ExecutionReport", "EventResendComplete"]
    assert [type(e.message).__name__ for e in resends] == ["EventResendComplete"]


def test_a_report_that_woke_a_blocked_caller_is_dispatched_only_once_that_caller_has_left_wait(monkeypatch):
    """The caller first (Dispatcher._run): subscribers see the answer after the order path has it."""
    import threading
    from fixgw import dispatch
    from fixgw.orders import Ack
    monkeypatch.setattr(dispatch, "CALLER_WAIT_S", 30.0)
    d = Dispatcher({"ev": "event"})
    ack, seen, got = Ack("req"), [], []
    d.on_event(lambda e: seen.append((ack.blocked, ack.done)))
    caller = threading.Thread(target=lambda: got.append(ack.wait(10)))
    caller.start()
    while not ack.blocked:
        threading.Event().wait(0.001)
    item = Inbound("ev", fill_report())
    item.caller = ack
    d.put(item)  # the dispatcher holds it while the caller is blocked...
    threading.Event().wait(0.05)
    assert seen == []
    ack.resolve(item.message)  # ...and dispatches it once the caller has its answer
    caller.join(10)
    d.flush()
    assert got == [item.message] and seen == [(0, True)]


def test_a_caller_that_never_leaves_wait_holds_the_dispatcher_for_a_bounded_time_only(monkeypatch):
    import threading
    from fixgw import dispatch
    from fixgw.orders import Ack
    monkeypatch.setattr(dispatch, "CALLER_WAIT_S", 0.02)
    d = Dispatcher({"ev": "event"})
    stuck = Ack("req")
    stuck.blocked = 1  # a thread blocked for ever
    seen = []
    d.on_event(seen.append)
    item = Inbound("ev", fill_report())
    item.caller = stuck
    d.put(item)  # nothing queued behind it (no flush): only the bound ends the hold
    for _ in range(1000):
        if seen:
            break
        threading.Event().wait(0.001)
    assert len(seen) == 1


def test_the_dispatcher_does_not_hold_back_for_a_caller_while_other_messages_are_queued(monkeypatch):
    import threading
    from fixgw import dispatch
    from fixgw.orders import Ack
    monkeypatch.setattr(dispatch, "CALLER_WAIT_S", 30.0)
    d = Dispatcher({"ev": "event"})
    gate = threading.Event()
    d.on_event(lambda e: gate.wait(10), kinds=(ExecutionReport,))  # holds the dispatcher on the first report
    d.put(Inbound("ev", fill_report()))
    stuck = Ack("req")
    stuck.blocked = 1  # a caller that never leaves wait()
    item = Inbound("ev", fill_report())
    item.caller = stuck
    d.put(item)
    d.put(Inbound("ev", fill_report()))  # queued behind it: the dispatcher must not idle
    gate.set()
    done = threading.Event()
    d._q.put(done)
    assert done.wait(5)  # not CALLER_WAIT_S: the queued report took the dispatcher on at once


def test_wait_counts_the_threads_blocked_in_it_and_forgets_them_on_timeout():
    from fixgw.orders import Ack
    ack = Ack("req")
    with pytest.raises(TimeoutError):
        ack.wait(0.001)
    assert ack.blocked == 0
    ack.resolve("answer")
    assert ack.wait(0) == "answer" and ack.blocked == 0


def test_receive_marks_an_answer_with_the_ack_of_the_thread_blocked_on_it_and_only_then():
    import threading
    from fixgw.adapter.application import SessionRuntime
    from fixgw.checks import SessionCaps
    from fixgw.models.fix import NewOrderSingle
    from fixgw.orders import Registry
    from fixgw.pricing import Units
    from fixgw.state import Lifecycle
    taken = []
    d = Dispatcher({"ev": "event"}, deliver=lambda sess, item: taken.append(item))
    sess = SessionRuntime(config=config().session[0], signer=None, lifecycle=Lifecycle("ev"),
                          registry=Registry(SessionCaps("ev", "event", Units.CENTS, True, True)))
    text = ("8=FIXT.1.1\x019=1\x0135=8\x0134=2\x0149=KalshiNR\x0152=20261121-12:00:00.000\x0156=k\x01"
            "11={cl}\x0114=0\x0117={cl};1\x0137=o\x0139=4\x0154=1\x0155=KXT\x01150=4\x01151=0\x0110=000\x01")
    order = NewOrderSingle(cl_ord_id="c", symbol="KXT", side=Side.BUY, order_qty=D(1), price=D("0.5"))
    blocked = sess.registry.register("blocked", order)
    caller = threading.Thread(target=blocked.wait)
    caller.start()
    while not blocked.blocked:
        threading.Event().wait(0.001)
    unwatched = sess.registry.register("unwatched", order)  # nobody waits on it (yet)
    d.receive(sess, "8", text.format(cl="unwatched"), False)
    d.receive(sess, "8", text.format(cl="blocked"), False)
    caller.join(10)
    assert [i.caller for i in taken] == [None, blocked] and unwatched.done and blocked.done
