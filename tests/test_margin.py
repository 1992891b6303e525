"""Margin orders (GET /margin/orders), fills and positions against the simulator's own ledger.

Two accounts trade margin through their own gateways over TLS while a drop-copy
recorder stores alice's reports; each gateway's and the recorder's MarginOrders,
MarginFills and MarginPositions must equal, field by field, what the
simulator's ledger says, including why each order last changed.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from decimal import Decimal as D

import pytest

from fixgw.adapter.gateway import Gateway
from fixgw.margin import MarginOrders, last_update_reason
from fixgw.models.fix import ExecType, ExecutionReport, OrdStatus, Side
from fixgw.models.rest import MarginFill, MarginOrder, MarginPosition
from fixgw.recorder.service import Recorder
from fixgw.recorder.store import open_store
from fixgw.recorder.views import Query
from fixgw.sim.ledger import Ledger as SimLedger
from harness import gateway_config, make_account

MG = "BTC-PERP"
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def er(exec_type: ExecType, **kw) -> ExecutionReport:
    base = dict(order_id="o-1", exec_id="1;1", exec_type=exec_type, ord_status=OrdStatus.CANCELED, side=Side.BUY,
                symbol=MG, cum_qty=D(0), leaves_qty=D(0), transact_time=T0)
    return ExecutionReport(**(base | kw))


@pytest.mark.parametrize("report,expiration,reason", [
    (er(ExecType.NEW, ord_status=OrdStatus.NEW), None, ""),
    (er(ExecType.TRADE, ord_status=OrdStatus.FILLED), None, "Trade"),
    (er(ExecType.REPLACED, ord_status=OrdStatus.REPLACED), None, "Amend"),
    (er(ExecType.CANCELED, text="TAKER_CANCEL_FOR_SELF_TRADE_PREVENTION"), None, "SelfTradeCancel"),
    (er(ExecType.CANCELED, text="MAKER_CANCEL_FOR_SELF_TRADE_PREVENTION"), None, "SelfTradeCancel"),
    (er(ExecType.CANCELED, text="POST_ONLY_CROSS"), None, "PostOnlyCrossCancel"),
    (er(ExecType.CANCELED, text="REDUCE_ONLY"), None, "ReduceOnlyCancel"),
    (er(ExecType.EXPIRED, ord_status=OrdStatus.EXPIRED), None, "ExpiryCancel"),
    (er(ExecType.CANCELED), T0, "ExpiryCancel"),  # 150=4 at the expiration, answering no request
    (er(ExecType.CANCELED, orig_cl_ord_id="c-0"), T0, "MarginCancel"),  # our own cancel request
    (er(ExecType.CANCELED), T0 + dt.timedelta(seconds=1), "MarginCancel"),
    (er(ExecType.CANCELED, text="IMMEDIATE_OR_CANCELLED"), None, "MarginCancel"),
    (er(ExecType.CANCELED, text="ORDER_GROUP_CANCEL"), None, "MarginCancel"),
    (er(ExecType.PENDING_CANCEL, ord_status=OrdStatus.PENDING_CANCEL), None, None),
])
def test_last_update_reason_table(report, expiration, reason):
    assert last_update_reason(report, expiration) == reason


def test_pending_and_rejected_reports_do_not_make_or_change_an_order():
    orders = MarginOrders(user_id="u")
    assert orders.apply(er(ExecType.REJECTED, order_id="NONE", exec_id="-1;-1")) is None
    orders.apply(er(ExecType.NEW, ord_status=OrdStatus.NEW, leaves_qty=D(2), price=D("100.5"), cl_ord_id="c"))
    pending = er(ExecType.PENDING_CANCEL, exec_id="-1;-1", ord_status=OrdStatus.PENDING_CANCEL, leaves_qty=D(2),
                 cl_ord_id="c-x", orig_cl_ord_id="c")
    (order,) = [orders.apply(pending)]
    assert (order.last_update_reason, order.client_order_id, order.price) == ("", "c", D("100.5"))
    assert [o.order_id for o in orders.orders()] == ["o-1"] and orders.orders("canceled") == []


# ------------------------------------------------------------------ against the simulator
@pytest.fixture
def margin(tmp_path, sim):
    sessions = {}
    for who in ("alice", "bob"):
        acct = make_account(tmp_path, sim.keys, "margin", account=who)
        sessions[who] = dict(name=f"{who}-margin", product="margin", type="NR", account=acct)
    recording = [dict(name=f"rec-{k.lower()}", product="margin", type=k, listener=(k == "NR"),
                      account=make_account(tmp_path, sim.keys, "margin", account="alice")) for k in ("NR", "DC")]
    sim.start()
    store = open_store(f"sqlite:///{tmp_path / 'dropcopy.db'}")
    recorder = Recorder(gateway_config(tmp_path / "recorder", sim, recording), store, account="alice",
                        out=open(tmp_path / "recorder.log", "w"))
    recorder.start()
    recorder.gateway.wait_logged_on(timeout=30)
    gws = {}
    for who, s in sessions.items():
        gw = Gateway(gateway_config(tmp_path / who, sim, [s], tier="prime", user_id=SimLedger.user_id(who)))
        gw.events = []
        gw.on_event(gw.events.append)
        gws[who] = gw.start()
    for gw in gws.values():
        gw.wait_logged_on(timeout=20)
    gws["recorder"] = store
    yield gws
    for name, gw in gws.items():
        if name != "recorder":
            gw.stop()
    recorder.stop()
    store.close()


def ack(handle):
    msg = handle.wait(10)
    assert isinstance(msg, ExecutionReport), msg
    return msg


def as_json(model) -> dict:
    return json.loads(model.model_dump_json())


def same(ours: list[dict], theirs: list[dict], what: str) -> None:
    assert len(ours) == len(theirs), f"{what}: {len(ours)} from the gateway, {len(theirs)} at the exchange"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        diff = {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        assert not diff, f"{what}[{i}] differs (gateway, exchange): {diff}"


def test_margin_orders_fills_and_positions_equal_the_exchange_ledger(margin, sim):
    alice, bob, store = margin["alice"], margin["bob"], margin.pop("recorder")
    A, B = "alice-margin", "bob-margin"
    a1 = alice.new_order(A, MG, "bid", "101.5000", 3)
    ack(a1)
    ack(bob.new_order(B, MG, "ask", "101.5000", 2))  # alice +2, partially filled
    ack(alice.replace(A, a1.request.cl_ord_id, quantity=4, price="101.6000"))  # Amend: 2 left
    ack(bob.new_order(B, MG, "ask", "101.6000", 1, post_only=True))  # crosses alice: PostOnlyCrossCancel
    ack(alice.new_order(A, MG, "ask", "101.6000", 1, stp=1))  # alice would hit herself: SelfTradeCancel
    ack(alice.cancel(A, a1.request.cl_ord_id))  # MarginCancel
    ack(bob.new_order(B, MG, "bid", "102.2500", 5))
    ack(alice.new_order(A, MG, "ask", "102.2500", 5))  # alice +2 -> -3 in one fill
    ack(bob.new_order(B, MG, "ask", "102.0000", 2))
    ack(bob.new_order(B, MG, "ask", "102.1000", 3))
    ack(alice.new_order(A, MG, "bid", "102.1000", 6, time_in_force="ioc"))  # -3 -> -1 -> +2, 1 left cancelled
    b9 = bob.new_order(B, MG, "bid", "95.0000", 1)
    ack(b9)
    ack(bob.replace(B, b9.request.cl_ord_id, quantity=2, price="95.5000"))  # rests, Amend
    expires = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(seconds=2)
    ack(alice.new_order(A, MG, "bid", "90.0000", 1, time_in_force="gtd", expire_time=expires))
    while dt.datetime.now(UTC) <= expires:
        time.sleep(0.1)
    sim.cmd(cmd="expire", product="margin")  # ExpiryCancel, reported as 150=4 (no 21012)
    deadline = time.time() + 10
    while alice.margin_orders("resting") and time.time() < deadline:
        time.sleep(0.05)

    reasons = set()
    for who, gw in margin.items():
        ledger = sim.cmd(cmd="ledger", product="margin", account=who)
        ours = [as_json(o) for o in gw.margin_orders()]
        same(ours, [as_json(MarginOrder.model_validate(o)) for o in ledger["orders"]], f"{who} margin orders")
        assert {o["user_id"] for o in ours} == {ledger["user_id"]}
        reasons |= {o["last_update_reason"] for o in ours}
        gw.dispatcher.flush()
        fills = [as_json(e.fill) for e in gw.events if e.fill is not None]
        assert fills
        same(fills, [as_json(MarginFill.model_validate(f)) for f in ledger["fills"]], f"{who} margin fills")
        same([as_json(p) for p in gw.margin_positions()],
             [as_json(MarginPosition.model_validate(p)) for p in ledger["positions"]["positions"]],
             f"{who} margin positions")
    assert reasons >= {"Trade", "Amend", "PostOnlyCrossCancel", "SelfTradeCancel", "MarginCancel", "ExpiryCancel"}
    assert {o.last_update_reason for o in alice.margin_orders("canceled")} >= {"MarginCancel", "ExpiryCancel"}
    (pos,) = alice.margin_positions()
    assert (pos.position, pos.unrealized_pnl) == (D(2), None)
    # the recorder's views of alice, from the drop copy it stored, equal the exchange's too
    final = set(sim.cmd(cmd="dropcopy", account="alice", product="margin")["exec_ids"])
    deadline = time.time() + 30
    while store.exec_ids("alice", "margin") != final and time.time() < deadline:
        time.sleep(0.05)
    assert store.exec_ids("alice", "margin") == final
    ledger = sim.cmd(cmd="ledger", product="margin", account="alice")
    q = Query(store, "alice", "margin", user_id=ledger["user_id"])
    same([as_json(o) for o in q.orders()], [as_json(MarginOrder.model_validate(o)) for o in ledger["orders"]],
         "recorded margin orders")
    same([as_json(f) for f in q.fills()], [as_json(MarginFill.model_validate(f)) for f in ledger["fills"]],
         "recorded margin fills")
    same([as_json(p) for p in q.positions()["positions"]],
         [as_json(MarginPosition.model_validate(p)) for p in ledger["positions"]["positions"]],
         "recorded margin positions")
    # the WebSocket shapes of alice's last trade: her position after it, and her order
    last = [e for e in alice.events if e.fill is not None][-1]
    fill_msg, order_msg = [msg.envelope(1) for msg in last.websocket()]
    assert (fill_msg["type"], fill_msg["msg"]["post_position"], fill_msg["msg"]["side"]) == ("fill", "2.00", "bid")
    assert order_msg["type"] == "user_order" and order_msg["msg"]["user_id"] == SimLedger.user_id("alice")
