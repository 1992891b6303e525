"""Acceptance: an FCM member trades for its sub-traders against the simulator over TLS.

Every order on behalf of a sub-trader carries one party (453=1, 448=UUID,
452=24); the simulator echoes it, books each sub-trader separately and is the
oracle: the gateway's GET /fcm/positions, /fcm/orders and /fcm/fills bodies
must equal the simulator's ledger per sub-trader, field by field.
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

import pytest

from fixgw.fix import codec as fields
from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import ExecType, ExecutionReport, MarketSettlementReport, NewOrderSingle, Party, Side
from fixgw.models.rest import EventPosition, MarketPosition
from fixgw.pricing import Units
from harness import gateway_config, make_account

EV = "KXHIGHNY-26NOV21-T50"
SUBS = [str(uuid.uuid4()) for _ in range(3)]
A, B, C = SUBS


def as_json(model) -> dict:
    return json.loads(model.model_dump_json())


def ack(handle, kind=ExecutionReport):
    msg = handle.wait(10)
    assert isinstance(msg, kind), msg
    return msg


@pytest.fixture
def fcm(tmp_path, sim):
    """An FCM member "fcm" with three sub-traders, and a market maker "mm"."""
    f = make_account(tmp_path, sim.keys, "event", account="fcm", subtraders=SUBS)
    m = make_account(tmp_path, sim.keys, "event", account="mm")
    sim.start()
    gws = {}
    for who, acct in (("fcm", f), ("mm", m)):
        cfg = gateway_config(tmp_path / who, sim, [dict(name=f"{who}-nr", product="event", type="NR", account=acct)],
                             tier="prime")
        gws[who] = Gateway(cfg).start()
    for gw in gws.values():
        gw.wait_logged_on(timeout=20)
    yield gws
    for gw in gws.values():
        gw.stop()


def test_parties_round_trip_through_the_codec():
    req = NewOrderSingle(cl_ord_id="x", symbol=EV, side=Side.BUY, order_qty=1, price="0.5",
                         parties=(Party(party_id=A, role=24),))
    mt, pairs = fields.encode(req, Units.DOLLARS)
    assert [p for p in pairs if p[0] in (453, 448, 452)] == [(453, "1"), (448, A), (452, "24")]
    er = fields.decode("8", [(37, "o"), (17, "1;1"), (150, "0"), (39, "0"), (54, "1"), (55, EV), (14, "0"),
                             (151, "1"), (453, "1"), (448, A), (452, "24")], Units.DOLLARS)
    assert er.parties == (Party(party_id=A, role=24),) and er.subtrader == A


def test_two_subtraders_keep_two_positions_equal_to_the_exchange(fcm, sim):
    """Defect 2: A buys 5 YES and B buys 3 NO: two positions, not one of +2 with invented PnL."""
    gw, mm = fcm["fcm"], fcm["mm"]
    ack(mm.new_order("mm-nr", EV, "sell", "0.60", 10))
    ack(mm.new_order("mm-nr", EV, "buy", "0.40", 10))
    a = ack(gw.new_order("fcm-nr", EV, "buy", "0.60", 5, subtrader_id=A))
    assert a.exec_type is ExecType.TRADE and a.subtrader == A  # the party is echoed
    b = ack(gw.new_order("fcm-nr", EV, "no", "0.40", 3, subtrader_id=B))
    assert b.exec_type is ExecType.TRADE and b.parties == (Party(party_id=B, role=24),)
    for sub, position in ((A, "5.00"), (B, "-3.00")):
        body = gw.fcm_positions(sub)
        ledger = sim.cmd(cmd="ledger", product="event", account="fcm", subtrader=sub)
        ours = [as_json(p) for p in body["market_positions"]]
        assert ours == [as_json(MarketPosition.model_validate(p)) for p in ledger["positions"]["market_positions"]]
        assert [as_json(p) for p in body["event_positions"]] == \
            [as_json(EventPosition.model_validate(p)) for p in ledger["positions"]["event_positions"]]
        assert ours[0]["position_fp"] == position and ours[0]["realized_pnl_dollars"] == "0.0000"
        orders = gw.fcm_orders(sub)
        assert [o.order_id for o in orders] == [f["order_id"] for f in ledger["fills"]]
    assert gw.positions()["market_positions"] == []  # the member's own book is untouched
    rows = [as_json(r) for r in gw.fcm_fills()]
    mm_fills = sim.cmd(cmd="ledger", product="event", account="mm")["fills"]
    assert [r["fill_id"] for r in rows] == [f["fill_id"] for f in mm_fills]
    assert rows[0]["taker_subtrader_id"] == A and rows[0]["taker_outcome_side"] == "yes"
    assert rows[1]["taker_subtrader_id"] == B and rows[1]["taker_outcome_side"] == "no"
    assert "maker_subtrader_id" not in rows[0]


def test_a_trade_between_two_subtraders_is_one_fcm_fill_with_both_sides(fcm, sim):
    gw = fcm["fcm"]
    maker = ack(gw.new_order("fcm-nr", EV, "sell", "0.55", 4, subtrader_id=A))
    r = ack(gw.replace("fcm-nr", maker.cl_ord_id, quantity=6, price="0.54"))  # the party goes along
    assert r.exec_type is ExecType.REPLACED and r.subtrader == A
    t = ack(gw.new_order("fcm-nr", EV, "buy", "0.54", 2, subtrader_id=C))
    assert t.exec_type is ExecType.TRADE
    c = ack(gw.cancel("fcm-nr", r.cl_ord_id))
    assert c.exec_type is ExecType.CANCELED and c.subtrader == A
    [row] = [as_json(x) for x in gw.fcm_fills()]
    fill = sim.cmd(cmd="ledger", product="event", account="fcm", subtrader=C)["fills"][0]
    assert row["fill_id"] == fill["fill_id"] and row["count_fp"] == "2.00" and row["yes_price_dollars"] == "0.5400"
    assert (row["maker_subtrader_id"], row["taker_subtrader_id"]) == (A, C)
    assert row["taker_outcome_side"] == "yes" and row["taker_fee_cost"] == fill["fee_cost"]
    assert row["maker_fee_cost"] == "0.0000"
    for sub in (A, C):
        ledger = sim.cmd(cmd="ledger", product="event", account="fcm", subtrader=sub)
        assert [as_json(p) for p in gw.fcm_positions(sub)["market_positions"]] == \
            [as_json(MarketPosition.model_validate(p)) for p in ledger["positions"]["market_positions"]]
    statuses = {o.client_order_id: o.status for o in gw.fcm_orders(A)}
    assert statuses == {r.cl_ord_id: "canceled"}


def test_orders_without_the_right_party_are_refused_as_the_documents_say(fcm, sim):
    gw, mm = fcm["fcm"], fcm["mm"]
    none = ack(gw.new_order("fcm-nr", EV, "buy", "0.20", 1))
    assert (none.exec_type, none.ord_rej_reason, none.text) == (ExecType.REJECTED, 15, "CUSTOMER_ACCOUNT_NOT_FOUND")
    stranger = ack(gw.new_order("fcm-nr", EV, "buy", "0.20", 1, subtrader_id=str(uuid.uuid4())))
    assert (stranger.ord_rej_reason, stranger.text) == (15, "PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT")
    not_fcm = ack(mm.new_order("mm-nr", EV, "buy", "0.20", 1, subtrader_id=A))
    assert (not_fcm.ord_rej_reason, not_fcm.text) == (15, "PERMISSION_DENIED_FOR_CUSTOMER_ACCOUNT")
    assert gw.fcm_fills() == [] and sim.cmd(cmd="ledger", product="event", account="fcm", subtrader=A)["fills"] == []


def test_settlement_reports_settle_each_subtrader_at_the_reports_own_time(tmp_path, sim):
    """Defect 4: each entry of the UMS is this account's sub-trader's own; the time is the report's."""
    from fixgw.models.fix import MarketSettlementReport
    from fixgw.models.rest import Settlement
    from fixgw.settlements import sending_time

    f = make_account(tmp_path, sim.keys, "event", account="fcm", subtraders=SUBS)
    m = make_account(tmp_path, sim.keys, "event", account="mm")
    sim.start()
    with Gateway(gateway_config(tmp_path / "fcm", sim, [dict(name="fcm-rt", product="event", type="RT", account=f,
                                                             receive_settlement_reports=True)])) as gw, \
            Gateway(gateway_config(tmp_path / "mm", sim, [dict(name="mm-nr", product="event", type="NR",
                                                               account=m)])) as mm:
        gw.wait_logged_on(timeout=20)
        mm.wait_logged_on(timeout=20)
        sub = gw.subscribe()
        ack(mm.new_order("mm-nr", EV, "sell", "0.60", 10))
        ack(mm.new_order("mm-nr", EV, "buy", "0.40", 10))
        ack(gw.new_order("fcm-rt", EV, "buy", "0.60", 5, subtrader_id=A))
        ack(gw.new_order("fcm-rt", EV, "no", "0.40", 3, subtrader_id=B))
        sim.cmd(cmd="settle", product="event", symbol=EV, result="yes")
        for _ in range(50):
            event = sub.get(timeout=10)
            if isinstance(event.message, MarketSettlementReport):
                break
        assert event.error is None and {p.party_id for p in event.message.parties} == {A, B}
        when = sending_time(event.raw)
        for who, revenue in ((A, 500), (B, 0)):
            [ours] = [as_json(s) for s in gw.settlements(subtrader_id=who)]
            [theirs] = sim.cmd(cmd="ledger", product="event", account="fcm", subtrader=who)["settlements"]
            # the simulator's row lacks only the time QuickFIX stamped on the report (52)
            assert ours == as_json(Settlement.model_validate({**theirs, "settled_time": when}))
            assert ours["revenue"] == revenue
            assert gw.fcm_positions(who)["market_positions"] == []  # settled: out of the unsettled view
            [row] = [as_json(p) for p in gw.fcm_positions(who, settlement_status="settled")["market_positions"]]
            assert row["position_fp"] == "0.00" and row["market_exposure_dollars"] == "0.0000"
            cost = ours["yes_total_cost_dollars"] if who == A else ours["no_total_cost_dollars"]
            assert Decimal(row["realized_pnl_dollars"]) == Decimal(revenue) / 100 - Decimal(cost)
            assert gw.fcm_positions(who, settlement_status="all")["market_positions"][0].ticker == EV
            # cash: every BALANCE change of the fills and the PAYOUT, as the exchange booked it
            bal = as_json(gw.balance(subtrader_id=who))
            assert bal == sim.cmd(cmd="ledger", product="event", account="fcm", subtrader=who)["balance"]
        assert as_json(gw.balance(subtrader_id=A))["balance_dollars"] == "1.9100"  # -3.00, fee -0.09, payout +5.00
        assert gw.settlements() == []  # the member itself held nothing


def test_seed_profile_bodies_validate_against_the_seed_schemas(fcm, sim):
    """Every positions body and market_position message in the seed profile, checked by real validators."""
    import jsonschema

    from seed_schemas import fcm_positions_schema, positions_validator, ws_market_position_schema

    gw, mm = fcm["fcm"], fcm["mm"]
    events = gw.subscribe()
    ack(mm.new_order("mm-nr", EV, "sell", "0.60", 10))
    ack(mm.new_order("mm-nr", EV, "buy", "0.40", 10))
    ack(gw.new_order("fcm-nr", EV, "buy", "0.60", 5, subtrader_id=A))
    ack(gw.new_order("fcm-nr", EV, "no", "0.40", 3, subtrader_id=B))
    ack(gw.new_order("fcm-nr", EV, "buy", "0.61", 2, subtrader_id=A))  # A takes 2 more at 0.60
    ack(mm.new_order("mm-nr", EV, "buy", "0.30", 4))
    ack(gw.new_order("fcm-nr", EV, "sell", "0.40", 4, subtrader_id=A))  # A sells 4 YES to mm's bid: partly closes
    ack(gw.new_order("fcm-nr", EV, "buy", "0.35", 7, subtrader_id=A))  # rests
    fcm_schema, portfolio = fcm_positions_schema(), positions_validator()
    bodies = 0
    for who in SUBS:
        for status in ("unsettled", "settled", "all"):
            body = gw.positions_json(subtrader_id=who, profile="seed", settlement_status=status)
            jsonschema.validate(body, fcm_schema)
            portfolio.validate({**body, "event_positions": [
                {**e, "resting_orders_count": e["resting_order_count"]} for e in body["event_positions"]]})
            bodies += 1
    for status in ("unsettled", "all"):
        body = mm.positions_json(profile="seed", settlement_status=status)
        portfolio.validate(body)
        bodies += 1
    a = gw.positions_json(subtrader_id=A, profile="seed")
    rows = {r["ticker"]: r for r in a["market_positions"]}
    assert rows[EV]["position"] == 3 and rows[EV]["position_fp"] == "3.00"
    assert rows[EV]["resting_orders_count"] == 7
    assert rows[EV]["total_traded"] == round(float(rows[EV]["total_traded_dollars"]) * 100)
    assert a["event_positions"][0]["resting_order_count"] == 7 and a["cursor"] == ""
    default = gw.positions_json(subtrader_id=A)  # the default profile is today's JSON, no integer twins
    assert "position" not in default["market_positions"][0] and "cursor" not in default
    ws = ws_market_position_schema()
    updates = 0
    while True:
        try:
            event = events.get(timeout=0.5)
        except Exception:
            break
        if event.position is not None:
            from fixgw.profiles import dump
            jsonschema.validate({"type": "market_position", "sid": 1, "msg": dump(event.position, "seed")}, ws)
            updates += 1
    assert bodies == 11 and updates == 4


def test_margin_subtraders_keep_their_own_positions(tmp_path, sim):
    from fixgw.models.rest import MarginFill, MarginPosition

    f = make_account(tmp_path, sim.keys, "margin", account="fcm", subtraders=SUBS)
    m = make_account(tmp_path, sim.keys, "margin", account="mm")
    sim.start()
    with Gateway(gateway_config(tmp_path / "fcm", sim, [dict(name="fcm-m", product="margin", type="NR",
                                                             account=f)], tier="prime")) as gw, \
            Gateway(gateway_config(tmp_path / "mm", sim, [dict(name="mm-m", product="margin", type="NR",
                                                               account=m)], tier="prime")) as mm:
        gw.wait_logged_on(timeout=20)
        mm.wait_logged_on(timeout=20)
        events = gw.subscribe()
        ack(mm.new_order("mm-m", "BTC-PERP", "ask", "101.5000", 5))
        ack(mm.new_order("mm-m", "BTC-PERP", "bid", "100.0000", 5))
        ack(gw.new_order("fcm-m", "BTC-PERP", "bid", "101.5000", 3, subtrader_id=A))  # A long 3
        ack(gw.new_order("fcm-m", "BTC-PERP", "ask", "100.0000", 2, subtrader_id=B))  # B short 2
        assert ack(gw.new_order("fcm-m", "BTC-PERP", "bid", "101.5000", 1)).text == "CUSTOMER_ACCOUNT_NOT_FOUND"
        gw.dispatcher.flush()
        fills = []
        while True:
            try:
                event = events.get(timeout=0.2)
            except Exception:
                break
            if event.fill is not None:
                fills.append((event.message.subtrader, as_json(event.fill)))
        for who, position in ((A, "3.00"), (B, "-2.00")):
            ledger = sim.cmd(cmd="ledger", product="margin", account="fcm", subtrader=who)
            ours = [as_json(p) for p in gw.margin_positions(subtrader_id=who)]
            assert ours == [as_json(MarginPosition.model_validate(p)) for p in ledger["positions"]["positions"]]
            assert ours[0]["position"] == position
            assert [f for s, f in fills if s == who] == [as_json(MarginFill.model_validate(x)) for x in ledger["fills"]]
        assert gw.margin_positions() == []


def test_a_settlement_closes_the_market_in_every_subaccount():
    """Review finding: settlements closed subaccount 0 only; a position in subaccount 2 stayed open."""
    import datetime as dt

    from fixgw import settlements
    from fixgw.models.fix import SettlementParty
    from fixgw.positions import Ledger
    from test_positions import fill

    led = Ledger()
    led.add(fill("yes", "3", "0.40", ticker=EV))
    led.add(fill("yes", "2", "0.50", ticker=EV).model_copy(update={"subaccount_number": 2}))
    ums = MarketSettlementReport(report_id="r1", symbol=EV, clearing_business_date="20261122", market_result="yes",
                                 parties=(SettlementParty(party_id="me"),))
    [(who, _, settlement)] = settlements.apply(ums, dt.datetime(2026, 11, 22, tzinfo=dt.timezone.utc), "me", (),
                                               lambda w: led)
    assert who is None and settlement.yes_total_cost_dollars == Decimal("2.2")
    assert led.market_positions(0) == [] and led.market_positions(2) == []
