"""Issue 12: the path of one ExecutionReport through the live gateway, as the README tells it.

A real Gateway (its application, dispatcher thread, registries and ledgers; no network) is
handed a real ``quickfix.Message`` parsed against the session's dictionaries, through the
guarded ``fromApp`` as QuickFIX's thread calls it. A profile hook on both threads records
every fixgw function that runs; the modules they belong to must be the README's list, in
its order, each entered once.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
from decimal import Decimal

import pytest
import quickfix as fix

from fixgw.adapter import encode
from fixgw.adapter.gateway import Gateway
from fixgw.fix import codec, dictionary
from fixgw.models.fix import (CollateralChange, ExecType, ExecutionReport, MiscFee, NewOrderSingle, OrdStatus,
                              Side)
from fixgw.testing.launch import SimProcess, gateway_config, make_account

# The README's "How one ExecutionReport flows", in order.
FLOW = ["fixgw.adapter.application", "fixgw.dispatch", "fixgw.fix.codec", "fixgw.orders", "fixgw.translate",
        "fixgw.positions"]
# Code that is a part of one step rather than a step: the guard wraps the application's callbacks;
# the codec splits the text (wire), converts values by its tables (codec_tables) and the price
# rules of pricing; the dispatcher hands the Event to each subscription's queue (subscription).
# Each is checked below to be entered only from inside its step.
PART_OF = {"fixgw.adapter.guard": "fixgw.adapter.application", "fixgw.fix.wire": "fixgw.fix.codec",
           "fixgw.fix.codec_tables": "fixgw.fix.codec", "fixgw.pricing": "fixgw.fix.codec",
           "fixgw.subscription": "fixgw.dispatch"}
DATA = "fixgw.models."  # data shapes: the pydantic models' own validators are not a step


def _module(frame) -> str | None:
    """The fixgw module whose code runs in ``frame`` (walking out of data shapes), else None."""
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name.startswith("fixgw.") and not name.startswith(DATA):
            return name
        frame = frame.f_back
    return None


class Trace:
    """Calls into fixgw code per thread: (callee module, caller module or None)."""

    def __init__(self) -> None:
        self.on = False
        self.calls: dict[str, list[tuple[str, str | None]]] = {}

    def __call__(self, frame, event, arg) -> None:
        if not self.on or event != "call":
            return
        name = frame.f_globals.get("__name__", "")
        if name.startswith("fixgw.") and not name.startswith(DATA):
            self.calls.setdefault(threading.current_thread().name, []).append((name, _module(frame.f_back)))

    def modules(self, thread: str | None = None) -> set[str]:
        threads = [thread] if thread else list(self.calls)
        return {callee for t in threads for callee, _ in self.calls.get(t, [])}

    def entries(self, thread: str) -> list[str]:
        """The steps in the order they were entered from another step, repeats in a row collapsed."""
        out: list[str] = []
        for callee, caller in self.calls.get(thread, []):
            step = PART_OF.get(callee, callee)
            if (caller is None or PART_OF.get(caller, caller) != step) and (not out or out[-1] != step):
                out.append(step)
        return out

    def check_parts(self) -> None:
        for calls in self.calls.values():
            for callee, caller in calls:
                if callee in PART_OF and callee != "fixgw.adapter.guard":
                    assert caller is not None and PART_OF.get(caller, caller) == PART_OF[callee], (callee, caller)
                if caller == "fixgw.adapter.guard":  # the guard calls nothing but the callback it wraps
                    assert callee in ("fixgw.adapter.guard", "fixgw.adapter.application"), callee


@pytest.fixture
def traced(tmp_path):
    """(gateway, its session's runtime, the trace, SessionID): the dispatcher thread is profiled
    from its start, QuickFIX's side (this thread) while ``feed`` runs."""
    trace = Trace()
    sim = SimProcess(tmp_path / "sim")  # not started: only its ports and keys make the config
    acct = make_account(tmp_path / "keys", sim.keys, "event", account="a")
    cfg = gateway_config(tmp_path / "gw", sim, [dict(name="nr", product="event", type="NR", account=acct)])
    threading.setprofile(trace)
    try:
        gw = Gateway(cfg)
    finally:
        threading.setprofile(None)
    yield gw, gw.runtime("nr"), trace, fix.SessionID("FIXT.1.1", acct.api_key_id, "KalshiNR")
    trace.on = False


def report(rt, exec_id: str, cl_ord_id: str, order_id: str) -> fix.Message:
    """A Kalshi Trade report with its fee and its cash change, as QuickFIX parses it from the wire."""
    er = ExecutionReport(
        order_id=order_id, exec_id=exec_id, exec_type=ExecType.TRADE, ord_status=OrdStatus.PARTIALLY_FILLED,
        side=Side.BUY, symbol="KXHIGHNY-26NOV21-T50", cum_qty=Decimal(4), leaves_qty=Decimal(6),
        cl_ord_id=cl_ord_id, order_qty=Decimal(10), price=Decimal("0.60"), avg_px=Decimal("0.60"),
        last_px=Decimal("0.60"), last_qty=Decimal(4), last_mkt=0,
        transact_time=dt.datetime(2026, 11, 21, 12, tzinfo=dt.timezone.utc), long_qty=Decimal(4),
        short_qty=Decimal(0), trd_match_id=f"t-{exec_id}", aggressor=True,
        fees=(MiscFee(amount=Decimal("0.07"), currency="USD", fee_type="4", basis=0),),
        collateral=(CollateralChange(amount=Decimal("-2.47"), kind="BALANCE"),))
    msg_type, pairs = codec.encode(er, rt.units)
    m = encode.to_message(msg_type, pairs, "event")
    header = m.getHeader()
    for tag, value in ((8, "FIXT.1.1"), (49, "KalshiNR"), (56, rt.config.api_key_id), (34, "2"),
                       (52, "20261121-12:00:00.000")):
        header.setField(fix.StringField(tag, value))
    transport = fix.DataDictionary(str(dictionary.transport_path()))
    return fix.Message(m.toString(), transport, fix.DataDictionary(str(dictionary.path("event"))), False)


def feed(gw, trace: Trace, message: fix.Message, sid) -> None:
    """``fromApp`` on this thread (QuickFIX's part), then the dispatcher's part, traced."""
    trace.on = True
    sys.setprofile(trace)
    try:
        gw.app.fromApp(message, sid)
    finally:
        sys.setprofile(None)


def test_a_plain_report_runs_in_six_modules_in_the_readmes_order_each_entered_once(traced):
    gw, rt, trace, sid = traced
    events = gw.subscribe()
    message = report(rt, "1000;5000", "someone-else", "o-1")
    feed(gw, trace, message, sid)
    quickfix_thread = threading.current_thread().name
    event = events.get(timeout=10)  # the dispatcher's part is done when the event is out
    trace.on = False
    assert event.fill is not None and event.fill.count_fp == Decimal(4) and event.position.position_fp == 4
    assert gw.balance().balance_dollars == Decimal("-2.47") and event.error is None
    trace.check_parts()
    steps = {PART_OF.get(m, m) for m in trace.modules()}
    assert steps == set(FLOW) and len(steps) <= 6
    # QuickFIX's thread reads the text, queues it and counts it: nothing is decoded there
    assert trace.entries(quickfix_thread) == FLOW[:2]
    assert {PART_OF.get(m, m) for m in trace.modules(quickfix_thread)} == set(FLOW[:2])
    assert trace.entries("fixgw-dispatch") == FLOW[2:]
    assert rt.metrics.msgs_in == {"8": 1} and rt.metrics.last_in is not None and rt.metrics.rejects_in == 0


def test_a_report_answering_a_waiting_request_is_decoded_and_its_ack_resolved_on_quickfixs_thread(traced):
    gw, rt, trace, sid = traced
    events = gw.subscribe()
    ack = rt.registry.register("c-1", NewOrderSingle(cl_ord_id="c-1", symbol="KXHIGHNY-26NOV21-T50", side=Side.BUY,
                                                     order_qty=Decimal(10), price=Decimal("0.60")))
    rt.registry.sent(2, "c-1")
    message = report(rt, "1000;5001", "c-1", "o-2")
    quickfix_thread = threading.current_thread().name
    feed(gw, trace, message, sid)
    assert ack.done and ack.wait(0).exec_id == "1000;5001"  # resolved before fromApp returned
    assert trace.entries(quickfix_thread) == FLOW[:4]
    event = events.get(timeout=10)
    trace.on = False
    assert event.message is ack.wait(0) and event.fill is not None
    trace.check_parts()
    assert {PART_OF.get(m, m) for m in trace.modules()} == set(FLOW)
    assert trace.entries("fixgw-dispatch") == FLOW[4:]  # already decoded: translated and booked
    # the registry timed the round trip into the counts the session's metrics report
    assert rt.metrics.order_ack.count == 1 and rt.metrics.summary()["acks"] == 1
    assert rt.metrics.snapshot()["in_flight"] == 0
