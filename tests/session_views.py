"""The views of tests/test_session.py: each REST view from a gateway, a recorder (``Query`` and
its command line) and the simulator's ledger, compared field by field and counted (test helper).

A trader here is anything with ``who`` (the account), ``gw`` (its order-entry Gateway) and
``events`` (every Event the gateway dispatched).
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal as D

import jsonschema

from fixgw.models.fix import MarketSettlementReport
from fixgw.models.rest import MarginFill, Settlement
from fixgw.recorder.views import Query
from fixgw.settlements import sending_time
from seed_schemas import fcm_positions_schema, positions_validator

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


def event_views(c: Counts, t, store, sim, sub: str | None) -> None:
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


def seed_bodies(c: Counts, t, store, sub, status, ledger, default: dict) -> None:
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


def margin_views(c: Counts, t, store, sim) -> None:
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


def fcm_fill_views(c: Counts, t, store, sim, subs: list[str]) -> None:
    """GET /fcm/fills: one row per trade, maker and taker columns for the sub-traders' sides."""
    rows: dict[str, dict] = {}
    for sub in subs:
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


def cli_views(c: Counts, who: str, store, sim, subs: list[str]) -> None:
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
    scopes = [("event", None)] + ([("margin", None)] if who != "fcm" else [("event", s) for s in subs])
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
