"""Acceptance: the recorder's views of an FCM member equal the gateway's and the simulator's.

An FCM member trades for three sub-traders; the recorder (an RT listener that
asked for settlement reports, and KalshiDC) stores every report and the
settlement report. Its GET /fcm/positions (every settlement_status), /fcm/orders,
/fcm/fills and /portfolio/settlements equal the order-entry gateway's, and the
settlements equal the simulator's ledger, field by field.
"""

from __future__ import annotations

import io
import json
import time
import uuid

from click.testing import CliRunner

from fixgw.cli import cli
from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import ExecutionReport
from fixgw.models.rest import Settlement
from fixgw.recorder.service import Recorder
from fixgw.recorder.store import open_store
from fixgw.recorder.views import Query
from fixgw.settlements import sending_time
from harness import gateway_config, make_account

EV, EV2 = "KXHIGHNY-26NOV21-T50", "KXHIGHNY-26NOV21-T60"
SUBS = [str(uuid.uuid4()) for _ in range(3)]
A, B, C = SUBS


def as_json(models) -> list:
    return [json.loads(m.model_dump_json()) for m in models]


def ack(handle):
    msg = handle.wait(10)
    assert isinstance(msg, ExecutionReport), msg
    return msg


def wait_for(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_recorder_fcm_views_and_settlements_equal_the_gateway_and_the_exchange(tmp_path, sim):
    keys = {n: make_account(tmp_path, sim.keys, "event", account="fcm", subtraders=SUBS) for n in ("nr", "rt", "dc")}
    mm_key = make_account(tmp_path, sim.keys, "event", account="mm")
    sim.start()
    url = f"sqlite:///{tmp_path / 'fcm.db'}"
    rec_cfg = gateway_config(tmp_path / "rec", sim, [
        dict(name="listener", product="event", type="RT", listener=True, receive_settlement_reports=True,
             account=keys["rt"]),
        dict(name="dc", product="event", type="DC", account=keys["dc"])],
        recorder={"store": url, "account": "fcm", "flush_ms": 10})
    store = open_store(url)
    said = io.StringIO()
    recorder = Recorder(rec_cfg, store, account="fcm", flush_s=0.01, out=said).start()
    gw = Gateway(gateway_config(tmp_path / "fcm", sim, [dict(name="fcm-nr", product="event", type="RT",
                                                            receive_settlement_reports=True, account=keys["nr"])],
                                tier="prime"))
    mm = Gateway(gateway_config(tmp_path / "mm", sim, [dict(name="mm-nr", product="event", type="NR",
                                                           account=mm_key)], tier="prime"))
    try:
        gw.start(), mm.start()
        for g in (gw, mm, recorder.gateway):
            g.wait_logged_on(timeout=20)
        wait_for(lambda: "recording from the live stream" in said.getvalue(), "the live stream")
        sub = gw.subscribe()
        ack(mm.new_order("mm-nr", EV, "sell", "0.60", 10))
        ack(mm.new_order("mm-nr", EV, "buy", "0.40", 10))
        ack(gw.new_order("fcm-nr", EV, "buy", "0.60", 5, subtrader_id=A))  # A +5 YES
        ack(gw.new_order("fcm-nr", EV, "no", "0.40", 3, subtrader_id=B))  # B -3 (NO)
        maker = ack(gw.new_order("fcm-nr", EV2, "sell", "0.30", 4, subtrader_id=A))
        ack(gw.new_order("fcm-nr", EV2, "buy", "0.30", 4, subtrader_id=C))  # A sells C YES: one FcmFill
        ack(gw.cancel("fcm-nr", ack(gw.new_order("fcm-nr", EV2, "buy", "0.10", 2, subtrader_id=B)).cl_ord_id))
        assert maker.subtrader == A
        sim.cmd(cmd="settle", product="event", symbol=EV, result="yes")
        ums = None
        while ums is None:
            event = sub.get(timeout=10)
            ums = event if event.message.__class__.__name__ == "MarketSettlementReport" else None
        wait_for(lambda: len(store.settlements("fcm", "event")) == 1
                 and store.count("fcm", "event") == len(sim.cmd(cmd="dropcopy", account="fcm")["exec_ids"]),
                 "the recorder to store everything")
        compared = 0
        for who in SUBS:
            for status in ("unsettled", "settled", "all"):
                ours = Query(store, "fcm", subtrader=who, settlement_status=status).positions()
                assert {k: as_json(v) for k, v in ours.items()} == \
                    {k: as_json(v) for k, v in gw.fcm_positions(who, settlement_status=status).items()}, (who, status)
                compared += 1
            assert as_json(Query(store, "fcm", subtrader=who).orders()) == as_json(gw.fcm_orders(who))
            theirs = sim.cmd(cmd="ledger", product="event", account="fcm", subtrader=who)
            # each session's copy of the report carries its own SendingTime: the settlement's time
            stored_at = sending_time(store.settlements("fcm", "event")[0].raw)
            for ours, when in ((Query(store, "fcm", subtrader=who).settlements(), stored_at),
                               (gw.settlements(subtrader_id=who), sending_time(ums.raw))):
                assert as_json(ours) == as_json(Settlement.model_validate({**s, "settled_time": when})
                                                for s in theirs["settlements"])
            positions = Query(store, "fcm", subtrader=who).positions()["market_positions"]
            assert [p["ticker"] for p in as_json(positions)] == \
                [p["ticker"] for p in theirs["positions"]["market_positions"]]
            ours_bal, since = Query(store, "fcm", subtrader=who).balance()
            assert as_json([ours_bal]) == as_json([gw.balance(subtrader_id=who)]) == [theirs["balance"]]
            assert since is not None
            compared += 4
        assert as_json(Query(store, "fcm").fcm_fills()) == as_json(gw.fcm_fills())
        assert len(gw.fcm_fills()) == 3
        own = Query(store, "fcm").positions()
        assert own["market_positions"] == [] and own["event_positions"] == []  # the member held nothing itself
        # the same through the CLI
        out = CliRunner().invoke(cli, ["settlements", "--store", url, "--account", "fcm", "--subtrader", A])
        assert out.exit_code == 0, out.output
        assert [json.loads(line) for line in out.output.splitlines()] == \
            as_json(Query(store, "fcm", subtrader=A).settlements())
        out = CliRunner().invoke(cli, ["positions", "--store", url, "--account", "fcm", "--subtrader", A,
                                       "--settlement-status", "settled"])
        assert json.loads(out.output)["market_positions"][0]["ticker"] == EV
        out = CliRunner().invoke(cli, ["balance", "--store", url, "--account", "fcm", "--subtrader", A,
                                       "--start", "100.00"])
        start100 = sim.cmd(cmd="ledger", product="event", account="fcm", subtrader=A, start="100.00")["balance"]
        assert out.exit_code == 0 and json.loads(out.stdout) == start100 and "change since" not in out.stderr
        out = CliRunner().invoke(cli, ["balance", "--store", url, "--account", "fcm", "--subtrader", A])
        assert "no starting balance given" in out.stderr and "this is the change since 20" in out.stderr
        import jsonschema
        from seed_schemas import fcm_positions_schema

        for who in SUBS:  # the recorder's seed-profile bodies: the gateway's, and valid against seed 002
            out = CliRunner().invoke(cli, ["positions", "--store", url, "--account", "fcm", "--subtrader", who,
                                           "--settlement-status", "all", "--profile", "seed"])
            body = json.loads(out.output)
            jsonschema.validate(body, fcm_positions_schema())
            assert body == gw.positions_json(subtrader_id=who, profile="seed", settlement_status="all")
        out = CliRunner().invoke(cli, ["fcm-fills", "--store", url, "--account", "fcm"])
        assert [json.loads(line) for line in out.output.splitlines()] == as_json(gw.fcm_fills())
        assert compared == 21
    finally:
        gw.stop(), mm.stop()
        recorder.stop()
        store.close()



def test_recorder_applies_the_accounts_own_settlement_and_its_party(tmp_path, sim):
    """Defect 4 in the recorder: settlements were never stored, so settled markets stayed open for ever."""
    keys = {n: make_account(tmp_path, sim.keys, "event", account="dave") for n in ("nr", "rt", "dc")}
    mm_key = make_account(tmp_path, sim.keys, "event", account="mm")
    sim.start()
    url = f"sqlite:///{tmp_path / 'dave.db'}"
    rec_cfg = gateway_config(tmp_path / "rec", sim, [
        dict(name="listener", product="event", type="RT", listener=True, receive_settlement_reports=True,
             account=keys["rt"]),
        dict(name="dc", product="event", type="DC", account=keys["dc"])],
        recorder={"store": url, "account": "dave", "flush_ms": 10}, party_id="dave")
    store = open_store(url)
    said = io.StringIO()
    recorder = Recorder(rec_cfg, store, account="dave", flush_s=0.01, out=said).start()
    gw = Gateway(gateway_config(tmp_path / "dave", sim, [dict(name="dave-nr", product="event", type="NR",
                                                             account=keys["nr"])]))
    mm = Gateway(gateway_config(tmp_path / "mm", sim, [dict(name="mm-nr", product="event", type="NR",
                                                           account=mm_key)]))
    try:
        gw.start(), mm.start()
        for g in (gw, mm, recorder.gateway):
            g.wait_logged_on(timeout=20)
        wait_for(lambda: "recording from the live stream" in said.getvalue(), "the live stream")
        ack(mm.new_order("mm-nr", EV, "buy", "0.45", 10))
        ack(gw.new_order("dave-nr", EV, "no", "0.45", 6))  # dave: 6 NO at 0.55
        ack(mm.new_order("mm-nr", EV2, "sell", "0.20", 2))
        ack(gw.new_order("dave-nr", EV2, "buy", "0.20", 2))  # a market that stays open
        sim.cmd(cmd="settle", product="event", symbol=EV, result="no")
        wait_for(lambda: len(store.settlements("dave", "event")) == 1
                 and store.count("dave", "event") == len(sim.cmd(cmd="dropcopy", account="dave")["exec_ids"]),
                 "the recorder to store everything")
        theirs = sim.cmd(cmd="ledger", product="event", account="dave")
        when = sending_time(store.settlements("dave", "event")[0].raw)
        ours = Query(store, "dave").settlements()
        assert as_json(ours) == as_json(Settlement.model_validate({**s, "settled_time": when})
                                        for s in theirs["settlements"])
        assert as_json(ours)[0]["revenue"] == 600 and as_json(ours)[0]["no_count_fp"] == "6.00"
        open_view = Query(store, "dave").positions()
        assert [p.ticker for p in open_view["market_positions"]] == [EV2] == \
            [p["ticker"] for p in theirs["positions"]["market_positions"]]
        assert [p.ticker for p in Query(store, "dave", settlement_status="settled").positions()["market_positions"]] \
            == [EV]
        assert [p.ticker for p in Query(store, "dave", settlement_status="all").positions()["market_positions"]] \
            == [EV, EV2]
        bal, _ = Query(store, "dave").balance()
        assert as_json([bal]) == [theirs["balance"]]
    finally:
        gw.stop(), mm.stop()
        recorder.stop()
        store.close()
