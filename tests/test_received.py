"""Issue 10: every inbound ExecutionReport reaches the application; gaps on NR/DC never stall.

Real simulator over TLS; the simulator spoils its own reports on the way out
(``fixgw.sim.faults``) while its ledger keeps the truth, which is the oracle.
"""

from __future__ import annotations

import json
import logging

import pytest

from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import ExecType, ExecutionReport
from fixgw.models.rest import Fill, MarketPosition
from harness import gateway_config, make_account, wait_for

EV = "KXHIGHNY-26NOV21-T50"


def as_json(model) -> dict:
    return json.loads(model.model_dump_json())


@pytest.fixture
def pair(tmp_path, sim):
    """alice trades on an event NR session (plus KalshiDC when asked), bob is the other side."""
    made = {}

    def start(alice_dc: bool = False, log_messages: bool = True):
        a = make_account(tmp_path, sim.keys, "event", account="alice")
        b = make_account(tmp_path, sim.keys, "event", account="bob")
        sessions = [dict(name="alice-nr", product="event", type="NR", account=a)]
        if alice_dc:
            dc = make_account(tmp_path, sim.keys, "event", account="alice")
            sessions.append(dict(name="alice-dc", product="event", type="DC", account=dc))
        sim.start()
        alice = Gateway(gateway_config(tmp_path / "alice", sim, sessions, tier="prime", log_messages=log_messages))
        bob = Gateway(gateway_config(tmp_path / "bob", sim, [dict(name="bob-nr", product="event", type="NR",
                                                                  account=b)], tier="prime"))
        made.update(alice=alice.start(), bob=bob.start(), alice_key=a.api_key_id)
        alice.wait_logged_on(timeout=20)
        bob.wait_logged_on(timeout=20)
        return made

    yield start
    for gw in (made.get("alice"), made.get("bob")):
        if gw is not None:
            gw.stop()


def trade(alice, bob, qty: int = 2, price: str = "0.60"):
    """bob rests, alice takes: alice's ack is the Trade report."""
    assert bob.new_order("bob-nr", EV, "sell", price, qty).wait(10).exec_type is ExecType.NEW
    return alice.new_order("alice-nr", EV, "buy", price, qty)


GROUP_TAG = dict(kind="group-tag", tag=32, value="7.00")


@pytest.mark.parametrize("fault, check, log_messages", [
    (dict(kind="value", tag=39, value="Z"), lambda er: er.ord_status == "Z" and not hasattr(er.ord_status, "name"), True),
    (dict(kind="value", tag=1057, value="1"), lambda er: er.aggressor is None, True),
    (dict(kind="duplicate", tag=32), lambda er: er.last_qty == 2, True),
    (GROUP_TAG, lambda er: er.fee_total > 0 and er.last_qty == 2, True),
    # QuickFIX's re-serialisation loses where the extra tag stood: only the wire text (from the
    # event line of patch 10, the messages log being off) decodes as sent
    (GROUP_TAG, lambda er: er.fee_total > 0 and er.last_qty == 2, False),
], ids=["new-OrdStatus", "new-AggressorIndicator", "duplicated-LastQty", "extra-tag-in-fee-group",
        "extra-tag-in-fee-group-no-message-log"])
def test_a_report_the_dictionary_refuses_still_fills(pair, sim, caplog, fault, check, log_messages):
    gws = pair(log_messages=log_messages)
    alice, bob = gws["alice"], gws["bob"]
    sub = alice.subscribe()
    sim.cmd(cmd="fault", account="alice", product="event", target="KalshiNR", **fault)
    with caplog.at_level(logging.WARNING, logger="fixgw"):
        report = trade(alice, bob).wait(10)
        assert isinstance(report, ExecutionReport) and report.exec_type is ExecType.TRADE, report
        assert check(report), report
        applied = sim.cmd(cmd="faults")["applied"]
        assert [a["exec_id"] for a in applied] == [report.exec_id]
        # the fill is in alice's fills and positions exactly as the exchange has it
        alice.dispatcher.flush()
        fills, raw = [], None
        while True:
            try:
                ev = sub.get(timeout=0.5)
            except Exception:
                break
            if ev.fill is not None:
                fills.append(as_json(ev.fill))
            if isinstance(ev.message, ExecutionReport) and ev.message.exec_id == report.exec_id:
                raw = ev.raw
        # what fixgw decoded (and a recorder would store) is the text as sent, not QuickFIX's
        # re-serialisation of it, with the messages log on or off (patch 10: then the event line brings it)
        sent = [line.split(" : OUT ", 1)[1] for log in sim.state.rglob("*.messages.log")
                for line in log.read_text().splitlines() if " : OUT " in line and f"|17={report.exec_id}|" in line]
        assert raw is not None and [raw.replace("\x01", "|")] == sent
        ledger = sim.cmd(cmd="ledger", product="event", account="alice")
        exchange = [as_json(Fill.model_validate(f)) for f in ledger["fills"]]
        assert len(fills) == len(exchange) == 1
        if fault["tag"] != 1057:  # a taker flag the dictionary does not know is not guessed
            assert fills == exchange
        else:
            assert {k: v for k, v in fills[0].items() if k != "is_taker"} == \
                   {k: v for k, v in exchange[0].items() if k != "is_taker"}
        with alice.dispatcher.state_lock:
            ours = alice.dispatcher.ledger.market_positions(0)
        assert [as_json(p) for p in ours] == \
               [as_json(MarketPosition.model_validate(p)) for p in ledger["positions"]["market_positions"]]
        # the session stays up; the anomaly is flagged, counted and logged with session, tag and value
        status = {s.name: s for s in alice.status()}["alice-nr"]
        assert status.state == "logged-on"
        assert any(a.tag == fault["tag"] for a in report.anomalies), report.anomalies
        assert status.metrics["anomalies"] >= 1
        assert any("session=alice-nr event=anomaly" in r.getMessage() and f"tag={fault['tag']} " in r.getMessage()
                   for r in caplog.records), [r.getMessage() for r in caplog.records]
    # and the session keeps trading
    assert trade(alice, bob, qty=1).wait(10).exec_type is ExecType.TRADE


def test_a_gap_on_nr_is_taken_recorded_and_recovered_through_drop_copy(pair, sim, caplog):
    gws = pair(alice_dc=True)
    alice, bob = gws["alice"], gws["bob"]
    sub = alice.subscribe()
    assert trade(alice, bob).wait(10).exec_type is ExecType.TRADE  # an ExecID to recover from
    sim.cmd(cmd="fault", kind="lose", account="alice", product="event", target="KalshiNR")
    with caplog.at_level(logging.WARNING, logger="fixgw"):
        lost = trade(alice, bob, qty=3)  # its Trade report never reaches KalshiNR: a MsgSeqNum gap
        wait_for(lambda: sim.cmd(cmd="faults")["applied"], 10, "the report to be lost")
        # the next message on NR is taken at once (no ResendRequest that KalshiNR never answers)
        rest = alice.new_order("alice-nr", EV, "buy", "0.10", 1).wait(10)
        assert isinstance(rest, ExecutionReport) and rest.exec_type is ExecType.NEW
        status = {s.name: s for s in alice.status()}["alice-nr"]
        assert status.state == "logged-on" and "MsgSeqNum gap from KalshiNR" in (status.last_error or "")
        assert status.metrics["seq_gaps"] == 1
        assert any("session=alice-nr event=seq-gap" in r.getMessage() for r in caplog.records)
        # KalshiDC replays from the last ExecID seen: the lost fill is applied (once) and even answers its ack
        recovered = lost.wait(10)
        assert isinstance(recovered, ExecutionReport) and recovered.exec_type is ExecType.TRADE
        assert recovered.exec_id == sim.cmd(cmd="faults")["applied"][0]["exec_id"]
        alice.dispatcher.flush()
        ledger = sim.cmd(cmd="ledger", product="event", account="alice")
        wait_for(lambda: len(alice.dispatcher.ledger._seen) == len(ledger["fills"]), 10, "the fill to be applied")
        with alice.dispatcher.state_lock:
            ours = alice.dispatcher.ledger.market_positions(0)
        assert [as_json(p) for p in ours] == \
               [as_json(MarketPosition.model_validate(p)) for p in ledger["positions"]["market_positions"]]
    events, fills = [], []
    while True:
        try:
            ev = sub.get(timeout=0.5)
        except Exception:
            break
        events.append(ev)
        if ev.fill is not None:
            fills.append(as_json(ev.fill))
    assert any(ev.message is None and "MsgSeqNum gap" in (ev.error or "") for ev in events)
    exchange = [as_json(Fill.model_validate(f)) for f in ledger["fills"]]
    assert sorted(fills, key=str) == sorted(exchange, key=str)  # every fill once, none twice
