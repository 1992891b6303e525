"""Acceptance (issue 9): a seeded randomized trading session; every REST view equals the exchange's.

Three accounts trade against the simulator over TLS through their own
order-entry gateways: alice (event contracts in cents, and margin), bob (event
contracts in dollars, and margin) and "fcm", an FCM member trading for three
sub-traders. ``random.Random(seed)`` drives new orders (GTC and IOC), cancels
and replaces; a scripted opening makes sure the session holds a YES->NO flip, a
margin long->short flip in one fill and a short->long flip over several fills,
and markets settle yes, no and scalar as it goes. One drop-copy recorder per
account (an RT listener that asked for settlement reports plus KalshiDC, per
product) stores everything in its own SQLite file.

At the end, every view - fills, orders, positions with event rows (unsettled,
settled, all), settlements, balance, the FCM views per sub-trader (positions,
orders, fills, settlements, balance) and /fcm/fills, margin fills, positions,
orders and balance - from the gateway and from the recorder (``Query``, and its
command line) equals the simulator's own ledger field by field, in both schema
profiles; the seed profile's bodies are validated against the seed schemas as
well. After every step the test waits until each gateway has every report the
exchange sent, so one seed is one session (the same choices, the same trades).

What the simulator's ledger lacks, and how it is compared:
* a settlement's ``settled_time`` is the SendingTime QuickFIX stamps on each
  session's copy of the report, so it is compared to that report's own time
  (gateway) and checked present (recorder); every other field to the ledger.
* positions of settled markets: the ledger lists unsettled ones (Kalshi's
  default); ``settled``/``all`` are compared between gateway and recorder, and
  each settled row must have position 0.
* /fcm/fills: the ledger keeps fills per sub-trader; the FcmFill rows are built
  from them by trade id (maker and taker sides), compared sorted by fill_id.

Size: ``FIXGW_SESSION_SIZE`` random actions (default 300), ``FIXGW_SESSION_SEED``
the seed. ``pytest -s`` prints the counts of views compared and bodies validated.
"""

from __future__ import annotations

import io
import os
import random
import time
import uuid
from collections import Counter
from decimal import Decimal as D

import pytest

from fixgw.errors import OrderError
from fixgw.adapter.gateway import Gateway
from fixgw.models.fix import ExecType, ExecutionReport, MarketSettlementReport
from fixgw.recorder.service import Recorder
from fixgw.recorder.store import open_store
from fixgw.sim.ledger import Ledger as SimLedger
from harness import gateway_config, make_account
from session_views import Counts, cli_views, event_views, fcm_fill_views, margin_views

SIZE = int(os.environ.get("FIXGW_SESSION_SIZE", "300"))
SEED = int(os.environ.get("FIXGW_SESSION_SEED", "20261121"))
SUBS = [str(uuid.UUID(int=random.Random(SEED + i).getrandbits(128), version=4)) for i in range(3)]
# markets: two events; each settles one way in the course of the session, the last stays open
SETTLE = [("KXSESS-26NOV21-T40", "yes", None), ("KXSESS-26NOV21-T50", "no", None),
          ("KXRAIN-26NOV21-B2", "scalar", "0.37")]
OPEN = ["KXRAIN-26NOV21-B4", "KXWIND-26NOV21-T10"]  # stay open; the second is the sub-penny market
SUBPENNY = OPEN[1]
MARGIN = ["BTC-PERP", "ETH-PERP"]


def wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Trader:
    """One gateway of one account: its sessions, the events it saw and its live orders."""

    def __init__(self, who: str, gw: Gateway, event_session: str, margin_session: str | None):
        self.who, self.gw, self.ev, self.mg = who, gw, event_session, margin_session
        self.events: list = []
        gw.on_event(self.events.append)
        self.live: dict[tuple, dict[str, str]] = {}  # (product, subtrader) -> order_id -> current ClOrdID

    def reports(self) -> list[ExecutionReport]:
        self.gw.dispatcher.flush()
        return [e.message for e in list(self.events) if isinstance(e.message, ExecutionReport)]


@pytest.fixture
def session(tmp_path, sim):
    keys = {}
    for who in ("alice", "bob", "fcm"):
        subs = SUBS if who == "fcm" else None
        for role in ("gw", "rt", "dc"):
            keys[who, "event", role] = make_account(tmp_path, sim.keys, "event", account=who, subtraders=subs)
        if who != "fcm":
            for role in ("gw", "nr", "dc"):
                keys[who, "margin", role] = make_account(tmp_path, sim.keys, "margin", account=who)
    sim.start()
    stores, recorders, traders, said = {}, [], {}, {}
    try:
        for who in ("alice", "bob", "fcm"):
            url = f"sqlite:///{tmp_path / f'{who}.db'}"
            sessions = [dict(name=f"{who}-rec-rt", product="event", type="RT", listener=True,
                             receive_settlement_reports=True, use_dollars=True, account=keys[who, "event", "rt"]),
                        dict(name=f"{who}-rec-dc", product="event", type="DC", use_dollars=True,
                             account=keys[who, "event", "dc"])]
            if who != "fcm":
                sessions += [dict(name=f"{who}-rec-mnr", product="margin", type="NR", listener=True,
                                  account=keys[who, "margin", "nr"]),
                             dict(name=f"{who}-rec-mdc", product="margin", type="DC",
                                  account=keys[who, "margin", "dc"])]
            party = {} if who == "fcm" else {"party_id": who}
            cfg = gateway_config(tmp_path / f"rec-{who}", sim, sessions,
                                 recorder={"store": url, "account": who, "flush_ms": 10}, **party)
            stores[who] = open_store(url)
            said[who] = io.StringIO()
            recorders.append(Recorder(cfg, stores[who], account=who, flush_s=0.01, out=said[who]).start())
        for who in ("alice", "bob", "fcm"):
            sessions = [dict(name=f"{who}-ev", product="event", type="RT", receive_settlement_reports=True,
                             account=keys[who, "event", "gw"], use_dollars=(who != "alice"))]
            if who != "fcm":
                sessions.append(dict(name=f"{who}-mg", product="margin", type="NR", account=keys[who, "margin", "gw"]))
            party = {} if who == "fcm" else {"party_id": who}
            gw = Gateway(gateway_config(tmp_path / who, sim, sessions, tier="prime",
                                        user_id=SimLedger.user_id(who), **party))
            traders[who] = Trader(who, gw, f"{who}-ev", f"{who}-mg" if who != "fcm" else None)
            gw.start()
        for g in [t.gw for t in traders.values()] + [r.gateway for r in recorders]:
            g.wait_logged_on(timeout=30)
        for who, out in said.items():
            wait_for(lambda: out.getvalue().count("recording from the live stream") >= (1 if who == "fcm" else 2),
                     f"{who}'s recorder to go live")
        yield traders, stores
    finally:
        for t in traders.values():
            t.gw.stop()
        for r in recorders:
            r.stop()
        for s in stores.values():
            s.close()


# ---------------------------------------------------------------- driving
def answer(handle):
    msg = handle.wait(15)
    assert msg is not None, "no answer within 15 s"
    return msg


def track(trader: Trader, product: str, sub: str | None, msg) -> None:
    """Keep the trader's live orders (order_id -> current ClOrdID) from an answer."""
    if not isinstance(msg, ExecutionReport) or msg.exec_type is ExecType.REJECTED:
        return
    live = trader.live.setdefault((product, sub), {})
    if msg.leaves_qty and msg.leaves_qty > 0:
        live[msg.order_id] = msg.cl_ord_id
    else:
        live.pop(msg.order_id, None)


def place(trader, product, sub, symbol, side, price, qty, **kw):
    session = trader.ev if product == "event" else trader.mg
    if sub is not None:
        kw["subtrader_id"] = sub
    msg = answer(trader.gw.new_order(session, symbol, side, price, qty, **kw))
    track(trader, product, sub, msg)
    return msg


def event_price(rng, market: str) -> str:
    """Whole cents, but sub-penny prices too in the sub-penny market (which alice's cents session
    cannot trade: a report of a sub-penny print has no cents form)."""
    cents = rng.randint(35, 65)
    return f"{D(cents) / 100:.2f}" if market != SUBPENNY or rng.random() < 0.5 else \
        f"{D(cents) / 100 + D(rng.choice((25, 50, 75))) / 10000:.4f}"


def margin_price(rng) -> str:
    return f"{D(100) + D(rng.randint(-8, 8)) / 4:.4f}"


def random_step(rng, traders, markets) -> str:
    """One random request; returns what it was (for the tally)."""
    who = rng.choice(["alice", "bob", "fcm", "fcm"])
    t = traders[who]
    product = "margin" if who != "fcm" and rng.random() < 0.35 else "event"
    sub = rng.choice(SUBS) if who == "fcm" else None
    live = t.live.setdefault((product, sub), {})
    latest = {r.order_id: r for r in t.reports() if not r.is_pending}
    for order_id in [o for o in live if o in latest and not latest[o].leaves_qty]:
        live.pop(order_id)  # filled (as a maker, say) or expired since
    roll = rng.random()
    session = t.ev if product == "event" else t.mg
    if live and roll < 0.30:
        order_id = rng.choice(list(live))  # in the order placed (OrderIDs are random)
        try:
            if roll < 0.15:
                track(t, product, sub, answer(t.gw.cancel(session, live[order_id])))
                return "cancel"
            filled = next((r.cum_qty for r in reversed(t.reports()) if r.order_id == order_id), D(0))
            symbol = next(r.symbol for r in t.reports() if r.order_id == order_id)
            price = event_price(rng, symbol) if product == "event" else margin_price(rng)
            msg = answer(t.gw.replace(session, live[order_id], quantity=int(filled) + rng.randint(1, 6),
                                      price=price))
            track(t, product, sub, msg)
            return "replace"
        except OrderError:  # it filled (as a maker) or expired since we looked: the gateway refuses locally
            live.pop(order_id)
            return "refused locally"
    if product == "margin":
        place(t, "margin", None, rng.choice(MARGIN), rng.choice(("bid", "ask")), margin_price(rng),
              rng.randint(1, 6), time_in_force="ioc" if rng.random() < 0.2 else None)
        return "margin order"
    market = rng.choice([m for m in markets if m != SUBPENNY or who != "alice"])
    place(t, "event", sub, market, rng.choice(("buy", "sell", "yes", "no")), event_price(rng, market),
          rng.randint(1, 10), time_in_force="ioc" if rng.random() < 0.2 else None)
    return "event order"


def scripted_opening(traders) -> None:
    """Flips the random part may miss: YES->NO in one fill, margin long->short in one fill,
    short->long over several fills, and a partial fill."""
    alice, bob, fcm = traders["alice"], traders["bob"], traders["fcm"]
    A, B, _ = SUBS
    m1, m2 = SETTLE[0][0], SETTLE[1][0]
    place(bob, "event", None, m1, "sell", "0.55", 10)
    place(alice, "event", None, m1, "buy", "0.55", 3)  # alice +3 YES; bob's order partly filled
    place(bob, "event", None, m1, "buy", "0.50", 8)
    place(alice, "event", None, m1, "no", "0.50", 7)  # alice 3 YES -> 4 NO in one fill
    place(fcm, "event", A, m2, "buy", "0.45", 5)
    place(fcm, "event", B, m2, "sell", "0.45", 2)  # A +2 YES from B (two sub-traders trade)
    place(bob, "event", None, m2, "buy", "0.45", 6)
    place(fcm, "event", A, m2, "no", "0.44", 6)  # A sells YES into bob's 0.45 bid: a partial fill for bob
    mg = MARGIN[0]
    place(bob, "margin", None, mg, "ask", "100.0000", 2)
    place(alice, "margin", None, mg, "bid", "100.0000", 2)  # alice +2
    place(bob, "margin", None, mg, "bid", "100.5000", 5)
    place(alice, "margin", None, mg, "ask", "100.5000", 5)  # +2 -> -3 in one fill
    place(bob, "margin", None, mg, "ask", "100.2500", 3)
    place(bob, "margin", None, mg, "ask", "100.5000", 3)
    place(alice, "margin", None, mg, "bid", "100.5000", 5)  # -3 -> 0 -> +2 over two fills
    bid = place(bob, "margin", None, MARGIN[1], "bid", "95.0000", 1)
    track(bob, "margin", None, answer(bob.gw.replace(bob.mg, bid.cl_ord_id, quantity=2, price="95.5000")))


# ---------------------------------------------------------------- the test
def test_randomized_session_every_view_equals_the_exchange_ledger(session, sim):
    traders, stores = session
    rng = random.Random(SEED)
    markets = [m for m, _, _ in SETTLE] + OPEN
    tally = Counter()
    scripted_opening(traders)
    quiesce(traders, sim)
    settle_at = {SIZE * (i + 1) // (len(SETTLE) + 1): s for i, s in enumerate(SETTLE)}
    for step in range(SIZE):
        tally[random_step(rng, traders, markets)] += 1
        quiesce(traders, sim)  # the next choice sees every report: one seed, one session
        if step in settle_at:
            symbol, result, value = settle_at[step]
            sim.cmd(cmd="settle", product="event", symbol=symbol, result=result, value=value)
            markets.remove(symbol)
            tally["settlement"] += 1

    settled_accounts = settle_wait(traders, stores, sim)
    counts = Counts()
    for who, t in traders.items():
        owners = [None] + SUBS if who == "fcm" else [None]  # the FCM member's own books too (empty)
        for sub in owners:
            event_views(counts, t, stores[who], sim, sub)
        if who != "fcm":
            margin_views(counts, t, stores[who], sim)
    fcm_fill_views(counts, traders["fcm"], stores["fcm"], sim, SUBS)
    for who in traders:
        cli_views(counts, who, stores[who], sim, SUBS)
    coverage(traders, sim)
    total = sum(counts.views.values())
    print(f"\nsession seed {SEED}, size {SIZE}: actions {dict(tally)}; settlements reached {settled_accounts}; "
          f"views compared {total} ({counts.rows} rows) {dict(counts.views)}; seed bodies validated {counts.bodies}")
    assert total and counts.bodies


def quiesce(traders, sim) -> None:
    """Until every gateway has every report the exchange has sent its account."""
    for who, t in traders.items():
        for product in ("event",) + (("margin",) if who != "fcm" else ()):
            final = set(sim.cmd(cmd="dropcopy", account=who, product=product)["exec_ids"])
            wait_for(lambda: final <= {r.exec_id for r in t.reports()}, f"{who}'s gateway ({product})")


def settle_wait(traders, stores, sim) -> int:
    """Until every gateway and recorder has every report and settlement the exchange sent."""
    n = 0
    for who, t in traders.items():
        for product in ("event",) + (("margin",) if who != "fcm" else ()):
            final = set(sim.cmd(cmd="dropcopy", account=who, product=product)["exec_ids"])
            wait_for(lambda: stores[who].exec_ids(who, product) == final, f"{who}'s recorder ({product})")
            wait_for(lambda: final <= {r.exec_id for r in t.reports()}, f"{who}'s gateway ({product})")
        owners = SUBS if who == "fcm" else [None]
        expected = sum(len(sim.cmd(cmd="ledger", product="event", account=who, subtrader=s)["settlements"])
                       for s in owners)
        ums = lambda: {e.message.report_id for e in list(t.events) if isinstance(e.message, MarketSettlementReport)}
        wait_for(lambda: sum(len(t.gw.settlements(subtrader_id=s)) for s in owners) == expected,
                 f"{who}'s gateway settlements")
        wait_for(lambda: len(stores[who].settlements(who, "event")) == len(ums()), f"{who}'s recorder settlements")
        n += expected
    return n


def coverage(traders, sim) -> None:
    """The session holds what the issue asks for, from the exchange's own fills and orders."""
    seen = Counter()
    for who in ("alice", "bob", "fcm"):
        for sub in (SUBS if who == "fcm" else [None]):
            led = sim.cmd(cmd="ledger", product="event", account=who, subtrader=sub)
            pos: dict[str, D] = {}
            for f in led["fills"]:
                q = D(f["count_fp"]) * (1 if f["outcome_side"] == "yes" else -1)
                before, pos[f["ticker"]] = pos.get(f["ticker"], D(0)), pos.get(f["ticker"], D(0)) + q
                seen["yes<->no flip"] += before * pos[f["ticker"]] < 0
            seen["partial fill"] += sum(D(o["fill_count_fp"]) > 0 and (D(o["remaining_count_fp"]) > 0 or
                                        D(o["fill_count_fp"]) < D(o["initial_count_fp"])) for o in led["orders"])
            seen["cancel"] += sum(o["status"] == "canceled" for o in led["orders"])
        if who != "fcm":
            led = sim.cmd(cmd="ledger", product="margin", account=who)
            pos, last = {}, {}
            for f in led["fills"]:
                q = D(f["count"]) * (1 if f["side"] == "bid" else -1)
                before, pos[f["ticker"]] = pos.get(f["ticker"], D(0)), pos.get(f["ticker"], D(0)) + q
                after = pos[f["ticker"]]
                seen["margin flip in one fill"] += before * after < 0
                seen["margin flip over several fills"] += before == 0 and after * last.get(f["ticker"], 0) < 0
                if after:
                    last[f["ticker"]] = after
    for who, t in traders.items():
        for r in t.reports():
            if r.exec_type is ExecType.REPLACED:
                seen["margin replaced" if r.symbol in MARGIN else "replaced"] += 1
    owners = [("alice", None), ("bob", None)] + [("fcm", s) for s in SUBS]
    seen |= Counter(s["market_result"] for who, sub in owners
                    for s in sim.cmd(cmd="ledger", product="event", account=who, subtrader=sub)["settlements"])
    for what in ("replaced", "yes", "no", "scalar", "yes<->no flip", "partial fill", "cancel", "margin flip in one fill",
                 "margin flip over several fills", "margin replaced"):
        assert seen[what], f"the session has no {what}: {dict(seen)}"
    print(f"\ncoverage: {dict(seen)}")
