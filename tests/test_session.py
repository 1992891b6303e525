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

Size: ``FIXGW_SESSION_SIZE`` random actions (default 100), ``FIXGW_SESSION_SEED``
the seed. ``pytest -s`` prints the counts of views compared and bodies validated.
"""

from __future__ import annotations

import io
import json
import os
import random
import time
import uuid
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal as D

import jsonschema
import pytest

from fixgw.errors import OrderError
from fixgw.gateway import Gateway
from fixgw.models.fix import ExecType, ExecutionReport, MarketSettlementReport
from fixgw.models.rest import MarginFill, Settlement
from fixgw.recorder.service import Recorder
from fixgw.recorder.store import open_store
from fixgw.recorder.views import Query
from fixgw.settlements import sending_time
from fixgw.sim.ledger import Ledger as SimLedger
from harness import gateway_config, make_account
from seed_schemas import fcm_positions_schema, positions_validator

SIZE = int(os.environ.get("FIXGW_SESSION_SIZE", "100"))
SEED = int(os.environ.get("FIXGW_SESSION_SEED", "20261121"))
SUBS = [str(uuid.UUID(int=random.Random(SEED + i).getrandbits(128), version=4)) for i in range(3)]
# markets: two events; each settles one way in the course of the session, the last stays open
SETTLE = [("KXSESS-26NOV21-T40", "yes", None), ("KXSESS-26NOV21-T50", "no", None),
          ("KXRAIN-26NOV21-B2", "scalar", "0.37")]
OPEN = ["KXRAIN-26NOV21-B4", "KXWIND-26NOV21-T10"]  # stay open; the second is the sub-penny market
SUBPENNY = OPEN[1]
MARGIN = ["BTC-PERP", "ETH-PERP"]
STATUSES = ("unsettled", "settled", "all")


def j(model) -> dict:
    return json.loads(model.model_dump_json())


def js(models) -> list[dict]:
    return [j(m) for m in models]


class Counts:
    def __init__(self):
        self.views = Counter()
        self.rows = 0  # rows (fills, orders, positions...) compared field by field
        self.bodies = 0

    def same(self, ours: list[dict], theirs: list[dict], what: str) -> None:
        """Field-by-field equality, naming the first field that differs."""
        assert len(ours) == len(theirs), f"{what}: {len(ours)} here, {len(theirs)} at the exchange"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            diff = {k: (a.get(k), b.get(k)) for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)}
            assert not diff, f"{what}[{i}] differs (here, exchange): {diff}"
        self.views[what.split(" ")[0]] += 1
        self.rows += len(ours)


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
    fcm_fill_views(counts, traders["fcm"], stores["fcm"], sim)
    for who in traders:
        cli_views(counts, who, stores[who], sim)
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


def event_views(c: Counts, t: Trader, store, sim, sub: str | None) -> None:
    who, gw = t.who, t.gw
    name = f"{who}/{sub[:8]}" if sub else who
    ledger = sim.cmd(cmd="ledger", product="event", account=who, subtrader=sub)
    q = dict(subtrader=sub, party_id=None if sub else who)
    rec = Query(store, who, "event", user_id=ledger["user_id"], **q)
    # fills: the gateway's Fill events of this owner, the recorder's, the exchange's
    t.gw.dispatcher.flush()
    ours = [j(e.fill) for e in list(t.events) if e.fill is not None and not isinstance(e.fill, MarginFill)
            and e.message.subtrader == sub]
    c.same(ours, ledger["fills"], f"fills {name} gateway")
    c.same(js(rec.fills()), ledger["fills"], f"fills {name} recorder")
    # orders
    orders = gw.fcm_orders(sub) if sub else gw.orders()
    c.same(js(orders), ledger["orders"], f"orders {name} gateway")
    c.same(js(rec.orders()), ledger["orders"], f"orders {name} recorder")
    # positions, market and event rows (the REST bodies), in the default profile and the seed profile
    theirs = ledger["positions"]
    for status in STATUSES:
        g = gw.positions_json(subtrader_id=sub, profile="default", settlement_status=status)
        r = Query(store, who, "event", settlement_status=status, **q).positions_json("default")
        if sub:
            models = gw.fcm_positions(sub, settlement_status=status)
            assert {k: js(v) for k, v in models.items()} == {k: g[k] for k in models}, (name, status)
        for part in ("market_positions", "event_positions"):
            c.same(r[part], g[part], f"positions {name} {status} {part} recorder-vs-gateway")
            if status == "unsettled":
                c.same(g[part], theirs[part], f"positions {name} {part} gateway")
                c.same(r[part], theirs[part], f"positions {name} {part} recorder")
        if status == "settled":
            assert all(p["position_fp"] == "0.00" for p in g["market_positions"]), name
        seed_bodies(c, t, store, sub, status, ledger, g)
    # settlements: every field the exchange's; settled_time is the SendingTime of the copy of the
    # report each side received (the gateway's session, the recorder's listener)
    mine = {e.message.symbol: sending_time(e.raw) for e in list(t.events)
            if isinstance(e.message, MarketSettlementReport)}
    stored = {symbol_of(s.raw): sending_time(s.raw) for s in store.settlements(who, "event")}
    for what, rows, times in (("gateway", gw.settlements(subtrader_id=sub), mine),
                              ("recorder", rec.settlements(), stored)):
        c.same(js(rows), js(Settlement.model_validate({**s, "settled_time": times[s["ticker"]]})
                            for s in ledger["settlements"]), f"settlements {name} {what}")
    # balance
    c.same([j(gw.balance(subtrader_id=sub))], [ledger["balance"]], f"balance {name} gateway")
    c.same([j(rec.balance()[0])], [ledger["balance"]], f"balance {name} recorder")


def symbol_of(raw: str) -> str:
    return raw.split("\x0155=", 1)[1].split("\x01", 1)[0]


def cents(text: str) -> int:
    return int((D(text) * 100).to_integral_value(ROUND_HALF_EVEN))


def seed_bodies(c: Counts, t: Trader, store, sub, status, ledger, default: dict) -> None:
    """The seed profile: gateway == recorder; without the seed's own fields it is the default body;
    the integer twins follow from the dollars; it validates against seed 001 / 002."""
    who = t.who
    g = t.gw.positions_json(subtrader_id=sub, profile="seed", settlement_status=status)
    r = Query(store, who, "event", subtrader=sub, party_id=None if sub else who,
              settlement_status=status).positions_json("seed")
    name = f"{who}/{sub[:8]}" if sub else who
    c.same([r], [g], f"seed-positions {name} {status} recorder-vs-gateway")
    resting = Counter()
    for o in ledger["orders"]:
        if o["status"] == "resting":
            resting[o["ticker"]] += D(o["remaining_count_fp"])
    for part in ("market_positions", "event_positions"):
        for row, base in zip(g[part], default[part], strict=True):
            assert {k: v for k, v in row.items() if k in base} == base, (name, status, part)
            for k in base:
                if k.endswith("_dollars") and k[:-8] in row:
                    assert row[k[:-8]] == cents(base[k]), (name, k)
            if part == "market_positions":
                assert row["position"] == int(D(base["position_fp"])) and \
                    row["resting_orders_count"] == int(resting[base["ticker"]]), (name, status, row)
            else:
                assert row["total_cost_shares"] == int(D(base["total_cost_shares_fp"])), (name, row)
                events = sum((n for tk, n in resting.items() if tk.rsplit("-", 1)[0] == base["event_ticker"]),
                             D(0))
                key = "resting_order_count" if sub else "resting_orders_count"
                assert row[key] == int(events), (name, status, row)
    for body in (g, r):  # the gateway's and the recorder's
        if sub:
            jsonschema.validate(body, fcm_positions_schema())
            positions_validator().validate({**body, "event_positions": [
                {**e, "resting_orders_count": e["resting_order_count"]} for e in body["event_positions"]]})
        else:
            positions_validator().validate(body)
        c.bodies += 1


def margin_views(c: Counts, t: Trader, store, sim) -> None:
    who = t.who
    ledger = sim.cmd(cmd="ledger", product="margin", account=who)
    rec = Query(store, who, "margin", user_id=ledger["user_id"])
    t.gw.dispatcher.flush()
    ours = [j(e.fill) for e in list(t.events) if isinstance(e.fill, MarginFill)]
    c.same(ours, ledger["fills"], f"margin-fills {who} gateway")
    c.same(js(rec.fills()), ledger["fills"], f"margin-fills {who} recorder")
    c.same(js(t.gw.margin_orders()), ledger["orders"], f"margin-orders {who} gateway")
    c.same(js(rec.orders()), ledger["orders"], f"margin-orders {who} recorder")
    c.same(js(t.gw.margin_positions()), ledger["positions"]["positions"], f"margin-positions {who} gateway")
    c.same(js(rec.positions()["positions"]), ledger["positions"]["positions"], f"margin-positions {who} recorder")
    c.same([j(t.gw.balance(product="margin"))], [ledger["balance"]], f"margin-balance {who} gateway")
    c.same([j(rec.balance()[0])], [ledger["balance"]], f"margin-balance {who} recorder")


def fcm_fill_views(c: Counts, t: Trader, store, sim) -> None:
    """GET /fcm/fills: one row per trade, maker and taker columns for the sub-traders' sides."""
    rows: dict[str, dict] = {}
    for sub in SUBS:
        for f in sim.cmd(cmd="ledger", product="event", account="fcm", subtrader=sub)["fills"]:
            side = "taker" if f["is_taker"] else "maker"
            taker_side = f["outcome_side"] if f["is_taker"] else ("no" if f["outcome_side"] == "yes" else "yes")
            row = rows.setdefault(f["fill_id"], {
                "fill_id": f["fill_id"], "exchange_index": f["exchange_index"], "ticker": f["ticker"],
                "taker_outcome_side": taker_side, "count_fp": f["count_fp"],
                "yes_price_dollars": f["yes_price_dollars"], "created_time": f["created_time"]})
            row |= {f"{side}_order_id": f["order_id"], f"{side}_subtrader_id": sub, f"{side}_fee_cost": f["fee_cost"]}
    theirs = [rows[k] for k in sorted(rows)]
    by_id = lambda xs: sorted(xs, key=lambda r: r["fill_id"])
    c.same(by_id(js(t.gw.fcm_fills())), theirs, "fcm-fills gateway")
    c.same(by_id(js(Query(store, "fcm").fcm_fills())), theirs, "fcm-fills recorder")


def cli_views(c: Counts, who: str, store, sim) -> None:
    """The recorder through its command line (``fixgw fills/orders/positions/settlements/balance``):
    what the ledger says, and the positions bodies of ``Query`` in both profiles."""
    from click.testing import CliRunner

    from fixgw.cli import cli

    url = f"sqlite:///{store.path}"

    def run(*args) -> str:
        out = CliRunner().invoke(cli, [*args, "--store", url, "--account", who])
        assert out.exit_code == 0, (args, out.stderr, out.exception)
        return out.stdout

    lines = lambda text: [json.loads(x) for x in text.splitlines() if x.strip()]  # noqa: E731
    scopes = [("event", None)] + ([("margin", None)] if who != "fcm" else [("event", s) for s in SUBS])
    for product, sub in scopes:
        ledger = sim.cmd(cmd="ledger", product=product, account=who, subtrader=sub)
        scope = ["--product", product, "--user-id", ledger["user_id"]] + (["--subtrader", sub] if sub else [])
        name = f"{who}/{sub[:8]}" if sub else f"{who} {product}"
        c.same(lines(run("fills", *scope)), ledger["fills"], f"cli-fills {name}")
        c.same(lines(run("orders", *scope)), ledger["orders"], f"cli-orders {name}")
        c.same([json.loads(run("balance", *scope, "--start", "0"))], [ledger["balance"]], f"cli-balance {name}")
        if product == "margin":
            body = json.loads(run("positions", *scope))
            c.same(body["positions"], ledger["positions"]["positions"], f"cli-positions {name}")
            continue
        rows = lines(run("settlements", *scope))
        c.same([{k: v for k, v in r.items() if k != "settled_time"} for r in rows], ledger["settlements"],
               f"cli-settlements {name} (but settled_time)")
        for profile in ("default", "seed"):
            body = json.loads(run("positions", *scope, "--profile", profile, "--settlement-status", "all"))
            q = Query(store, who, "event", subtrader=sub, party_id=None, settlement_status="all")
            c.same([body], [q.positions_json(profile)], f"cli-positions {name} {profile}")
            if profile == "default":
                unsettled = json.loads(run("positions", *scope, "--profile", profile))
                for part in ("market_positions", "event_positions"):
                    c.same(unsettled[part], ledger["positions"][part], f"cli-positions {name} {part}")


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
