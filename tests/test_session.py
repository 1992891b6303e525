"""Acceptance: a seeded random session of an FCM member (three sub-traders) and two accounts.

Orders, partial fills, YES<->NO flips, cancels, replaces and yes/no/scalar
settlements, over TLS against the simulator. At the end, per account and per
sub-trader, every view - fills, positions (unsettled, settled, all; both
schema profiles), orders, settlements, balance, FCM fills - from the
order-entry gateway and from the recorder equals the simulator's ledger (the
oracle) field by field, and the recorder's equals the gateway's.

``FIXGW_SESSION_ORDERS`` (default 100) and ``FIXGW_SESSION_SEED`` (default 9)
size and seed it; e.g. ``FIXGW_SESSION_ORDERS=2000`` for a larger run.
"""

from __future__ import annotations

import io
import json
import os
import random
import time
import uuid
from decimal import Decimal

import jsonschema

from fixgw.errors import OrderError
from fixgw.gateway import Gateway
from fixgw.models.fix import MarketSettlementReport
from fixgw.models.rest import Fill, MarketPosition, Settlement
from fixgw.recorder.service import Recorder
from fixgw.recorder.store import open_store
from fixgw.recorder.views import Query
from fixgw.settlements import sending_time
from harness import gateway_config, make_account
from seed_schemas import fcm_positions_schema, positions_validator

ORDERS = int(os.environ.get("FIXGW_SESSION_ORDERS", "100"))
SEED = int(os.environ.get("FIXGW_SESSION_SEED", "9"))
MARKETS = ["KXRAIN-26NOV21-T1", "KXRAIN-26NOV21-T2", "KXSNOW-26NOV21-T1", "KXSNOW-26NOV21-T2"]
RESULTS = {MARKETS[0]: ("yes", None), MARKETS[1]: ("no", None), MARKETS[2]: ("scalar", "0.35")}  # T2 stays open
SUBS = [str(uuid.uuid4()) for _ in range(3)]


def js(models) -> list:
    return [json.loads(m.model_dump_json()) for m in models]


def wait_for(predicate, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def drain(sub, into: list) -> int:
    """Move the events waiting on a subscription into ``into``; the number of settlement reports so far."""
    while True:
        try:
            into.append(sub.get(timeout=0.01))
        except Exception:
            return sum(isinstance(e.message, MarketSettlementReport) for e in into)


def test_random_session_every_view_equals_the_exchange(tmp_path, sim):
    rnd = random.Random(SEED)
    keys = {}
    for who in ("fcm", "alice", "bob"):
        subs = SUBS if who == "fcm" else None
        keys[who] = {n: make_account(tmp_path, sim.keys, "event", account=who, subtraders=subs)
                     for n in ("rt", "listener", "dc")}
    sim.start()
    gws, recorders, stores, subs_of = {}, {}, {}, {}
    for who in ("fcm", "alice", "bob"):
        gws[who] = Gateway(gateway_config(tmp_path / who, sim, [dict(
            name=f"{who}-rt", product="event", type="RT", receive_settlement_reports=True, account=keys[who]["rt"],
            # the recorder never sees pending reports (its listener skips them): the same here, since
            # Orders takes initial_count from the first report seen (a pending one carries 38)
            skip_pending=True)],
            tier="prime", party_id=who)).start()
        subs_of[who] = gws[who].subscribe()
        url = f"sqlite:///{tmp_path / f'{who}.db'}"
        stores[who] = open_store(url)
        recorders[who] = Recorder(gateway_config(tmp_path / f"rec-{who}", sim, [
            dict(name="listener", product="event", type="RT", listener=True, receive_settlement_reports=True,
                 account=keys[who]["listener"]),
            dict(name="dc", product="event", type="DC", account=keys[who]["dc"])],
            recorder={"store": url, "account": who}, party_id=who), stores[who], account=who, flush_s=0.01,
            out=io.StringIO()).start()
    try:
        for g in [*gws.values(), *(r.gateway for r in recorders.values())]:
            g.wait_logged_on(timeout=30)
        wait_for(lambda: all("recording from the live stream" in r.out.getvalue() for r in recorders.values()),
                 "the recorders")
        actors = [("alice", None), ("bob", None)] + [("fcm", s) for s in SUBS]
        live: list[tuple[str, str | None, str]] = []  # (account, sub-trader, current ClOrdID)
        for _ in range(ORDERS):
            roll = rnd.random()
            if live and roll < 0.15:  # cancel
                who, sub, cl = live.pop(rnd.randrange(len(live)))
                try:
                    gws[who].cancel(f"{who}-rt", cl).wait(10)
                except OrderError:
                    pass
                continue
            if live and roll < 0.30:  # replace: new quantity, maybe a new price
                i = rnd.randrange(len(live))
                who, sub, cl = live[i]
                try:
                    ack = gws[who].replace(f"{who}-rt", cl, quantity=rnd.randint(1, 12),
                                           price=f"0.{rnd.randint(30, 70)}" if rnd.random() < 0.5 else None)
                    ack.wait(10)
                    live[i] = (who, sub, ack.request.cl_ord_id)
                except OrderError:
                    live.pop(i)
                continue
            who, sub = rnd.choice(actors)
            ack = gws[who].new_order(f"{who}-rt", rnd.choice(MARKETS), rnd.choice(["buy", "sell"]),
                                     f"0.{rnd.randint(30, 70)}", rnd.randint(1, 10),
                                     time_in_force="ioc" if rnd.random() < 0.2 else None, subtrader_id=sub)
            ack.wait(10)
            live.append((who, sub, ack.request.cl_ord_id))
        seen: dict[str, list] = {}
        for market, (result, value) in RESULTS.items():
            sim.cmd(cmd="settle", product="event", symbol=market, result=result, value=value)
        for who in gws:  # one UMS per settled market the account (or a sub-trader of it) held
            owners = SUBS if who == "fcm" else [None]
            held = {st["ticker"] for o in owners
                    for st in sim.cmd(cmd="ledger", product="event", account=who, subtrader=o)["settlements"]}
            wait_for(lambda: stores[who].count(who, "event") == len(sim.cmd(cmd="dropcopy", account=who)["exec_ids"])
                     and len(stores[who].settlements(who, "event")) == len(held), f"{who}'s recorder")
            seen[who] = []
            wait_for(lambda: drain(subs_of[who], seen[who]) == len(held), f"{who}'s gateway settlements")
        compared = bodies = n_fills = n_settled = 0
        for who, sub in actors:
            gw, store = gws[who], stores[who]
            oracle = sim.cmd(cmd="ledger", product="event", account=who, subtrader=sub)
            # fills, as the gateway emitted them
            ums = [e for e in seen[who] if isinstance(e.message, MarketSettlementReport)]
            fills = [e.fill for e in seen[who] if e.fill is not None and e.message.subtrader == sub]
            assert js(fills) == js(Fill.model_validate(f) for f in oracle["fills"]), (who, sub, "fills")
            n_fills, n_settled = n_fills + len(fills), n_settled + len(oracle["settlements"])
            q = Query(store, who, subtrader=sub, party_id=who)
            assert js(q.fills()) == js(fills), (who, sub, "recorder fills")
            compared += 2
            # positions: the exchange lists the unsettled ones
            kw = {"subtrader_id": sub} if sub else {}
            body = gw.fcm_positions(sub) if sub else {"market_positions": gw.positions()["market_positions"]}
            assert js(body["market_positions"]) == \
                js(MarketPosition.model_validate(p) for p in oracle["positions"]["market_positions"]), (who, sub)
            compared += 1
            for status in ("unsettled", "settled", "all"):
                for profile in ("default", "seed"):
                    ours = gw.positions_json(profile=profile, settlement_status=status, **kw)
                    recorded = Query(store, who, subtrader=sub, party_id=who, settlement_status=status) \
                        .positions_json(profile)
                    assert ours == recorded, (who, sub, status, profile)
                    if profile == "seed":
                        if sub:
                            jsonschema.validate(ours, fcm_positions_schema())
                        else:
                            positions_validator().validate(ours)
                        bodies += 1
                    compared += 1
            # orders: gateway and recorder
            orders = gw.fcm_orders(sub) if sub else gw.orders()
            by_id = {o.order_id: json.loads(o.model_dump_json()) for o in orders if o.order_id != "NONE"}
            rec = {o.order_id: json.loads(o.model_dump_json()) for o in q.orders()}
            assert by_id.keys() == rec.keys(), (who, sub, "orders")
            for oid in by_id:
                diff = {k: (by_id[oid].get(k), rec[oid].get(k)) for k in by_id[oid].keys() | rec[oid].keys()
                        if by_id[oid].get(k) != rec[oid].get(k)}
                assert not diff, (who, sub, "order", oid, diff)
            compared += 1
            # settlements: each copy of a report carries its own SendingTime
            stored = {s.symbol: sending_time(s.raw) for s in store.settlements(who, "event")}
            received = {e.message.symbol: sending_time(e.raw) for e in ums}
            theirs = oracle["settlements"]
            for ours, times in ((gw.settlements(subtrader_id=sub), received), (q.settlements(), stored)):
                assert js(ours) == js(Settlement.model_validate({**s, "settled_time": times[s["ticker"]]})
                                      for s in theirs), (who, sub, "settlements")
                compared += 1
            # balance
            assert js([gw.balance(subtrader_id=sub)]) == js([q.balance()[0]]) == [oracle["balance"]], (who, sub)
            compared += 2
        assert js(gws["fcm"].fcm_fills()) == js(Query(stores["fcm"], "fcm").fcm_fills())
        compared += 1
        assert compared == 5 * 14 + 1 and bodies == 5 * 3
        assert n_fills >= ORDERS // 10 and n_settled >= 3, (n_fills, n_settled)  # the session did trade and settle
    finally:
        for g in gws.values():
            g.stop()
        for r in recorders.values():
            r.stop()
        for s in stores.values():
            s.close()
