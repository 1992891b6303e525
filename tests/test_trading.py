"""Acceptance: two accounts trade through their own gateways against the simulator over TLS.

The simulator's own ledger is the oracle: every Fill a gateway produces must
equal, field by field in REST JSON, the simulator's record of that fill, and
each account's positions must equal the simulator's.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from fixgw.errors import OrderError
from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import (NewOrderSingle, BusinessMessageReject, ExecType, ExecutionReport, OrderCancelReject,
                              OrderGroupResponse, OrderMassCancelReport, OrdStatus, SessionReject)
from fixgw.models.rest import Fill, MarginFill, MarginPosition, MarketPosition, EventPosition
from harness import gateway_config, make_account

EV = "KXHIGHNY-26NOV21-T50"
EV2 = "KXHIGHNY-26NOV21-T60"
MG = "BTC-PERP"


def _start(tmp_path, sim, name, product, kind="NR", **kw):
    acct = make_account(tmp_path, sim.keys, product, account=name)
    return acct, dict(name=f"{name}-{product}-{kind.lower()}", product=product, type=kind, account=acct, **kw)


@pytest.fixture
def market(tmp_path, sim):
    """alice and bob, each with an event NR (alice in cents, bob in dollars) and a margin NR session."""
    a_ev = _start(tmp_path, sim, "alice", "event")
    a_mg = _start(tmp_path, sim, "alice", "margin")
    b_ev = _start(tmp_path, sim, "bob", "event", use_dollars=True)
    b_mg = _start(tmp_path, sim, "bob", "margin")
    sim.start()
    gws = {}
    for who, sessions in (("alice", [a_ev[1], a_mg[1]]), ("bob", [b_ev[1], b_mg[1]])):
        gw = Gateway(gateway_config(tmp_path / who, sim, sessions, tier="prime"))
        gw.sub = gw.subscribe()
        gws[who] = gw.start()
    for gw in gws.values():
        gw.wait_logged_on(timeout=20)
    yield gws
    for gw in gws.values():
        gw.stop()


def ack(handle, kind=ExecutionReport):
    msg = handle.wait(10)
    assert isinstance(msg, kind), msg
    return msg


def fills_of(gw) -> list:
    gw.dispatcher.flush()
    out = []
    while True:
        try:
            ev = gw.sub.get(timeout=0.01)
        except Exception:
            return out
        if ev.fill is not None:
            out.append(ev.fill)


def as_json(model) -> dict:
    return json.loads(model.model_dump_json())


def same(ours: list[dict], theirs: list[dict], what: str) -> None:
    """Field-by-field equality, naming the first field that differs."""
    assert len(ours) == len(theirs), f"{what}: {len(ours)} from the gateway, {len(theirs)} at the exchange"
    for i, (a, b) in enumerate(zip(ours, theirs)):
        diff = {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
        assert not diff, f"{what}[{i}] differs (gateway, exchange): {diff}"


def test_event_and_margin_accounts_trade_and_match_the_exchange_ledger(market, sim):
    alice, bob = market["alice"], market["bob"]
    A, B = "alice-event-nr", "bob-event-nr"
    # bob offers YES at 0.60 (10); alice lifts 4 of it: a partial fill, alice the taker
    b1 = bob.new_order(B, EV, "sell", "0.60", 10)
    assert ack(b1).exec_type is ExecType.NEW
    t = ack(alice.new_order(A, EV, "buy", "0.60", 4))
    assert t.exec_type is ExecType.TRADE and t.last_qty == 4 and t.last_px == Decimal("0.60") and t.aggressor
    # bob improves his remaining 6 to 0.58 (replace), alice sells YES (= buys NO) at 0.55, bob takes all 3
    r = ack(bob.replace(B, b1.request.cl_ord_id, quantity=10, price="0.58"))
    assert r.exec_type is ExecType.REPLACED and r.price == Decimal("0.58")
    a2 = alice.new_order(A, EV, "no", "0.55", 3)
    ack(a2)
    ack(bob.new_order(B, EV, "buy", "0.56", 3))  # fills all of alice's NO order at 0.55
    # alice's IOC for 20 at 0.58 fills bob's 6 and the rest is cancelled
    ioc = ack(alice.new_order(A, EV, "buy", "0.58", 20, time_in_force="ioc"))
    assert ioc.exec_type is ExecType.TRADE and ioc.last_qty == 6
    # a cancel, a mass cancel, an order-group trigger
    a3 = alice.new_order(A, EV2, "buy", "0.30", 5)
    ack(a3)
    c = ack(alice.cancel(A, a3.request.cl_ord_id))
    assert c.exec_type is ExecType.CANCELED and c.ord_status is OrdStatus.CANCELED
    ack(bob.new_order(B, EV2, "sell", "0.90", 1))
    ack(bob.new_order(B, EV2, "sell", "0.91", 1))
    mc = ack(bob.mass_cancel(B), OrderMassCancelReport)
    assert mc.response == 6 and mc.total_affected == 2
    grp = ack(alice.order_group(A, "create", contracts_limit=100), OrderGroupResponse)
    g1 = alice.new_order(A, EV2, "buy", "0.20", 5, order_group_id=grp.order_group_id)
    ack(g1)
    ack(alice.order_group(A, "trigger", order_group_id=grp.order_group_id), OrderGroupResponse)
    # a trade inside the group's market after the trigger: bob sells into nothing, rests
    # margin: alice bids 3 @ 101.5, bob hits 2 of it, then bob bids and alice sells 5 (flip)
    ack(alice.new_order("alice-margin-nr", MG, "bid", "101.5000", 3))
    ack(bob.new_order("bob-margin-nr", MG, "ask", "101.5000", 2))
    ack(bob.new_order("bob-margin-nr", MG, "bid", "102.2500", 5))
    ack(alice.new_order("alice-margin-nr", MG, "ask", "102.2500", 5))

    for who, gw in market.items():
        fills = fills_of(gw)
        event_fills = [as_json(f) for f in fills if isinstance(f, Fill)]
        margin_fills = [as_json(f) for f in fills if isinstance(f, MarginFill)]
        ledger = sim.cmd(cmd="ledger", product="event", account=who)
        assert event_fills
        same(event_fills, [as_json(Fill.model_validate(f)) for f in ledger["fills"]], f"{who} fills")
        mledger = sim.cmd(cmd="ledger", product="margin", account=who)
        assert margin_fills
        same(margin_fills, [as_json(MarginFill.model_validate(f)) for f in mledger["fills"]], f"{who} margin fills")
        pos = gw.positions()
        same([as_json(p) for p in pos["market_positions"]],
             [as_json(MarketPosition.model_validate(p)) for p in ledger["positions"]["market_positions"]],
             f"{who} market positions")
        same([as_json(p) for p in pos["event_positions"]],
             [as_json(EventPosition.model_validate(p)) for p in ledger["positions"]["event_positions"]],
             f"{who} event positions")
        same([as_json(p) for p in gw.margin_positions()],
             [as_json(MarginPosition.model_validate(p)) for p in mledger["positions"]["positions"]],
             f"{who} margin positions")
    # the orders view follows the same reports
    states = {o.client_order_id: o.status for o in alice.orders()}
    assert states[a3.request.cl_ord_id] == "canceled" and states[g1.request.cl_ord_id] == "canceled"


def test_reject_paths_are_models_with_kalshi_reasons(market, sim):
    alice, bob = market["alice"], market["bob"]
    A, B = "alice-event-nr", "bob-event-nr"
    # 103/58: an order for an order group the exchange does not know
    rej = ack(alice.new_order(A, EV, "buy", "0.40", 1, order_group_id=str(uuid.uuid4())))
    assert (rej.exec_type, rej.ord_rej_reason, rej.text) == (ExecType.REJECTED, 11, "ORDER_GROUP_NOT_FOUND")
    # 102: replace below the filled quantity
    a1 = alice.new_order(A, EV, "buy", "0.45", 10)
    ack(a1)
    ack(bob.new_order(B, EV, "sell", "0.45", 6))
    cxl = ack(alice.replace(A, a1.request.cl_ord_id, quantity=3), OrderCancelReject)
    assert cxl.reason == 2 and cxl.response_to == 2 and cxl.text == "INVALID_AMEND_QTY_FOR_ORDER"
    # the order is still live for 4 and can be cancelled
    assert ack(alice.cancel(A, a1.request.cl_ord_id)).leaves_qty == 0
    # 380: an order-group request for a group that does not exist
    bmr = ack(alice.order_group(A, "reset", order_group_id=str(uuid.uuid4())), BusinessMessageReject)
    assert bmr.reason == 0 and bmr.ref_msg_type == "UOG" and bmr.text == "ORDER_GROUP_NOT_FOUND"
    # 373: a malformed message (a tag the exchange does not define) comes back as a session Reject model
    import quickfix as fix
    m = fix.Message()
    m.getHeader().setField(fix.StringField(35, "D"))
    for tag, value in ((11, "raw-1"), (38, "1"), (40, "2"), (44, "40"), (54, "1"), (55, EV), (333333, "x")):
        m.setField(fix.StringField(tag, value))
    sub = alice.subscribe()
    assert fix.Session.sendToTarget(m, alice._session_id(A))
    for _ in range(20):
        ev = sub.get(timeout=10)
        if isinstance(ev.message, SessionReject):
            break
    assert ev.message.reason in (0, 3) and ev.message.ref_tag_id == 333333  # QuickFIX says 0, Kalshi's doc 3
    assert alice.status()[0].state == "logged-on"


INVALID = [
    (dict(price="0.00"), "outside"),
    (dict(price="1.00"), "outside"),
    (dict(price="0.12345"), "decimal places"),
    (dict(quantity="1.5"), "whole number"),
    (dict(quantity=0), "quantity 0 must be greater than 0"),
    (dict(side="sideways"), "side 'sideways'"),
    (dict(price=0.5), "float"),
    (dict(quantity="1e30"), r"quantity 1E\+30 is above the limit of 1000000 contracts per order \(limits.max_quantity\)"),
    (dict(quantity=99_999_999_999), "quantity 99999999999 is above the limit of 1000000 contracts"),
    (dict(symbol="K" * 10_000), r"symbol is 10000 characters \('KKKKKKKKKKKKKKKKKKKK'...\); the limit is 128"),
]


def test_invalid_requests_fail_locally_and_send_nothing(market, sim):
    bob, alice = market["bob"], market["alice"]
    before = sim.cmd(cmd="received")["count"]
    for kwargs, message in INVALID:
        args = dict(session="bob-event-nr", symbol=EV, side="buy", price="0.50", quantity=1) | kwargs
        with pytest.raises(OrderError, match=message):
            bob.new_order(**args)
    with pytest.raises(OrderError, match="replace of unknown order 'nope'"):
        bob.replace("bob-event-nr", "nope", quantity=1)
    with pytest.raises(OrderError, match="not a whole number of cents"):
        alice.new_order("alice-event-nr", EV, "buy", "0.555", 1)  # alice trades in cents
    with pytest.raises(OrderError, match="more than 4 decimal places"):
        bob.new_order("bob-margin-nr", MG, "bid", "101.00001", 1)
    assert sim.cmd(cmd="received")["count"] == before


def test_a_plain_order_with_known_values_takes_the_express_lane_and_reaches_the_exchange_alike(market, sim):
    """The second order with the same values is checked from the session's lane (fixgw.fix.fastorder.Lane):
    same wire text but for the ClOrdID, the same model as its ack's request, and reuse is still refused."""
    alice = market["alice"]
    reg = alice.runtime("alice-event-nr").registry
    first = alice.new_order("alice-event-nr", EV, "buy", "0.07", 2, time_in_force="gtc", cl_ord_id="plain-1")
    assert reg.lane.express("probe", EV, "buy", "0.07", 2, "gtc") is not None  # learned from the generic lane
    second = alice.new_order("alice-event-nr", EV, "buy", "0.07", 2, time_in_force="gtc", cl_ord_id="plain-2")
    a, b = ack(first), ack(second)
    assert (a.cl_ord_id, b.cl_ord_id) == ("plain-1", "plain-2")
    assert (a.price, a.order_qty, a.side, a.time_in_force) == (b.price, b.order_qty, b.side, b.time_in_force)
    assert first.request.model_dump(exclude={"cl_ord_id"}) == second.request.model_dump(exclude={"cl_ord_id"})
    assert type(second.request) is NewOrderSingle and second.request.price == Decimal("0.07")
    before = sim.cmd(cmd="received")["count"]
    with pytest.raises(OrderError, match="ClOrdID 'plain-2' was already used on alice-event-nr"):
        alice.new_order("alice-event-nr", EV, "buy", "0.07", 2, time_in_force="gtc", cl_ord_id="plain-2")
    with pytest.raises(OrderError, match="must be 1-64 characters"):
        alice.new_order("alice-event-nr", EV, "buy", "0.07", 2, time_in_force="gtc", cl_ord_id="no spaces")
    assert sim.cmd(cmd="received")["count"] == before
    for cl in ("plain-1", "plain-2"):
        assert isinstance(alice.cancel("alice-event-nr", cl).wait(10), ExecutionReport)


def test_asyncio_programs_await_acks_and_iterate_events(market):
    import asyncio
    alice, bob = market["alice"], market["bob"]

    async def main():
        events = alice.subscribe_async()
        await bob.new_order("bob-event-nr", EV, "sell", "0.70", 2)
        report = await alice.new_order("alice-event-nr", EV, "buy", "0.70", 2)
        assert report.exec_type is ExecType.TRADE
        async for event in events:
            if event.fill is not None:
                events.close()
                return event

    event = asyncio.run(asyncio.wait_for(main(), 20))
    assert event.fill.count_fp == 2 and event.fill.yes_price_dollars == Decimal("0.70")
    assert event.position.position_fp == 2  # the WebSocket market_position shape rides along


def test_callbacks_run_on_the_dispatcher_thread_and_cannot_hurt_the_gateway(market):
    import threading
    alice, bob = market["alice"], market["bob"]
    seen = []

    def bad(event):
        raise RuntimeError("a bug in the caller's callback")

    alice.on_event(bad)
    alice.on_event(lambda e: seen.append((threading.current_thread().name, e)))
    ack(bob.new_order("bob-event-nr", EV, "sell", "0.71", 1))
    ack(alice.new_order("alice-event-nr", EV, "buy", "0.71", 1))
    alice.dispatcher.flush()
    assert seen and {name for name, _ in seen} == {"fixgw-dispatch"}
    assert any(e.fill is not None for _, e in seen)
    assert ack(alice.new_order("alice-event-nr", EV, "buy", "0.10", 1)).exec_type is ExecType.NEW


def test_rate_limiter_refuses_before_kalshi_would(tmp_path, sim):
    from fixgw.ratelimit import RateLimited
    acct, s = _start(tmp_path, sim, "carol", "event")
    sim.start()
    with Gateway(gateway_config(tmp_path / "carol", sim, [s], tier="basic", rate_limit_mode="refuse")) as gw:
        gw.wait_logged_on(timeout=15)
        before = sim.cmd(cmd="received")["count"]
        sent = []
        with pytest.raises(RateLimited, match="client-side rate limit reached; retry in"):
            for i in range(40):
                sent.append(gw.new_order(s["name"], EV, "buy", "0.05", 1))
        # Basic: a one-second bucket of 10 writes (a slow machine may earn a token back meanwhile)
        assert 10 <= len(sent) < 40
        for h in sent:
            ack(h)
        assert sim.cmd(cmd="received")["count"] == before + len(sent)  # the refused one never left


def test_settlement_reports_reach_rt_sessions_that_asked(tmp_path, sim):
    a_rt = _start(tmp_path, sim, "dave", "event", "RT", receive_settlement_reports=True)
    b_nr = _start(tmp_path, sim, "erin", "event")
    sim.start()
    with Gateway(gateway_config(tmp_path / "dave", sim, [a_rt[1]])) as dave, \
            Gateway(gateway_config(tmp_path / "erin", sim, [b_nr[1]])) as erin:
        dave.wait_logged_on(timeout=15)
        erin.wait_logged_on(timeout=15)
        sub = dave.subscribe()
        ack(erin.new_order("erin-event-nr", EV, "sell", "0.30", 5))
        ack(dave.new_order("dave-event-rt", EV, "buy", "0.30", 5))
        sim.cmd(cmd="settle", product="event", symbol=EV, result="yes")
        for _ in range(20):
            event = sub.get(timeout=10)
            if event.settlement is not None:
                break
        st = as_json(event.settlement)
        assert st["market_result"] == "yes" and st["yes_count_fp"] == "5.00" and st["revenue"] == 500
        assert st["yes_total_cost_dollars"] == "1.5000"
        ledger = sim.cmd(cmd="ledger", product="event", account="dave")["positions"]
        assert [as_json(p) for p in dave.positions()["market_positions"]] == ledger["market_positions"] == []


def _raw_order(gw, session: str, symbol: str, price_text: str, qty_text: str = "1.00"):
    """A NewOrderSingle whose Price(44) and OrderQty(38) are written as given, past every local check."""
    from fixgw.adapter import encode as codec
    from fixgw.fix import codec as fields
    from fixgw.models.fix import NewOrderSingle, Side
    from fixgw.orders import new_cl_ord_id
    rt = gw.runtime(session)
    req = NewOrderSingle(cl_ord_id=new_cl_ord_id(), symbol=symbol, side=Side.BUY, order_qty=Decimal(1),
                         price=Decimal("0.5") if rt.config.product.value == "event" else Decimal("100"))
    msg_type, pairs = fields.encode(req, rt.units)
    pairs = [(t, {44: price_text, 38: qty_text}.get(t, v)) for t, v in pairs]
    answer = rt.registry.register(req.cl_ord_id, req)
    assert gw._session(session).send(codec.to_message(msg_type, pairs, rt.config.product.value))
    return answer


@pytest.mark.parametrize("who, session, symbol, price", [
    ("alice", "alice-event-nr", EV, "55.5"),        # cents session: a sub-cent price is off its tick
    ("bob", "bob-event-nr", EV, "0.12345"),         # dollars: more than 4 decimals
    ("bob", "bob-margin-nr", MG, "100.00001"),      # margin: more than 4 decimals
])
def test_the_simulator_rejects_an_off_tick_price_with_a_reject_report(market, sim, who, session, symbol, price):
    rej = ack(_raw_order(market[who], session, symbol, price))
    assert (rej.exec_type, rej.ord_status, rej.ord_rej_reason, rej.text) == (
        ExecType.REJECTED, OrdStatus.REJECTED, 11, "INVALID_ORDER")
    assert rej.avg_px == 0 and rej.cum_qty == 0 and rej.leaves_qty == 0 and rej.price is None
    assert rej.order_qty == 1
    # a quantity finer than a report can carry is rejected too, and answered without it
    rej = ack(_raw_order(market[who], session, symbol, "50" if who == "alice" else "0.5000", qty_text="1.234"))
    assert (rej.exec_type, rej.ord_rej_reason, rej.text, rej.order_qty) == (ExecType.REJECTED, 13, "INVALID_ORDER",
                                                                            None)
    assert market[who].status()[0].state == "logged-on"


def test_the_simulator_echoes_use_dollars_on_margin_logons(market, tmp_path):
    def logons_in(who: str, session: str) -> list[str]:
        log = (tmp_path / who / "log" / f"{session}.messages.log").read_text()
        return [ln for ln in log.splitlines() if " : IN  " in ln and "|35=A|" in ln]

    margin = logons_in("bob", "bob-margin-nr") + logons_in("alice", "alice-margin-nr")
    assert margin and all("|21005=Y|" in ln for ln in margin), margin
