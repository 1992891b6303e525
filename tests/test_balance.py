"""Acceptance: GET /portfolio/balance from the CollateralAmountChanges, against the simulator's cash books.

alice starts from a configured balance, trades YES, flips to NO (pairs redeem
for $1), trades margin, and her market settles; bob has no starting balance,
so his figure is the change since the first report his gateway saw.
"""

from __future__ import annotations

import json

from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import ExecutionReport, MarketSettlementReport
from harness import gateway_config, make_account

EV, MG = "KXHIGHNY-26NOV21-T50", "BTC-PERP"


def ack(handle):
    msg = handle.wait(10)
    assert isinstance(msg, ExecutionReport), msg
    return msg


def test_balance_follows_every_balance_and_payout_change(tmp_path, sim):
    accts = {(who, p): make_account(tmp_path, sim.keys, p, account=who)
             for who in ("alice", "bob") for p in ("event", "margin")}
    sim.start()

    def sessions(who):
        return [dict(name=f"{who}-event", product="event", type="RT", receive_settlement_reports=True,
                     account=accts[(who, "event")]),
                dict(name=f"{who}-margin", product="margin", type="NR", account=accts[(who, "margin")])]

    alice = Gateway(gateway_config(tmp_path / "alice", sim, sessions("alice"), tier="prime",
                                   starting_balance="1000.00")).start()
    bob = Gateway(gateway_config(tmp_path / "bob", sim, sessions("bob"), tier="prime")).start()
    try:
        alice.wait_logged_on(timeout=20)
        bob.wait_logged_on(timeout=20)
        sub = alice.subscribe()
        ack(bob.new_order("bob-event", EV, "sell", "0.60", 10))
        ack(alice.new_order("alice-event", EV, "buy", "0.60", 6))  # alice +6 YES, pays 3.60 + fee
        ack(bob.new_order("bob-event", EV, "buy", "0.55", 4))
        ack(alice.new_order("alice-event", EV, "no", "0.55", 4))  # 4 NO against 4 YES: 4 pairs redeem $1
        ack(alice.new_order("alice-margin", MG, "bid", "101.5000", 3))
        ack(bob.new_order("bob-margin", MG, "ask", "101.5000", 3))
        ack(bob.new_order("bob-margin", MG, "bid", "103.0000", 2))
        ack(alice.new_order("alice-margin", MG, "ask", "103.0000", 2))  # alice realizes 2 x 1.50
        sim.cmd(cmd="settle", product="event", symbol=EV, result="yes")
        while not isinstance(sub.get(timeout=10).message, MarketSettlementReport):
            pass
        for who, gw, start in (("alice", alice, "1000.00"), ("bob", bob, "0")):
            for product in ("event", "margin"):
                theirs = sim.cmd(cmd="ledger", product=product, account=who, start=start)["balance"]
                ours = json.loads(gw.balance(product=product).model_dump_json())
                assert ours == theirs, (who, product)
        assert json.loads(alice.balance().model_dump_json())["balance"] > 100_000 - 400  # cents, from $1000
        assert bob.dispatcher.cash.since is not None  # bob's figure is the change since this point
        assert bob.balance(start="50").balance_dollars == bob.balance().balance_dollars + 50
    finally:
        alice.stop()
        bob.stop()


def test_updated_ts_is_the_latest_change_in_whatever_order_changes_are_folded():
    """Found by the randomized session: the recorder folds every stored report, then every stored
    settlement, so a trade after a settlement lost to it: updated_ts went back to the settlement's."""
    import datetime as dt
    from decimal import Decimal

    from fixgw.positions import Cash
    from fixgw.models.fix import CollateralChange

    t0 = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc)
    later = t0 + dt.timedelta(seconds=1)
    cash = Cash()
    cash.add("2;1", "event", None, (CollateralChange(amount=Decimal("-0.40"), kind="BALANCE"),), later)
    cash.add("UMS:x:alice", "event", None, (CollateralChange(amount=Decimal("1.00"), kind="PAYOUT"),), t0)
    bal = cash.balance("event")
    assert (bal.updated_ts, bal.balance_dollars, cash.since) == (int(later.timestamp()), Decimal("0.60"), t0)
